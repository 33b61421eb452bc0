// Systematic Reed-Solomon erasure coding over GF(2^8): a segment's k data pieces are kept as they
// are and n - k parity pieces are added, each a combination of the data pieces by one row of a
// Cauchy matrix. Every k×k submatrix of [identity; Cauchy] is invertible, so any k pieces rebuild
// the rest. Written here rather than taken from npm: the WebAssembly build of the Rust crate
// (@subspace/reed-solomon-erasure.wasm 0.2.5) fails to reconstruct some sets of pieces that hold
// enough (code 10 for pieces 0, 1, 2, 4 of a 4-of-8 code), and the fastest codec on npm
// (@ronomon/reed-solomon) is a native addon; bench/storage-core.ts compares this one with both.
import { inv, invert, MUL } from './gf256.ts';

export const MAX_SHARDS = 255;

export class ErasureError extends Error {
  override readonly name = 'ErasureError';
}

/** Checks a k-of-n code: 1 ≤ k < n ≤ 255. */
export function checkCode(k: number, n: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n <= k || n > MAX_SHARDS)
    throw new ErasureError(`a ${k}-of-${n} code is not possible: need whole numbers with 1 ≤ k < n ≤ ${MAX_SHARDS}`);
}

/** Bytes of each piece when `bytes` are split into k equal pieces (the last one zero-padded). */
export function pieceBytes(bytes: number, k: number): number {
  return Math.max(1, Math.ceil(bytes / k));
}

const matrices = new Map<string, Uint8Array>();
/** Rows 0..n-1 of the code's generator matrix (k columns): identity, then Cauchy 1 / (x_i + y_j). */
function generator(k: number, n: number): Uint8Array {
  const id = `${k}/${n}`;
  let g = matrices.get(id);
  if (!g) {
    g = new Uint8Array(n * k);
    for (let i = 0; i < k; i++) g[i * k + i] = 1;
    // Cauchy entries 1 / (x_i + y_j) with x_i = i ∈ [k, n) and y_j = j ∈ [0, k): the two sets are
    // disjoint, so no sum (XOR) is 0, and every square submatrix is invertible.
    for (let i = k; i < n; i++) for (let j = 0; j < k; j++) g[i * k + j] = inv(i ^ j);
    matrices.set(id, g);
  }
  return g;
}

/** out ^= c · src, byte by byte (out = c · src when `first`). */
function mulAdd(out: Uint8Array, src: Uint8Array, c: number, first: boolean): void {
  const row = MUL.subarray(c * 256, c * 256 + 256);
  const len = out.length;
  if (first) for (let b = 0; b < len; b++) out[b] = row[src[b]!]!;
  else for (let b = 0; b < len; b++) out[b]! ^= row[src[b]!]!;
}

/** Writes the pieces of rows `rows` as combinations of the k data pieces (`data[j]`). */
function combine(
  coefficients: (row: number, j: number) => number,
  data: Uint8Array[],
  targets: Uint8Array[],
  rows: readonly number[],
): void {
  rows.forEach((r, t) => {
    for (let j = 0; j < data.length; j++) mulAdd(targets[t]!, data[j]!, coefficients(r, j), j === 0);
  });
}

/**
 * Splits `data` into k pieces (zero-padded to equal size) and computes n - k parity pieces.
 * Returns the n pieces as views of one buffer: piece i is bytes [i × size, (i + 1) × size).
 */
export function encodeSegment(data: Uint8Array, k: number, n: number): { pieces: Uint8Array; size: number } {
  checkCode(k, n);
  const size = pieceBytes(data.length, k);
  const pieces = new Uint8Array(size * n);
  pieces.set(data);
  const view = (i: number) => pieces.subarray(i * size, (i + 1) * size);
  const g = generator(k, n);
  const parity = Array.from({ length: n - k }, (_, i) => k + i);
  combine(
    (r, j) => g[r * k + j]!,
    Array.from({ length: k }, (_, j) => view(j)),
    parity.map(view),
    parity,
  );
  return { pieces, size };
}

/**
 * Rebuilds every piece of a segment from any k of them. `pieces[i]` is piece i or null where it is
 * missing; at least k must be present, all of the same size. Returns the n pieces (the given ones
 * as they were, the missing ones rebuilt) as one buffer, piece i at [i × size, (i + 1) × size).
 */
export function reconstructSegment(pieces: readonly (Uint8Array | null)[], k: number, n: number): Uint8Array {
  checkCode(k, n);
  if (pieces.length !== n) throw new ErasureError(`expected ${n} piece slots, got ${pieces.length}`);
  const present = pieces.flatMap((p, i) => (p === null ? [] : [i]));
  if (present.length < k) throw new ErasureError(`only ${present.length} of the ${k} pieces needed are available`);
  const size = pieces[present[0]!]!.length;
  const all = new Uint8Array(size * n);
  const view = (i: number) => all.subarray(i * size, (i + 1) * size);
  for (const i of present) {
    if (pieces[i]!.length !== size) throw new ErasureError(`piece ${i} has ${pieces[i]!.length} bytes; the others have ${size}`);
    all.set(pieces[i]!, i * size);
  }
  const g = generator(k, n);
  const missingData = Array.from({ length: k }, (_, j) => j).filter((j) => pieces[j] === null);
  if (missingData.length > 0) {
    // The data pieces are inverse(G_S) · pieces_S for the first k present rows S.
    const use = present.slice(0, k);
    const sub = new Uint8Array(k * k);
    for (const [t, r] of use.entries()) sub.set(g.subarray(r * k, r * k + k), t * k);
    const decode = invert(sub, k);
    combine((r, t) => decode[r * k + t]!, use.map(view), missingData.map(view), missingData);
  }
  const missingParity = Array.from({ length: n - k }, (_, i) => k + i).filter((i) => pieces[i] === null);
  if (missingParity.length > 0)
    combine(
      (r, j) => g[r * k + j]!,
      Array.from({ length: k }, (_, j) => view(j)),
      missingParity.map(view),
      missingParity,
    );
  return all;
}
