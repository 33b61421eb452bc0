// The oracle's side of paid retrieval (orders.ts): a provider shows a consumer's signed order
// before it serves the bytes (POST /v1/storage/orders); the oracle checks it, reserves its credits
// against the allowance on chain (CreditEscrow) and, once the epoch the order came in has ended,
// the quorum settles the allowance per device. The allowance's final settlement, after its
// deadline or the consumer's cancel, pays what is left owed and refunds the rest.
//
// Reserving before serving is what lets a provider trust an order: the allowance's held credits
// always cover every order the oracle accepted and has not settled (checked under a row lock, so
// two providers' orders for the last credits cannot both pass).
import { CreditEscrowAbi, sendSettlement } from '@groundwork/contracts';
import { type ServiceContext, ServiceError, type ServiceRoute } from '@groundwork/protocol';
import type { Address, Hex, LocalAccount } from 'viem';
import { orderDomain, orderSigner, REPAIR_ALLOWANCE, retrievalCredits, type SignedOrder, signedOrderSchema } from '../orders.ts';
import type { StorageParameters } from './parameters.ts';

export const RETRIEVAL_SCHEMA = [
  `create table if not exists storage_allowances (allowance text primary key, consumer text not null, deadline bigint not null,
     reserved text not null, state text not null)`,
  `create table if not exists storage_orders (allowance text not null, serial text not null, device text not null, deal_id text not null,
     shard int not null, length bigint not null, credits text not null, epoch int not null, received_at bigint not null,
     attempt_seq int, settled_seq int, primary key (allowance, serial))`,
];

/** CreditEscrow's Status enum. */
const JobStatus = { None: 0, Open: 1, Cancelled: 2, Settled: 3, Reclaimed: 4 } as const;
type ChainJob = {
  consumer: Address;
  deadline: bigint;
  status: number;
  network: Hex;
  escrowed: bigint;
  burned: bigint;
  refunded: bigint;
  seq: bigint;
};

/** What the storage service tells the desk about its deals. */
export type ShardHolder = (deal: string, shard: number) => { device: string | null; shardBytes: number } | null;

export type RetrievalDesk = {
  routes: ServiceRoute[];
  /** One settlement pass over the allowances (the service's deal loop calls it). */
  step(now: number): Promise<void>;
  status(): { orders: number; credits: string; settlements: number; refused: number };
};

const SETTLE_EVERY_MS = 2_000;

export function retrievalDesk(
  ctx: ServiceContext<StorageParameters>,
  sender: LocalAccount | undefined,
  holder: ShardHolder,
): RetrievalDesk {
  const escrow = ctx.chain.addresses.escrow as Address | undefined;
  const domain = escrow ? orderDomain(ctx.chain.chainId, escrow) : null;
  const oracleKeys = new Set(ctx.chain.signers.map((s) => s.address.toLowerCase()));
  const settleAt = new Map<string, number>();
  let nextStep = 0;
  const stats = { orders: 0, credits: 0n, settlements: 0, refused: 0 };

  async function readJob(allowance: Hex): Promise<ChainJob> {
    return (await ctx.chain.client.readContract({
      address: escrow!,
      abi: CreditEscrowAbi,
      functionName: 'job',
      args: [allowance],
    })) as ChainJob;
  }

  function refuse(status: number, reason: string, detail: string): never {
    stats.refused++;
    throw new ServiceError(status, reason, detail);
  }

  async function accept(o: SignedOrder): Promise<{ status: number; json: unknown }> {
    if (!domain) refuse(503, 'no-escrow-contract', 'this deployment has no CreditEscrow contract; retrieval cannot be paid');
    const held = holder(o.deal, o.shard);
    if (!held) refuse(404, 'unknown-deal', `no shard ${o.shard} of deal ${o.deal} on this oracle`);
    if (held.device !== o.device) refuse(403, 'not-your-shard', `shard ${o.shard} of ${o.deal} is held by ${held.device}, not ${o.device}`);
    if (o.offset + o.length > held.shardBytes)
      refuse(400, 'bad-range', `bytes ${o.offset}+${o.length} run past the shard's ${held.shardBytes} bytes`);
    // A signature that is not a point on the curve (r = 0, a bad v) cannot be recovered at all.
    const signer = (
      await orderSigner(domain, o).catch(() => refuse(400, 'bad-signature', 'the order’s signature cannot be recovered'))
    ).toLowerCase();
    if (o.allowance === REPAIR_ALLOWANCE) {
      // The network's own reads (repair) carry no allowance and pay nothing; only its keys sign them.
      if (!oracleKeys.has(signer))
        refuse(403, 'not-an-oracle', `an order without an allowance must be signed by the oracle, not ${signer}`);
      return { status: 200, json: { accepted: true, credits: '0', repair: true } };
    }
    const price = retrievalCredits(o.length, ctx.parameters.retrievalCreditsPerGB);
    if (BigInt(o.credits) < price)
      refuse(
        402,
        'underpriced',
        `${o.length} bytes cost ${price} credits at ${ctx.parameters.retrievalCreditsPerGB} per GB; the order offers ${o.credits}`,
      );
    const job = await readJob(o.allowance as Hex);
    if (job.status === JobStatus.None) refuse(402, 'no-allowance', `allowance ${o.allowance} is not open on chain`);
    if (job.network !== ctx.networkId) refuse(402, 'wrong-network', `allowance ${o.allowance} is not a storage allowance`);
    if (job.status !== JobStatus.Open) refuse(402, 'allowance-closed', `allowance ${o.allowance} is cancelled or settled`);
    if (Number(job.deadline) * 1000 <= Date.now()) refuse(402, 'allowance-expired', `allowance ${o.allowance} passed its deadline`);
    if (signer !== job.consumer.toLowerCase())
      refuse(403, 'wrong-signer', `the order is signed by ${signer}; allowance ${o.allowance} belongs to ${job.consumer.toLowerCase()}`);
    // Every order it ever took (settled or not) within what it escrowed: then what is still held
    // (escrowed − burned) always covers the orders not yet settled.
    const payable = job.escrowed - job.refunded;
    const now = Date.now();
    const epoch = ctx.clock.epochAtMs(now);
    const taken = await ctx.db.transaction(async (tx) => {
      await tx.query(
        "insert into storage_allowances (allowance, consumer, deadline, reserved, state) values ($1,$2,$3,'0','open') on conflict do nothing",
        [o.allowance, job.consumer.toLowerCase(), Number(job.deadline)],
      );
      const [row] = await tx.query<{ reserved: string; state: string }>(
        'select reserved, state from storage_allowances where allowance = $1 for update',
        [o.allowance],
      );
      if (row!.state !== 'open') refuse(402, 'allowance-closed', `allowance ${o.allowance} has had its final settlement`);
      // The same signed order again (its signature covers the device, shard and bytes) is taken
      // once and paid once; shown again, it is acknowledged, so a provider whose first answer from
      // here was lost can still serve the bytes it will be paid for.
      const [dup] = await tx.query<{ epoch: number }>('select epoch from storage_orders where allowance = $1 and serial = $2', [
        o.allowance,
        o.serial,
      ]);
      if (dup) return { again: true, epoch: Number(dup.epoch) };
      const reserved = BigInt(row!.reserved) + BigInt(o.credits);
      if (reserved > payable)
        refuse(
          402,
          'allowance-spent',
          `allowance ${o.allowance} escrows ${payable} credits, ${row!.reserved} of them taken by earlier orders`,
        );
      await tx.query('update storage_allowances set reserved = $2 where allowance = $1', [o.allowance, reserved.toString()]);
      await tx.query(
        `insert into storage_orders (allowance, serial, device, deal_id, shard, length, credits, epoch, received_at)
         values ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        [o.allowance, o.serial, o.device, o.deal, o.shard, o.length, o.credits, epoch, now],
      );
      return { again: false, epoch };
    });
    if (taken.again) return { status: 200, json: { accepted: true, credits: o.credits, epoch: taken.epoch, again: true } };
    stats.orders++;
    stats.credits += BigInt(o.credits);
    return { status: 201, json: { accepted: true, credits: o.credits, epoch } };
  }

  async function settleAllowance(allowance: string, now: number): Promise<void> {
    if ((settleAt.get(allowance) ?? 0) > now) return;
    settleAt.set(allowance, now + SETTLE_EVERY_MS);
    const job = await readJob(allowance as Hex);
    const seq = Number(job.seq);
    await ctx.db.query(
      'update storage_orders set settled_seq = attempt_seq where allowance = $1 and attempt_seq <= $2 and settled_seq is null',
      [allowance, seq],
    );
    if (job.status === JobStatus.Settled || job.status === JobStatus.Reclaimed) {
      await ctx.db.query("update storage_allowances set state = 'closed' where allowance = $1", [allowance]);
      settleAt.delete(allowance);
      return;
    }
    const next = seq + 1;
    // A settlement `next` already sent whose receipt never came (a timeout, an RPC error) may
    // still land: it goes again exactly as it was, final only if it was. Adding orders to it would
    // have them marked settled by a transaction that never carried them.
    const resent = await ctx.db.query<{ device: string; credits: string }>(
      'select device, credits from storage_orders where allowance = $1 and attempt_seq = $2 and settled_seq is null',
      [allowance, next],
    );
    const [row] = await ctx.db.query<{ state: string }>('select state from storage_allowances where allowance = $1', [allowance]);
    // Final once no order can come: the consumer cancelled or the deadline passed. Then every
    // order owed is paid; before that only those of epochs that have ended.
    const isFinal = resent.length ? row?.state === 'final' : job.status === JobStatus.Cancelled || Number(job.deadline) * 1000 <= now;
    const closedBefore = isFinal ? 2 ** 31 - 1 : ctx.clock.epochAtMs(now);
    const taken = resent.length
      ? resent
      : await ctx.db.transaction(async (tx) => {
          await tx.query('select 1 from storage_allowances where allowance = $1 for update', [allowance]);
          if (isFinal) await tx.query("update storage_allowances set state = 'final' where allowance = $1", [allowance]);
          return tx.query<{ device: string; credits: string }>(
            'update storage_orders set attempt_seq = $2 where allowance = $1 and settled_seq is null and epoch < $3 returning device, credits',
            [allowance, next, closedBefore],
          );
        });
    const byDevice = new Map<string, bigint>();
    for (const r of taken) byDevice.set(r.device, (byDevice.get(r.device) ?? 0n) + BigInt(r.credits));
    const due = [...byDevice].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (!due.length && !isFinal) return;
    const message = {
      jobId: allowance as Hex,
      consumer: job.consumer,
      network: ctx.networkId,
      seq: BigInt(next),
      deviceIds: due.map(([d]) => BigInt(d)),
      amounts: due.map(([, a]) => a),
      isFinal,
    };
    await sendSettlement(ctx.chain, sender!, { escrow: escrow!, message });
    await ctx.db.query('update storage_orders set settled_seq = $2 where allowance = $1 and attempt_seq = $2', [allowance, next]);
    stats.settlements++;
    if (isFinal) {
      await ctx.db.query("update storage_allowances set state = 'closed' where allowance = $1", [allowance]);
      settleAt.delete(allowance);
      ctx.log(`allowance ${allowance.slice(0, 10)}: final settlement ${next} (${taken.length} orders), the rest refunded`);
    }
  }

  return {
    routes: [
      {
        method: 'POST',
        path: 'orders',
        maxBodyBytes: 4096,
        handle: async (req) => {
          let raw: unknown;
          try {
            raw = JSON.parse(Buffer.from(req.body).toString('utf8'));
          } catch (err) {
            refuse(400, 'malformed', `body is not JSON: ${(err as Error).message}`);
          }
          const parsed = signedOrderSchema.safeParse(raw);
          if (!parsed.success) {
            const i = parsed.error.issues[0]!;
            refuse(400, 'malformed', `${i.path.join('.') || '(root)'}: ${i.message}`);
          }
          return accept(parsed.data);
        },
      },
      {
        // A consumer tells the oracle of an allowance it opened, so that its final settlement
        // refunds it even if no order against it ever comes.
        method: 'POST',
        path: 'allowances/(0x[0-9a-f]{64})',
        handle: async (req) => {
          if (!escrow) refuse(503, 'no-escrow-contract', 'this deployment has no CreditEscrow contract');
          const allowance = req.params[0]! as Hex;
          const job = await readJob(allowance);
          if (job.status === JobStatus.None) refuse(404, 'no-allowance', `allowance ${allowance} is not open on chain`);
          if (job.network !== ctx.networkId) refuse(400, 'wrong-network', `allowance ${allowance} is not a storage allowance`);
          await ctx.db.query(
            "insert into storage_allowances (allowance, consumer, deadline, reserved, state) values ($1,$2,$3,'0','open') on conflict do nothing",
            [allowance, job.consumer.toLowerCase(), Number(job.deadline)],
          );
          return { status: 202, json: { allowance, known: true } };
        },
      },
      {
        method: 'GET',
        path: 'allowances/(0x[0-9a-f]{64})',
        handle: async (req) => {
          const allowance = req.params[0]!;
          const [row] = await ctx.db.query<{ consumer: string; reserved: string; state: string }>(
            'select consumer, reserved, state from storage_allowances where allowance = $1',
            [allowance],
          );
          if (!row) throw new ServiceError(404, 'unknown-allowance', `no order of allowance ${allowance} reached this oracle`);
          const [sums] = await ctx.db.query<{ orders: string; settled: string | null }>(
            `select count(*)::text as orders, sum(case when settled_seq is not null then credits::numeric else 0 end)::text as settled
             from storage_orders where allowance = $1`,
            [allowance],
          );
          return {
            json: {
              allowance,
              consumer: row.consumer,
              state: row.state,
              orders: Number(sums?.orders ?? 0),
              reserved: row.reserved,
              settled: sums?.settled ?? '0',
            },
          };
        },
      },
    ],
    async step(now) {
      if (!escrow || !sender || now < nextStep) return;
      // The list of open allowances is read once a settling interval, not every tick of the loop.
      nextStep = now + SETTLE_EVERY_MS;
      const open = await ctx.db.query<{ allowance: string }>("select allowance from storage_allowances where state <> 'closed'");
      for (const { allowance } of open) {
        try {
          await settleAllowance(allowance, now);
        } catch (err) {
          ctx.log(`allowance ${allowance.slice(0, 10)}: settling failed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    },
    status: () => ({ ...stats, credits: stats.credits.toString() }),
  };
}
