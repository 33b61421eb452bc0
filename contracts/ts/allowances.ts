// Allowances: credits a consumer escrowed on chain (CreditEscrow) for a network's service to spend
// on it piece by piece (storage: paid reads; coverage: packets). The service reserves each piece
// against the allowance before it is served, under a row lock, so the credits held always cover
// every piece taken and not yet settled; once the epoch a piece came in has ended, the quorum
// settles the allowance per device (the credits burn to the devices that served, which is usage
// in the epoch's artifact). The final settlement, after the deadline or the consumer's cancel,
// pays what is still owed and refunds the rest.
import { type ServiceContext, ServiceError, type ServiceRoute } from '@groundwork/protocol';
import type { Address, Hex, LocalAccount } from 'viem';
import { CreditEscrowAbi } from './generated/contracts.ts';
import { randomBytes } from 'node:crypto';
import { escrowJobId } from './market-signatures.ts';
import { networkId } from './networks.ts';
import { type ChainSession, sendContract, sendSettlement } from './session.ts';

/** CreditEscrow's Status enum. */
export const EscrowStatus = { None: 0, Open: 1, Cancelled: 2, Settled: 3, Reclaimed: 4 } as const;
export type EscrowJob = {
  consumer: Address;
  deadline: bigint;
  status: number;
  network: Hex;
  escrowed: bigint;
  burned: bigint;
  refunded: bigint;
  seq: bigint;
};

export type AllowanceLedgerOptions = {
  ctx: ServiceContext<unknown>;
  /** The quorum key that sends settlements (none: nothing is settled). */
  sender: LocalAccount | undefined;
  /** Tables `<prefix>_allowances` and `<prefix>_orders`. */
  prefix: string;
  /** The orders table's own columns (name and SQL type), beside the ledger's. */
  columns: readonly (readonly [string, string])[];
  /** What the network's allowances are called in refusals ("a storage allowance"). */
  label: string;
};

/** One piece of service to reserve credits for. */
export type Piece = {
  allowance: Hex;
  /** Unique within the allowance: the same serial again is the same piece (taken and paid once). */
  serial: string;
  /** Who asked for it; must be the allowance's consumer. */
  signer: string;
  device: string;
  credits: bigint;
  /** Values of `columns`, in their order. */
  values: readonly unknown[];
};

export type AllowanceLedger = {
  schema: string[];
  routes: ServiceRoute[];
  readJob(allowance: Hex): Promise<EscrowJob>;
  /** Records an allowance read from the chain, so that its final settlement refunds it even if nothing is taken from it. */
  remember(allowance: Hex, job: EscrowJob): Promise<void>;
  /** Reserves the piece's credits; `again` when this serial was taken before. Throws ServiceError (402, 403) when it cannot be. */
  reserve(piece: Piece): Promise<{ again: boolean; epoch: number }>;
  /** One settlement pass over the open allowances, at most once a settling interval. */
  step(now: number): Promise<void>;
  status(): { settlements: number; refused: number };
};

const SETTLE_EVERY_MS = 2_000;

/** Opens an allowance of `credits` on `kind`'s network for `seconds` (the consumer's side): a CreditEscrow job with a random id. */
export async function openAllowanceOnChain(
  c: ChainSession,
  kind: string,
  credits: bigint,
  seconds: number,
  nonce: bigint = BigInt(`0x${randomBytes(8).toString('hex')}`),
): Promise<{ id: Hex; deadline: number; txHash: Hex }> {
  const escrow = c.deployment.addresses.escrow;
  if (!escrow) throw new Error('this deployment has no CreditEscrow contract');
  const network = networkId(kind);
  const id = escrowJobId(c.account.address, network, nonce);
  const deadline = Math.floor(Date.now() / 1000) + seconds;
  const txHash = await sendContract(c, escrow, CreditEscrowAbi, 'open', [network, id, credits, BigInt(deadline)]);
  return { id, deadline, txHash };
}

export function allowanceLedger(o: AllowanceLedgerOptions): AllowanceLedger {
  const { ctx, sender, prefix, label } = o;
  const allowances = `${prefix}_allowances`;
  const orders = `${prefix}_orders`;
  const escrow = ctx.chain.addresses.escrow as Address | undefined;
  const settleAt = new Map<string, number>();
  let nextStep = 0;
  const stats = { settlements: 0, refused: 0 };

  function refuse(status: number, reason: string, detail: string): never {
    stats.refused++;
    throw new ServiceError(status, reason, detail);
  }

  async function readJob(allowance: Hex): Promise<EscrowJob> {
    return (await ctx.chain.client.readContract({
      address: escrow!,
      abi: CreditEscrowAbi,
      functionName: 'job',
      args: [allowance],
    })) as EscrowJob;
  }

  const know = (q: { query: AllowanceLedgerOptions['ctx']['db']['query'] }, allowance: string, job: EscrowJob) =>
    q.query(
      `insert into ${allowances} (allowance, consumer, deadline, reserved, state) values ($1,$2,$3,'0','open') on conflict do nothing`,
      [allowance, job.consumer.toLowerCase(), Number(job.deadline)],
    );

  async function reserve(p: Piece): Promise<{ again: boolean; epoch: number }> {
    if (!escrow) refuse(503, 'no-escrow-contract', `this deployment has no CreditEscrow contract; ${label}s cannot be paid`);
    const job = await readJob(p.allowance);
    if (job.status === EscrowStatus.None) refuse(402, 'no-allowance', `allowance ${p.allowance} is not open on chain`);
    if (job.network !== ctx.networkId) refuse(402, 'wrong-network', `allowance ${p.allowance} is not ${label}`);
    if (job.status !== EscrowStatus.Open) refuse(402, 'allowance-closed', `allowance ${p.allowance} is cancelled or settled`);
    if (Number(job.deadline) * 1000 <= Date.now()) refuse(402, 'allowance-expired', `allowance ${p.allowance} passed its deadline`);
    if (p.signer.toLowerCase() !== job.consumer.toLowerCase())
      refuse(403, 'wrong-signer', `signed by ${p.signer.toLowerCase()}; allowance ${p.allowance} belongs to ${job.consumer.toLowerCase()}`);
    // Every piece it ever took (settled or not) within what it escrowed: then what is still held
    // (escrowed − burned) always covers the pieces not yet settled.
    const payable = job.escrowed - job.refunded;
    const now = Date.now();
    const epoch = ctx.clock.epochAtMs(now);
    return ctx.db.transaction(async (tx) => {
      await know(tx, p.allowance, job);
      const [row] = await tx.query<{ reserved: string; state: string }>(
        `select reserved, state from ${allowances} where allowance = $1 for update`,
        [p.allowance],
      );
      if (row!.state !== 'open') refuse(402, 'allowance-closed', `allowance ${p.allowance} has had its final settlement`);
      // The same piece again is acknowledged, never taken twice: a server whose first answer from
      // here was lost can still serve what it will be paid for.
      const [dup] = await tx.query<{ epoch: number }>(`select epoch from ${orders} where allowance = $1 and serial = $2`, [
        p.allowance,
        p.serial,
      ]);
      if (dup) return { again: true, epoch: Number(dup.epoch) };
      const reserved = BigInt(row!.reserved) + p.credits;
      if (reserved > payable)
        refuse(402, 'allowance-spent', `allowance ${p.allowance} escrows ${payable} credits, ${row!.reserved} of them taken already`);
      await tx.query(`update ${allowances} set reserved = $2 where allowance = $1`, [p.allowance, reserved.toString()]);
      const names = o.columns.map(([n]) => n);
      const params = names.map((_, i) => `$${i + 7}`).join(',');
      await tx.query(
        `insert into ${orders} (allowance, serial, device, credits, epoch, received_at${names.map((n) => `, ${n}`).join('')})
         values ($1,$2,$3,$4,$5,$6${params ? `,${params}` : ''})`,
        [p.allowance, p.serial, p.device, p.credits.toString(), epoch, now, ...p.values],
      );
      return { again: false, epoch };
    });
  }

  async function settleAllowance(allowance: string, now: number): Promise<void> {
    if ((settleAt.get(allowance) ?? 0) > now) return;
    settleAt.set(allowance, now + SETTLE_EVERY_MS);
    const job = await readJob(allowance as Hex);
    const seq = Number(job.seq);
    await ctx.db.query(
      `update ${orders} set settled_seq = attempt_seq where allowance = $1 and attempt_seq <= $2 and settled_seq is null`,
      [allowance, seq],
    );
    if (job.status === EscrowStatus.Settled || job.status === EscrowStatus.Reclaimed) {
      await ctx.db.query(`update ${allowances} set state = 'closed' where allowance = $1`, [allowance]);
      settleAt.delete(allowance);
      return;
    }
    const next = seq + 1;
    // A settlement `next` already sent whose receipt never came (a timeout, an RPC error) may
    // still land: it goes again exactly as it was, final only if it was. Adding pieces to it would
    // have them marked settled by a transaction that never carried them.
    const resent = await ctx.db.query<{ device: string; credits: string }>(
      `select device, credits from ${orders} where allowance = $1 and attempt_seq = $2 and settled_seq is null`,
      [allowance, next],
    );
    const [row] = await ctx.db.query<{ state: string }>(`select state from ${allowances} where allowance = $1`, [allowance]);
    // Final once no piece can come: the consumer cancelled or the deadline passed. Then every
    // piece owed is paid; before that only those of epochs that have ended.
    const isFinal = resent.length ? row?.state === 'final' : job.status === EscrowStatus.Cancelled || Number(job.deadline) * 1000 <= now;
    const closedBefore = isFinal ? 2 ** 31 - 1 : ctx.clock.epochAtMs(now);
    const taken = resent.length
      ? resent
      : await ctx.db.transaction(async (tx) => {
          await tx.query(`select 1 from ${allowances} where allowance = $1 for update`, [allowance]);
          if (isFinal) await tx.query(`update ${allowances} set state = 'final' where allowance = $1`, [allowance]);
          return tx.query<{ device: string; credits: string }>(
            `update ${orders} set attempt_seq = $2 where allowance = $1 and settled_seq is null and epoch < $3 returning device, credits`,
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
    await ctx.db.query(`update ${orders} set settled_seq = $2 where allowance = $1 and attempt_seq = $2`, [allowance, next]);
    stats.settlements++;
    if (isFinal) {
      await ctx.db.query(`update ${allowances} set state = 'closed' where allowance = $1`, [allowance]);
      settleAt.delete(allowance);
      ctx.log(`allowance ${allowance.slice(0, 10)}: final settlement ${next} (${taken.length} pieces), the rest refunded`);
    }
  }

  return {
    schema: [
      `create table if not exists ${allowances} (allowance text primary key, consumer text not null, deadline bigint not null,
         reserved text not null, state text not null)`,
      `create table if not exists ${orders} (allowance text not null, serial text not null, device text not null,
         ${o.columns.map(([n, t]) => `${n} ${t}, `).join('')}credits text not null, epoch int not null, received_at bigint not null,
         attempt_seq int, settled_seq int, primary key (allowance, serial))`,
    ],
    routes: [
      {
        // A consumer tells the oracle of an allowance it opened, so that its final settlement
        // refunds it even if nothing is ever taken from it.
        method: 'POST',
        path: 'allowances/(0x[0-9a-f]{64})',
        handle: async (req) => {
          if (!escrow) refuse(503, 'no-escrow-contract', 'this deployment has no CreditEscrow contract');
          const allowance = req.params[0]! as Hex;
          const job = await readJob(allowance);
          if (job.status === EscrowStatus.None) refuse(404, 'no-allowance', `allowance ${allowance} is not open on chain`);
          if (job.network !== ctx.networkId) refuse(400, 'wrong-network', `allowance ${allowance} is not ${label}`);
          await know(ctx.db, allowance, job);
          return { status: 202, json: { allowance, known: true } };
        },
      },
      {
        method: 'GET',
        path: 'allowances/(0x[0-9a-f]{64})',
        handle: async (req) => {
          const allowance = req.params[0]!;
          const [row] = await ctx.db.query<{ consumer: string; reserved: string; state: string }>(
            `select consumer, reserved, state from ${allowances} where allowance = $1`,
            [allowance],
          );
          if (!row) throw new ServiceError(404, 'unknown-allowance', `allowance ${allowance} is not known to this oracle`);
          const [sums] = await ctx.db.query<{ orders: string; settled: string | null }>(
            `select count(*)::text as orders, sum(case when settled_seq is not null then credits::numeric else 0 end)::text as settled
             from ${orders} where allowance = $1`,
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
    readJob,
    remember: async (allowance, job) => {
      await know(ctx.db, allowance, job);
    },
    reserve,
    async step(now) {
      if (!escrow || !sender || now < nextStep) return;
      // The list of open allowances is read once a settling interval, not every tick of the loop.
      nextStep = now + SETTLE_EVERY_MS;
      const open = await ctx.db.query<{ allowance: string }>(`select allowance from ${allowances} where state <> 'closed'`);
      for (const { allowance } of open) {
        try {
          await settleAllowance(allowance, now);
        } catch (err) {
          ctx.log(`allowance ${allowance.slice(0, 10)}: settling failed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    },
    status: () => ({ ...stats }),
  };
}
