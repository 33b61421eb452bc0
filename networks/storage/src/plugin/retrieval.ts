// The oracle's side of paid retrieval (orders.ts): a provider shows a consumer's signed order
// before it serves the bytes (POST /v1/storage/orders); the oracle checks it, reserves its credits
// against the allowance on chain (CreditEscrow) and, once the epoch the order came in has ended,
// the quorum settles the allowance per device. The allowance's final settlement, after its
// deadline or the consumer's cancel, pays what is left owed and refunds the rest.
//
// Reserving before serving is what lets a provider trust an order: the allowance's held credits
// always cover every order the oracle accepted and has not settled (checked under a row lock, so
// two providers' orders for the last credits cannot both pass).
import { allowanceLedger } from '@groundwork/contracts';
import { parseJsonBody, type ServiceContext, ServiceError, type ServiceRoute } from '@groundwork/protocol';
import type { Address, Hex, LocalAccount } from 'viem';
import { orderDomain, orderSigner, REPAIR_ALLOWANCE, retrievalCredits, type SignedOrder, signedOrderSchema } from '../orders.ts';
import type { StorageParameters } from './parameters.ts';

/** What the storage service tells the desk about its deals. */
export type ShardHolder = (deal: string, shard: number) => { device: string | null; shardBytes: number } | null;

export type RetrievalDesk = {
  schema: string[];
  routes: ServiceRoute[];
  /** One settlement pass over the allowances (the service's deal loop calls it). */
  step(now: number): Promise<void>;
  status(): { orders: number; credits: string; settlements: number; refused: number };
};

export function retrievalDesk(
  ctx: ServiceContext<StorageParameters>,
  sender: LocalAccount | undefined,
  holder: ShardHolder,
): RetrievalDesk {
  const escrow = ctx.chain.addresses.escrow as Address | undefined;
  const domain = escrow ? orderDomain(ctx.chain.chainId, escrow) : null;
  const oracleKeys = new Set(ctx.chain.signers.map((s) => s.address.toLowerCase()));
  const ledger = allowanceLedger({
    ctx: ctx as ServiceContext<unknown>,
    sender,
    prefix: 'storage',
    columns: [
      ['deal_id', 'text not null'],
      ['shard', 'int not null'],
      ['length', 'bigint not null'],
    ],
    label: 'a storage allowance',
  });
  const stats = { orders: 0, credits: 0n, refused: 0 };

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
    // The same signed order again (its signature covers the device, shard and bytes) is taken
    // once and paid once; shown again, it is acknowledged.
    const taken = await ledger.reserve({
      allowance: o.allowance as Hex,
      serial: o.serial,
      signer,
      device: o.device,
      credits: BigInt(o.credits),
      values: [o.deal, o.shard, o.length],
    });
    if (taken.again) return { status: 200, json: { accepted: true, credits: o.credits, epoch: taken.epoch, again: true } };
    stats.orders++;
    stats.credits += BigInt(o.credits);
    return { status: 201, json: { accepted: true, credits: o.credits, epoch: taken.epoch } };
  }

  return {
    schema: ledger.schema,
    routes: [
      {
        method: 'POST',
        path: 'orders',
        maxBodyBytes: 4096,
        handle: async (req) => {
          let order: SignedOrder;
          try {
            order = parseJsonBody(req, signedOrderSchema);
          } catch (err) {
            stats.refused++;
            throw err;
          }
          return accept(order);
        },
      },
      ...ledger.routes,
    ],
    step: (now) => ledger.step(now),
    status: () => {
      const l = ledger.status();
      return { orders: stats.orders, credits: stats.credits.toString(), settlements: l.settlements, refused: stats.refused + l.refused };
    },
  };
}
