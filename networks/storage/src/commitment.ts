// Shard commitments: a binary SHA-256 Merkle tree over 8 KiB leaves of the shard's bytes, and the
// deal's commitment over its shards' roots. A provider proves it still holds a shard by answering
// challenged leaves with their paths to the committed root (as Filecoin PDP and Sia do).
//
// Why 8 KiB leaves and not PDP's 32 B: node:crypto costs about 2.7 µs per call whatever the input,
// so small leaves make building a commitment a call-bound loop; 8 KiB leaves build at about 0.95 of
// the native SHA-256 rate (bench/storage-core.ts) while a challenged leaf and its path stay a
// few KiB. The tree shape is fixed by the shard's length (committed in the deal), so a leaf and an
// inner node can never stand in for each other: the verifier knows which each position holds.
// An odd node at the end of a level moves up unhashed (no duplication, so no CVE-2012-2459 twin).
import { sha256 } from './hash.ts';

export const LEAF_BYTES = 8192;
const HASH = 32;

export class CommitmentError extends Error {
  override readonly name = 'CommitmentError';
}

/** Leaves of a shard of `bytes` bytes (an empty shard has one empty leaf). */
export function leafCount(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / LEAF_BYTES));
}

/** Length of leaf `index` of a shard of `bytes` bytes. */
export function leafBytes(bytes: number, index: number): number {
  return Math.max(0, Math.min(LEAF_BYTES, bytes - index * LEAF_BYTES));
}

/** Hashes a shard's leaves as its bytes stream by, in chunks of any size. */
export class ShardHasher {
  private readonly leaves: Uint8Array[] = [];
  private readonly pending = new Uint8Array(LEAF_BYTES);
  private fill = 0;
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    let at = 0;
    if (this.fill > 0) {
      const take = Math.min(LEAF_BYTES - this.fill, chunk.length);
      this.pending.set(chunk.subarray(0, take), this.fill);
      this.fill += take;
      at = take;
      if (this.fill === LEAF_BYTES) {
        this.leaves.push(sha256(this.pending));
        this.fill = 0;
      }
    }
    for (; at + LEAF_BYTES <= chunk.length; at += LEAF_BYTES) this.leaves.push(sha256(chunk.subarray(at, at + LEAF_BYTES)));
    if (at < chunk.length) {
      this.pending.set(chunk.subarray(at), 0);
      this.fill = chunk.length - at;
    }
  }

  /** The leaf hashes (32 bytes each, in order) of everything given so far. */
  finish(): Uint8Array {
    if (this.fill > 0 || this.leaves.length === 0) this.leaves.push(sha256(this.pending.subarray(0, this.fill)));
    const out = new Uint8Array(this.leaves.length * HASH);
    for (const [i, h] of this.leaves.entries()) out.set(h, i * HASH);
    this.fill = 0;
    return out;
  }
}

/** Every level of the tree over `leafHashes` (32 bytes each), leaves first, the root last. */
export function treeLevels(leafHashes: Uint8Array): Uint8Array[] {
  if (leafHashes.length === 0 || leafHashes.length % HASH !== 0)
    throw new CommitmentError('leaf hashes must be a positive multiple of 32 bytes');
  const levels = [leafHashes];
  let level = leafHashes;
  while (level.length > HASH) {
    const count = level.length / HASH;
    const next = new Uint8Array(Math.ceil(count / 2) * HASH);
    for (let i = 0; i + 1 < count; i += 2) next.set(sha256(level.subarray(i * HASH, (i + 2) * HASH)), (i / 2) * HASH);
    if (count % 2 === 1) next.set(level.subarray((count - 1) * HASH), ((count - 1) / 2) * HASH);
    levels.push(next);
    level = next;
  }
  return levels;
}

export function rootOf(levels: readonly Uint8Array[]): Uint8Array {
  return levels[levels.length - 1]!;
}

/** The root of a shard's bytes, held in memory. */
export function shardRoot(bytes: Uint8Array): Uint8Array {
  const h = new ShardHasher();
  h.update(bytes);
  return rootOf(treeLevels(h.finish()));
}

/** The siblings of node `index` from the leaves up (a promoted odd node has none at its level). */
export function merklePath(levels: readonly Uint8Array[], index: number): Uint8Array[] {
  const count = levels[0]!.length / HASH;
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new CommitmentError(`leaf ${index} is outside 0..${count - 1}`);
  const path: Uint8Array[] = [];
  let i = index;
  for (let l = 0; l < levels.length - 1; l++) {
    const width = levels[l]!.length / HASH;
    const sibling = i ^ 1;
    if (sibling < width) path.push(levels[l]!.slice(sibling * HASH, (sibling + 1) * HASH));
    i >>= 1;
  }
  return path;
}

/** Siblings a path to leaf `index` of a `count`-leaf tree has (fewer than the depth where odd nodes are promoted). */
export function pathLength(count: number, index: number): number {
  let n = 0;
  for (let width = count, i = index; width > 1; width = Math.ceil(width / 2), i >>= 1) if ((i ^ 1) < width) n++;
  return n;
}

/** The root that `leafHash` at `index` of a `count`-leaf tree reaches through `path`; null if the path has the wrong length. */
export function rootFromPath(leafHash: Uint8Array, index: number, count: number, path: readonly Uint8Array[]): Uint8Array | null {
  if (!Number.isInteger(index) || index < 0 || index >= count || path.length !== pathLength(count, index)) return null;
  let node = leafHash;
  let p = 0;
  const pair = new Uint8Array(2 * HASH);
  for (let width = count, i = index; width > 1; width = Math.ceil(width / 2), i >>= 1) {
    if ((i ^ 1) >= width) continue; // promoted
    const sibling = path[p++]!;
    if (sibling.length !== HASH) return null;
    if (i % 2 === 0) {
      pair.set(node, 0);
      pair.set(sibling, HASH);
    } else {
      pair.set(sibling, 0);
      pair.set(node, HASH);
    }
    node = sha256(pair);
  }
  return node;
}

function u64(value: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(value));
  return b;
}

/**
 * A deal's commitment: SHA-256 of (shard count, bytes per shard, root of the tree over the shard
 * roots), so one 32-byte value on chain fixes every shard's root and the layout they prove against.
 */
export function dealCommitment(shardBytes: number, shardRoots: readonly Uint8Array[]): { commitment: Uint8Array; levels: Uint8Array[] } {
  if (shardRoots.length === 0) throw new CommitmentError('a deal has at least one shard');
  const leaves = new Uint8Array(shardRoots.length * HASH);
  shardRoots.forEach((r, i) => {
    if (r.length !== HASH) throw new CommitmentError(`shard root ${i} has ${r.length} bytes, not 32`);
    leaves.set(r, i * HASH);
  });
  const levels = treeLevels(leaves);
  return { commitment: commitmentOf(shardRoots.length, shardBytes, rootOf(levels)), levels };
}

/** SHA-256(shard count ‖ bytes per shard ‖ root over the shard roots), the counts as big-endian u64. */
function commitmentOf(shards: number, shardBytes: number, top: Uint8Array): Uint8Array {
  const head = new Uint8Array(8 + 8 + HASH);
  head.set(u64(shards), 0);
  head.set(u64(shardBytes), 8);
  head.set(top, 16);
  return sha256(head);
}

/** Whether `shardRoot`, shard `index` of `shards`, is in the deal `commitment` through `path`. */
export function shardInCommitment(
  commitment: Uint8Array,
  shards: number,
  shardBytes: number,
  index: number,
  shardRoot: Uint8Array,
  path: readonly Uint8Array[],
): boolean {
  const top = rootFromPath(shardRoot, index, shards, path);
  return top !== null && Buffer.from(commitmentOf(shards, shardBytes, top)).equals(Buffer.from(commitment));
}
