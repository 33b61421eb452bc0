// Byte helpers for loops over a million accounts or hashes: hex in and out without building
// intermediate strings, and a radix sort of fixed-width byte records. Shared by the reward math
// (rewards.ts) and the reward tree (merkle.ts).

/** Value of each UTF-16 code unit as a hex digit, -1 if it is none (indexable by any charCodeAt). */
const NIBBLE = (() => {
  const table = new Int8Array(65536).fill(-1);
  for (let d = 0; d < 16; d++) {
    table[d.toString(16).charCodeAt(0)] = d;
    table[d.toString(16).toUpperCase().charCodeAt(0)] = d;
  }
  return table;
})();

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** `0x` and the lowercase hex of `length` bytes at `at`. */
export function toHex(bytes: Uint8Array, at: number, length: number): `0x${string}` {
  let hex = '0x';
  for (let j = at; j < at + length; j++) hex += HEX_BYTE[bytes[j]!];
  return hex as `0x${string}`;
}

/** Writes `0x` + 2*length hex digits (either case) as bytes at `at`; false if `text` is anything else. */
export function writeHex(text: unknown, length: number, bytes: Uint8Array, at: number): boolean {
  if (typeof text !== 'string' || text.length !== 2 + 2 * length) return false;
  if (text.charCodeAt(0) !== 0x30 || text.charCodeAt(1) !== 0x78) return false; // "0x"
  let invalid = 0;
  for (let j = 0; j < length; j++) {
    const high = NIBBLE[text.charCodeAt(2 + 2 * j)]!;
    const low = NIBBLE[text.charCodeAt(3 + 2 * j)]!;
    invalid |= high | low; // a -1 anywhere sets the sign bit
    bytes[at + j] = (high << 4) | low;
  }
  return invalid >= 0;
}

const LOWER_NIBBLE = (() => {
  const table = new Int8Array(65536).fill(-1);
  for (let d = 0; d < 16; d++) table[d.toString(16).charCodeAt(0)] = d;
  return table;
})();

/** As {@link writeHex}, but only lowercase digits: the one spelling canonical documents use. */
export function writeLowerHex(text: unknown, length: number, bytes: Uint8Array, at: number): boolean {
  if (typeof text !== 'string' || text.length !== 2 + 2 * length) return false;
  if (text.charCodeAt(0) !== 0x30 || text.charCodeAt(1) !== 0x78) return false; // "0x"
  let invalid = 0;
  for (let j = 0; j < length; j++) {
    const high = LOWER_NIBBLE[text.charCodeAt(2 + 2 * j)]!;
    const low = LOWER_NIBBLE[text.charCodeAt(3 + 2 * j)]!;
    invalid |= high | low;
    bytes[at + j] = (high << 4) | low;
  }
  return invalid >= 0;
}

/** As {@link writeLowerHex}, from 2*length ASCII hex digits in `text` at `from` (no 0x), without making a string. */
export function readLowerHexAscii(text: Uint8Array, from: number, length: number, bytes: Uint8Array, at: number): boolean {
  if (from + 2 * length > text.length) return false;
  let invalid = 0;
  for (let j = 0; j < length; j++) {
    const high = LOWER_NIBBLE[text[from + 2 * j]!]!;
    const low = LOWER_NIBBLE[text[from + 2 * j + 1]!]!;
    invalid |= high | low;
    bytes[at + j] = (high << 4) | low;
  }
  return invalid >= 0;
}

/** Byte → its two hex digits' char codes, the first in the low 8 bits: one lookup per byte. */
const HEX_PAIRS = (() => {
  const digits = '0123456789abcdef';
  const table = new Uint16Array(256);
  for (let b = 0; b < 256; b++) table[b] = digits.charCodeAt(b >> 4) | (digits.charCodeAt(b & 15) << 8);
  return table;
})();

/** Writes the lowercase hex digits (no 0x) of `length` bytes at `from` as ASCII into `out` at `to`; returns the end. */
export function writeHexDigits(bytes: Uint8Array, from: number, length: number, out: Uint8Array, to: number): number {
  for (let j = from, end = from + length; j < end; j++) {
    const pair = HEX_PAIRS[bytes[j]!]!;
    out[to] = pair & 255;
    out[to + 1] = pair >> 8;
    to += 2;
  }
  return to;
}

/** Whether the `width`-byte records at `a` and `b` are equal. */
export function sameBytes(bytes: Uint8Array, a: number, b: number, width: number): boolean {
  for (let j = 0; j < width; j++) if (bytes[a + j] !== bytes[b + j]) return false;
  return true;
}

/**
 * The indexes 0..n-1 of the `width`-byte records at bytes[at + i*width], ordered by the records
 * as big-endian numbers (ties keep input order). A radix sort on the first 32 bits does nearly
 * all the work for hashes and addresses, which are uniform; runs that share those 32 bits are
 * then ordered by the remaining bytes. Also hands back the keys' array, free once sorted, so a
 * caller's next n-array costs no memory.
 */
export function sortRecords(bytes: Uint8Array, at: number, n: number, width: number): { order: Uint32Array; spare: Uint32Array } {
  const keys = new Uint32Array(n);
  for (let i = 0, p = at; i < n; i++, p += width) {
    keys[i] = ((bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!) >>> 0;
  }
  const order = radixSortByKey(keys);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && keys[order[end]!] === keys[order[start]!]) end++;
    if (end - start > 1) {
      const run = Array.from(order.subarray(start, end)).sort(
        (x, y) => compareRecords(bytes, at + x * width, at + y * width, width) || x - y,
      );
      order.set(run, start);
    }
    start = end;
  }
  return { order, spare: keys };
}

/** Stable LSD radix sort of the indexes 0..n-1 by a 32-bit key, in two 16-bit passes. */
function radixSortByKey(keys: Uint32Array): Uint32Array {
  const n = keys.length;
  let order = new Uint32Array(n);
  let next = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (const shift of [0, 16]) {
    const starts = new Uint32Array(65536 + 1);
    for (let i = 0; i < n; i++) starts[((keys[i]! >>> shift) & 0xffff) + 1]!++;
    for (let d = 1; d <= 65536; d++) starts[d]! += starts[d - 1]!;
    for (let i = 0; i < n; i++) {
      const index = order[i]!;
      next[starts[(keys[index]! >>> shift) & 0xffff]!++] = index;
    }
    [order, next] = [next, order];
  }
  return order;
}

function compareRecords(bytes: Uint8Array, a: number, b: number, width: number): number {
  for (let j = 0; j < width; j++) {
    const d = bytes[a + j]! - bytes[b + j]!;
    if (d !== 0) return d;
  }
  return 0;
}
