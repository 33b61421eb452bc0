// How a file becomes shards: cut into segments, each segment (encrypted, if it is) split into k
// pieces and extended to n by Reed-Solomon; shard i is piece i of every segment, end to end. Every
// length follows from (size, segmentBytes, k, n, encrypted), so a deal records only those.
import { z } from 'zod';
import { checkCode, MAX_SHARDS, pieceBytes } from './erasure.ts';

/** AES-256-GCM's tag, appended to each encrypted segment. */
export const TAG_BYTES = 16;

export const layoutSchema = z
  .object({
    /** Plaintext bytes of the file. */
    size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** Plaintext bytes per segment (the last one may be shorter). */
    segmentBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 2 ** 20),
    /** Pieces that rebuild a segment. */
    k: z
      .number()
      .int()
      .min(1)
      .max(MAX_SHARDS - 1),
    /** Pieces per segment, so shards per file. */
    n: z.number().int().min(2).max(MAX_SHARDS),
    encrypted: z.boolean(),
  })
  .strict()
  .refine((l) => l.k < l.n, { message: 'k must be less than n', path: ['k'] });
export type Layout = z.infer<typeof layoutSchema>;

export function checkLayout(layout: Layout): void {
  checkCode(layout.k, layout.n);
}

/** Segments of the file (an empty file has one empty segment, so it still has shards to prove). */
export function segmentCount(l: Layout): number {
  return Math.max(1, Math.ceil(l.size / l.segmentBytes));
}

/** Plaintext bytes [start, end) of segment `s`. */
export function segmentRange(l: Layout, s: number): { start: number; end: number } {
  const start = s * l.segmentBytes;
  return { start, end: Math.min(l.size, start + l.segmentBytes) };
}

/** Bytes of segment `s` as coded: its plaintext, plus the tag if encrypted. */
export function codedBytes(l: Layout, s: number): number {
  const { start, end } = segmentRange(l, s);
  return end - start + (l.encrypted ? TAG_BYTES : 0);
}

/** Bytes of each of segment `s`'s pieces. */
export function segmentPieceBytes(l: Layout, s: number): number {
  return pieceBytes(codedBytes(l, s), l.k);
}

/** Offset of segment `s`'s piece within a shard (every segment before the last is full size). */
export function pieceOffset(l: Layout, s: number): number {
  return s === 0 ? 0 : s * segmentPieceBytes(l, 0);
}

/** Bytes of each shard of the file. */
export function shardBytes(l: Layout): number {
  const last = segmentCount(l) - 1;
  return pieceOffset(l, last) + segmentPieceBytes(l, last);
}

/** Segments [first, last] that hold plaintext bytes [start, end) (end exclusive, start < end). */
export function segmentsFor(l: Layout, start: number, end: number): { first: number; last: number } {
  return { first: Math.floor(start / l.segmentBytes), last: Math.floor((end - 1) / l.segmentBytes) };
}
