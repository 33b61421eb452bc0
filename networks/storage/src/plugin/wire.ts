// What the storage network's parts say to each other, as zod schemas: the provider's offer (its
// worker's hello), the orders the service pushes to a provider (hold a shard, answer a challenge,
// drop a shard), the two signed reports a provider sends (a shard stored, a challenge answered), a
// proof's answer bundle, a consumer's deal registration and a deal's status.
//
// Routes of the service (under /v1/storage/):
//   POST deals               a DealRegistration (JSON); the deal must already be open on chain
//   GET  deals/<dealId>      its DealStatus (where each shard is, its last proof, the durability)
//   GET  deals?consumer=<a>  the consumer's deals
//   POST proofs              a ProofBundle: the leaves and paths a signed proof report commits to
//   POST orders              a consumer's signed retrieval order, shown by the provider before it
//                            serves the bytes; taken and paid once (shown again: acknowledged),
//                            its credits reserved on the allowance
//   POST allowances/<id>     a consumer's new allowance (so its final settlement refunds it even
//                            if no order comes)
//   GET  allowances/<id>     what the oracle holds of an allowance: reserved, settled, orders
//
// Routes of a provider's shard server (the worker's own HTTP server, Storj's piecestore):
//   PUT  shards/<dealId>/<i>  the shard's bytes; taken only if the oracle placed the shard here and
//                             the bytes reach the shard's committed root
//   GET  shards/<dealId>/<i>  the bytes (Range: bytes=a-b supported), against a signed order in the
//                             x-groundwork-order header that the oracle took (orders.ts)
import { z } from 'zod';
import { addressSchema, hex32 } from '@groundwork/protocol';
import { layoutSchema } from '../layout.ts';

export const KIND = 'storage';
/** A provider holds a shard it was placed: its bytes reached the committed root. */
export const STORED_TYPE = 'stored';
/** A provider's answer to a challenge: the hash of the bundle it posted. */
export const PROOF_TYPE = 'proof';

/** Most leaves one challenge asks for (the parameters choose how many). */
export const MAX_CHALLENGED_LEAVES = 16;
/** Largest proof bundle the service takes: 16 leaves of 8 KiB in base64, with their paths. */
export const MAX_BUNDLE_BYTES = 512 * 1024;

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const shardIndex = z.number().int().min(0).max(254);
const epoch = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 40);
const cid = z.string().regex(/^b[a-z2-7]{20,120}$/, 'must be a base32 CIDv1 (bafk…)');
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

/** A provider's offer: its worker's hello (Storj's node check-in: address and free space). */
export const offerSchema = z
  .object({
    /** Base URL of its shard server, e.g. http://127.0.0.1:40123/ */
    url: z
      .string()
      .max(256)
      .regex(/^https?:\/\/[^\s/]+\/$/, 'must be an http(s) base URL ending in /'),
    capacityBytes: count,
    freeBytes: count,
  })
  .strict();
export type Offer = z.infer<typeof offerSchema>;

/** Service → provider: take shard `shard` of `deal` when it is uploaded (it must reach `root`). */
export const holdPayloadSchema = z
  .object({ type: z.literal('hold'), deal: hex32, shard: shardIndex, root: hex32, bytes: count, until: count })
  .strict();
/** Service → provider: prove shard `shard` of `deal` for `epoch` by these leaves before `deadline`. */
export const challengePayloadSchema = z
  .object({
    type: z.literal('challenge'),
    deal: hex32,
    shard: shardIndex,
    epoch,
    leaves: z.array(count).min(1).max(MAX_CHALLENGED_LEAVES),
    deadline: count,
  })
  .strict();
/** Service → provider: the shard is no longer stored here (deal ended, or it moved). */
export const dropPayloadSchema = z.object({ type: z.literal('drop'), deal: hex32, shard: shardIndex }).strict();
export const servicePayloadSchema = z.discriminatedUnion('type', [holdPayloadSchema, challengePayloadSchema, dropPayloadSchema]);
export type HoldPayload = z.infer<typeof holdPayloadSchema>;
export type ChallengePayload = z.infer<typeof challengePayloadSchema>;
export type ServiceOrder = z.infer<typeof servicePayloadSchema>;

export const storedBodySchema = z.object({ deal: hex32, shard: shardIndex, root: hex32 }).strict();
export type StoredBody = z.infer<typeof storedBodySchema>;

export const proofBodySchema = z
  .object({
    deal: hex32,
    shard: shardIndex,
    epoch,
    /** SHA-256 of the canonical JSON of the ProofBundle posted to the service. */
    answer: hex32,
  })
  .strict();
export type ProofBody = z.infer<typeof proofBodySchema>;

/** The leaves a proof answers with, each with its Merkle path to the shard's root. */
export const proofBundleSchema = z
  .object({
    deal: hex32,
    shard: shardIndex,
    epoch,
    device: hex32,
    leaves: z
      .array(z.object({ index: count, leaf: base64.max(16_384), path: z.array(hex32).max(64) }).strict())
      .min(1)
      .max(MAX_CHALLENGED_LEAVES),
  })
  .strict();
export type ProofBundle = z.infer<typeof proofBundleSchema>;

/** A consumer registers a deal it opened on chain: the layout and every shard's root. */
export const dealRegistrationSchema = z
  .object({
    dealId: hex32,
    /** CIDv1 of the plaintext file. */
    cid,
    layout: layoutSchema,
    shardRoots: z.array(hex32).min(2).max(255),
    /** Display name (`storage ls`); not part of what is proven. */
    name: z.string().max(1024).default(''),
  })
  .strict();
export type DealRegistration = z.infer<typeof dealRegistrationSchema>;

export type ShardState = 'placed' | 'stored' | 'lost' | 'repairing';
export type ShardStatus = {
  index: number;
  device: string | null;
  url: string | null;
  state: ShardState;
  root: string;
  /** Last epoch it passed its proof, or null. */
  lastProven: number | null;
  /** Failed or unanswered challenges in a row. */
  faults: number;
};
export type DealStatus = {
  dealId: string;
  consumer: string;
  cid: string;
  name: string;
  layout: z.infer<typeof layoutSchema>;
  shardBytes: number;
  state: 'active' | 'ended';
  start: number;
  end: number;
  shards: ShardStatus[];
  healthy: number;
  repairs: number;
  /** durability.ts, from the healthy shards and the providers' observed loss rate (nines: null if it underflows). */
  durability: { lossPerDay: number; lossPerYear: number; nines: number | null };
  /** What reads cost (orders.ts): credits per 10⁹ bytes. */
  retrievalCreditsPerGB: number;
};
export const dealIdSchema = hex32;
export { addressSchema };
