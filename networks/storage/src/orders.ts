// Retrieval orders (Storj's orders): a consumer pays for the bytes it reads. Before a read it
// escrows credits as an allowance (a CreditEscrow job on the storage network), and with every shard
// request it hands the provider an order it signed: this allowance pays `credits` to this device
// for these bytes of this shard, once (the serial). The provider shows the order to the oracle
// before it serves; the oracle checks the signature against the allowance's consumer on chain,
// reserves the credits and, after the epoch, the quorum settles the allowance per device, which
// burns the credits as usage (CreditsSpent), so usage rewards follow retrieval bandwidth.
//
// Why the consumer signs each order rather than the provider reporting its egress: a provider's own
// count of bytes served could be inflated at no cost; a consumer's signature is its consent to pay,
// and what a consumer pays its own provider (wash trading) costs it the credits it burns.
import { type Address, type Hex, hexToBigInt, type LocalAccount, recoverTypedDataAddress } from 'viem';
import { z } from 'zod';
import { hex32 } from '@groundwork/protocol';

/** The allowance id oracle-signed orders carry: repair reads, which the network does not charge. */
export const REPAIR_ALLOWANCE: Hex = `0x${'0'.repeat(64)}`;

/** Solidity-style: `Order(bytes32 allowance,bytes32 deal,uint8 shard,uint256 device,uint64 offset,uint64 length,uint256 credits,bytes32 serial)`. */
export const ORDER_TYPES = {
  Order: [
    { name: 'allowance', type: 'bytes32' },
    { name: 'deal', type: 'bytes32' },
    { name: 'shard', type: 'uint8' },
    { name: 'device', type: 'uint256' },
    { name: 'offset', type: 'uint64' },
    { name: 'length', type: 'uint64' },
    { name: 'credits', type: 'uint256' },
    { name: 'serial', type: 'bytes32' },
  ],
} as const;

/** Orders are signed for one deployment: its chain and its escrow contract. */
export function orderDomain(chainId: number, escrow: Address) {
  return { name: 'Groundwork storage retrieval', version: '1', chainId, verifyingContract: escrow } as const;
}

const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** An order as it travels (JSON): amounts as decimal strings. */
export const signedOrderSchema = z
  .object({
    allowance: hex32,
    deal: hex32,
    shard: z.number().int().min(0).max(254),
    device: hex32,
    offset: uint,
    length: uint,
    credits: z.string().regex(/^(0|[1-9][0-9]{0,38})$/, 'must be a whole number of credits, in decimal'),
    serial: hex32,
    signature: z.string().regex(/^0x[0-9a-f]{130}$/, 'must be a 65-byte signature in lowercase hex'),
  })
  .strict();
export type SignedOrder = z.infer<typeof signedOrderSchema>;
export type Order = Omit<SignedOrder, 'signature'>;

/** Credits the network charges for `bytes` of egress at `creditsPerGB` per 10⁹ bytes: rounded up, at least 1. */
export function retrievalCredits(bytes: number, creditsPerGB: number): bigint {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes must be a whole number, got ${bytes}`);
  const raw = BigInt(bytes) * BigInt(creditsPerGB);
  const whole = (raw + 999_999_999n) / 1_000_000_000n;
  return whole > 0n ? whole : 1n;
}

function typed(o: Order) {
  return {
    allowance: o.allowance as Hex,
    deal: o.deal as Hex,
    shard: o.shard,
    device: hexToBigInt(o.device as Hex),
    offset: BigInt(o.offset),
    length: BigInt(o.length),
    credits: BigInt(o.credits),
    serial: o.serial as Hex,
  };
}

export async function signOrder(signer: LocalAccount, domain: ReturnType<typeof orderDomain>, o: Order): Promise<SignedOrder> {
  const signature = await signer.signTypedData!({ domain, types: ORDER_TYPES, primaryType: 'Order', message: typed(o) });
  return { ...o, signature: signature.toLowerCase() };
}

/** The address that signed the order (a wrong or tampered order recovers to some other address). */
export async function orderSigner(domain: ReturnType<typeof orderDomain>, o: SignedOrder): Promise<Address> {
  const { signature, ...order } = o;
  return recoverTypedDataAddress({ domain, types: ORDER_TYPES, primaryType: 'Order', message: typed(order), signature: signature as Hex });
}

/** The HTTP header an order travels in from the consumer to the provider. */
export const ORDER_HEADER = 'x-groundwork-order';

export function encodeOrderHeader(o: SignedOrder): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

/** The order in a request header, or why it cannot be read. */
export function decodeOrderHeader(value: string): { ok: true; order: SignedOrder } | { ok: false; detail: string } {
  if (value.length > 2048) return { ok: false, detail: `the ${ORDER_HEADER} header is ${value.length} characters, over 2048` };
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, detail: `the ${ORDER_HEADER} header is not base64url JSON` };
  }
  const parsed = signedOrderSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    return { ok: false, detail: `${ORDER_HEADER}: ${i.path.join('.') || '(root)'}: ${i.message}` };
  }
  return { ok: true, order: parsed.data };
}
