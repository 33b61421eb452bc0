// A file to shards and back, one segment at a time: encrypt (optionally), erasure-code, and append
// piece i to shard i; reading takes any k pieces of each segment, rebuilds, decrypts and cuts.
import { createHash } from 'node:crypto';
import { cidOfSha256 } from '@groundwork/protocol';
import { dealCommitment, merklePath, rootOf, ShardHasher, treeLevels } from './commitment.ts';
import { decryptSegment, encryptSegment } from './encryption.ts';
import { encodeSegment, reconstructSegment } from './erasure.ts';
import { checkLayout, codedBytes, type Layout, pieceOffset, segmentCount, segmentPieceBytes, segmentRange, shardBytes } from './layout.ts';

/** The n pieces of segment `s` (piece i at [i × size, (i + 1) × size)). */
export function encodeSegmentPieces(
  layout: Layout,
  key: Uint8Array | null,
  s: number,
  plain: Uint8Array,
): { pieces: Uint8Array; size: number } {
  const { start, end } = segmentRange(layout, s);
  if (plain.length !== end - start) throw new RangeError(`segment ${s} has ${end - start} bytes, got ${plain.length}`);
  const coded = layout.encrypted ? encryptSegment(key!, s, plain) : plain;
  return encodeSegment(coded, layout.k, layout.n);
}

/**
 * The plaintext of segment `s` from its pieces (`pieces[i]` piece i, or null where missing; at
 * least k present). DecryptionError if the pieces were altered (encrypted files authenticate).
 */
export function decodeSegmentPieces(layout: Layout, key: Uint8Array | null, s: number, pieces: readonly (Uint8Array | null)[]): Uint8Array {
  const size = segmentPieceBytes(layout, s);
  const bad = pieces.findIndex((p) => p !== null && p.length !== size);
  if (bad >= 0) throw new RangeError(`piece ${bad} of segment ${s} has ${pieces[bad]!.length} bytes, expected ${size}`);
  const dataPresent = pieces.slice(0, layout.k).every((p) => p !== null);
  let coded: Uint8Array;
  if (dataPresent) {
    coded = new Uint8Array(size * layout.k);
    for (let i = 0; i < layout.k; i++) coded.set(pieces[i]!, i * size);
  } else coded = reconstructSegment(pieces, layout.k, layout.n).subarray(0, size * layout.k);
  coded = coded.subarray(0, codedBytes(layout, s));
  return layout.encrypted ? decryptSegment(key!, s, coded) : coded;
}

/** What storing a file commits to: each shard's root, the deal's commitment and the file's CID. */
export type Encoded = {
  cid: string;
  layout: Layout;
  shardBytes: number;
  shardRoots: Uint8Array[];
  commitment: Uint8Array;
  /** Each shard root's path to the commitment, by shard. */
  rootPaths: Uint8Array[][];
};

/**
 * Encodes a file segment by segment, handing each shard's next piece to `sink` in order (so shards
 * can go to disk or the network as they grow) and hashing as it goes.
 */
export function encodeFile(
  bytes: Uint8Array,
  layout: Layout,
  key: Uint8Array | null,
  sink: (shard: number, piece: Uint8Array) => void,
): Encoded {
  checkLayout(layout);
  if (bytes.length !== layout.size) throw new RangeError(`layout says ${layout.size} bytes, the file has ${bytes.length}`);
  if (layout.encrypted && key?.length !== 32) throw new RangeError('an encrypted layout needs a 32-byte key');
  const hashers = Array.from({ length: layout.n }, () => new ShardHasher());
  const fileHash = createHash('sha256');
  for (let s = 0; s < segmentCount(layout); s++) {
    const { start, end } = segmentRange(layout, s);
    const plain = bytes.subarray(start, end);
    fileHash.update(plain);
    const { pieces, size } = encodeSegmentPieces(layout, key, s, plain);
    for (let i = 0; i < layout.n; i++) {
      const piece = pieces.subarray(i * size, (i + 1) * size);
      hashers[i]!.update(piece);
      sink(i, piece);
    }
  }
  const shardRoots = hashers.map((h) => rootOf(treeLevels(h.finish())));
  const shardBytes = hashers[0]!.bytes;
  const { commitment, levels } = dealCommitment(shardBytes, shardRoots);
  const rootPaths = shardRoots.map((_, i) => merklePath(levels, i));
  return { cid: cidOfSha256(fileHash.digest()), layout, shardBytes, shardRoots, commitment, rootPaths };
}

/** Encodes a file into n in-memory shards. */
export function encodeFileToShards(bytes: Uint8Array, layout: Layout, key: Uint8Array | null): Encoded & { shards: Uint8Array[] } {
  const parts: Uint8Array[][] = Array.from({ length: layout.n }, () => []);
  const encoded = encodeFile(bytes, layout, key, (i, piece) => parts[i]!.push(piece.slice()));
  return { ...encoded, shards: parts.map((p) => Buffer.concat(p)) };
}

/**
 * Rebuilds shards `missing` from the shards present (`shards[i]` shard i or null; at least k),
 * segment by segment. Needs no key: the pieces are of the coded segments, encrypted or not, so
 * the network repairs files it cannot read.
 */
export function rebuildShards(layout: Layout, shards: readonly (Uint8Array | null)[], missing: readonly number[]): Uint8Array[] {
  checkLayout(layout);
  if (shards.filter((s) => s !== null).length < layout.k)
    throw new RangeError(`rebuilding needs ${layout.k} shards, ${shards.filter((s) => s !== null).length} are present`);
  const out = missing.map(() => new Uint8Array(shardBytes(layout)));
  for (let s = 0; s < segmentCount(layout); s++) {
    const size = segmentPieceBytes(layout, s);
    const at = pieceOffset(layout, s);
    const pieces = shards.map((sh) => (sh ? sh.subarray(at, at + size) : null));
    const all = reconstructSegment(pieces, layout.k, layout.n);
    for (const [j, i] of missing.entries()) out[j]!.set(all.subarray(i * size, (i + 1) * size), at);
  }
  return out;
}
