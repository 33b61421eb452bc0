// Storage proofs: which leaves of a shard are challenged, from entropy nobody could know in advance
// (a block hash the chain produced and randomness the oracle drew after it), and the check of a
// provider's answer: each challenged leaf with its path must reach the shard's committed root.
import { leafBytes, leafCount, rootFromPath } from './commitment.ts';
import { sha256 } from './hash.ts';

function hexBytes(hex: string): Uint8Array {
  return Buffer.from(hex.startsWith('0x') ? hex.slice(2) : hex, 'hex');
}

/** The epoch's challenge entropy: SHA-256 of the block hash and the oracle's 32 random bytes. */
export function challengeEntropy(blockHash: string, oracleRandom: string): string {
  const b = Buffer.concat([hexBytes(blockHash), hexBytes(oracleRandom)]);
  if (b.length !== 64) throw new RangeError('block hash and oracle randomness must be 32 bytes each');
  return `0x${Buffer.from(sha256(b)).toString('hex')}`;
}

/**
 * The leaves challenged in shard `shard` of `deal` for `epoch`: `count` indices, each the first 8
 * bytes of SHA-256(seed ‖ j) modulo the leaf count (repeats are possible and harmless).
 */
export function challengedLeaves(entropy: string, deal: string, shard: number, epoch: number, shardBytes: number, count: number): number[] {
  const head = Buffer.alloc(32 + 32 + 4 + 8);
  Buffer.from(hexBytes(entropy)).copy(head, 0);
  Buffer.from(hexBytes(deal)).copy(head, 32);
  head.writeUInt32BE(shard, 64);
  head.writeBigUInt64BE(BigInt(epoch), 68);
  const seed = sha256(head);
  const leaves = BigInt(leafCount(shardBytes));
  const out: number[] = [];
  const msg = Buffer.alloc(36);
  Buffer.from(seed).copy(msg, 0);
  for (let j = 0; j < count; j++) {
    msg.writeUInt32BE(j, 32);
    out.push(Number(Buffer.from(sha256(msg)).readBigUInt64BE(0) % leaves));
  }
  return out;
}

/** One challenged leaf as the provider answers it. */
export type LeafAnswer = { index: number; leaf: Uint8Array; path: Uint8Array[] };

export type ProofCheck = { ok: true } | { ok: false; reason: string; detail: string };

/** Checks the answers to a shard's challenged leaves against its root (every leaf, in order). */
export function checkShardProof(
  root: Uint8Array,
  shardBytes: number,
  challenged: readonly number[],
  answers: readonly LeafAnswer[],
): ProofCheck {
  if (answers.length !== challenged.length)
    return { ok: false, reason: 'wrong-leaf-count', detail: `${challenged.length} leaves were challenged, ${answers.length} answered` };
  const count = leafCount(shardBytes);
  for (let j = 0; j < challenged.length; j++) {
    const a = answers[j]!;
    if (a.index !== challenged[j])
      return { ok: false, reason: 'wrong-leaf', detail: `answer ${j} is for leaf ${a.index}; leaf ${challenged[j]} was challenged` };
    const expected = leafBytes(shardBytes, a.index);
    if (a.leaf.length !== expected)
      return { ok: false, reason: 'wrong-leaf-size', detail: `leaf ${a.index} has ${a.leaf.length} bytes, expected ${expected}` };
    const reached = rootFromPath(sha256(a.leaf), a.index, count, a.path);
    if (!reached) return { ok: false, reason: 'malformed-path', detail: `the path for leaf ${a.index} has the wrong shape` };
    if (!Buffer.from(reached).equals(Buffer.from(root)))
      return { ok: false, reason: 'wrong-data', detail: `leaf ${a.index} and its path do not reach the shard's committed root` };
  }
  return { ok: true };
}
