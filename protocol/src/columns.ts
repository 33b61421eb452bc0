// Growable typed columns: how an epoch's inputs and results are held at a million devices. A row
// is an index; each field is one typed array (or a dictionary of repeated strings), so a million
// devices cost a few hundred bytes each instead of several objects and strings each.
//
// A finished table's arrays move into SharedArrayBuffers of exactly their size (`compact()`), so
// another thread can read the table without a copy (`share()`, then `fromShared()` there): the
// close writes an artifact's inputs on a second thread while the first computes its result.
// While a table grows its arrays are ordinary ones: those that growth leaves behind are freed at
// once, where shared ones linger and stay resident.
import type { Hex } from 'viem';
import { toHex, writeHexDigits, writeLowerHex } from './bytes.ts';

export class ColumnError extends Error {
  override name = 'ColumnError';
}

type Typed = Uint8Array | Float64Array | Uint32Array;

function shared<T extends Typed>(Kind: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, n: number): T {
  return new Kind(new SharedArrayBuffer(n * Kind.BYTES_PER_ELEMENT));
}

function plain<T extends Typed>(Kind: { new (length: number): T }, n: number): T {
  return new Kind(n);
}

function grow<T extends Typed>(array: T, needed: number, make: (n: number) => T): T {
  if (needed <= array.length) return array;
  const next = make(Math.max(needed, array.length * 2, 16));
  next.set(array as never);
  return next;
}

/** `array` cut to its first `n` elements in a buffer of exactly that size (growth leaves up to twice the room). */
function exact<T extends Typed>(array: T, n: number): T {
  if (array.length === n && array.buffer instanceof SharedArrayBuffer) return array;
  const Kind = array.constructor as { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };
  const out = shared(Kind, n);
  out.set(array.subarray(0, n) as never);
  return out;
}

/** `array`'s first `used` elements in shared memory with room for `n` (unchanged if it has that room). */
function reserved<T extends Typed>(array: T, used: number, n: number): T {
  if (array.length >= n) return array;
  const Kind = array.constructor as { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };
  const out = shared(Kind, n);
  out.set(array.subarray(0, used) as never);
  return out;
}

/** A column as another thread receives it: its arrays (shared memory, not copied) and length. */
export type SharedColumn =
  | { kind: 'hex'; width: number; nullable: boolean; length: number; data: Uint8Array; nulls: Uint8Array | null }
  | { kind: 'int'; nullable: boolean; length: number; data: Float64Array }
  | { kind: 'string'; length: number; codes: Uint32Array; values: string[] }
  | { kind: 'text'; length: number; used: number; data: Uint8Array; ends: Uint32Array };

/**
 * Fixed-width binary values given as `0x` + lowercase hex (device ids, keys, digests, nonces,
 * signatures), packed in one buffer; `null` is allowed when the column is nullable.
 */
export class HexColumn {
  private data: Uint8Array;
  private nulls: Uint8Array | null;
  length = 0;

  constructor(
    readonly width: number,
    readonly nullable = false,
    capacity = 16,
  ) {
    this.data = new Uint8Array(width * capacity);
    this.nulls = nullable ? new Uint8Array(capacity) : null;
  }

  share(): SharedColumn {
    this.compact();
    return { kind: 'hex', width: this.width, nullable: this.nullable, length: this.length, data: this.data, nulls: this.nulls };
  }

  /** Moves the values into shared memory of exactly their size (once the column is complete). */
  compact(): void {
    this.data = exact(this.data, this.width * this.length);
    if (this.nulls) this.nulls = exact(this.nulls, this.length);
  }

  /** Makes room for `rows` rows in all, in shared memory, so that filling it leaves no garbage behind. */
  reserve(rows: number): void {
    this.data = reserved(this.data, this.width * this.length, this.width * rows);
    if (this.nulls) this.nulls = reserved(this.nulls, this.length, rows);
  }

  static fromShared(s: SharedColumn): HexColumn {
    if (s.kind !== 'hex') throw new ColumnError(`expected a hex column, got ${s.kind}`);
    const c = new HexColumn(s.width, s.nullable, 0);
    c.data = s.data;
    c.nulls = s.nulls;
    c.length = s.length;
    return c;
  }

  /** Appends a value; throws ColumnError unless it is `0x` and 2×width lowercase hex digits (or null, if nullable). */
  push(value: string | null): number {
    const row = this.length;
    this.data = grow(this.data, this.width * (row + 1), (n) => plain(Uint8Array, n));
    if (this.nulls) this.nulls = grow(this.nulls, row + 1, (n) => plain(Uint8Array, n));
    if (value === null) {
      if (!this.nulls) throw new ColumnError('null in a column that does not take null');
      this.nulls[row] = 1;
    } else if (!this.write(value, row)) {
      throw new ColumnError(`expected 0x and ${2 * this.width} lowercase hex digits, got ${JSON.stringify(String(value).slice(0, 80))}`);
    }
    this.length++;
    return row;
  }

  /** Appends `width` bytes from `source` at `offset`. */
  pushBytes(source: Uint8Array, offset: number): number {
    const row = this.length;
    this.data = grow(this.data, this.width * (row + 1), (n) => plain(Uint8Array, n));
    if (this.nulls) this.nulls = grow(this.nulls, row + 1, (n) => plain(Uint8Array, n));
    this.data.set(source.subarray(offset, offset + this.width), this.width * row);
    this.length++;
    return row;
  }

  private write(value: string, row: number): boolean {
    return writeLowerHex(value, this.width, this.data, this.width * row);
  }

  isNull(row: number): boolean {
    return this.nulls !== null && this.nulls[row] === 1;
  }

  /** The value as `0x` + hex (a new string: avoid in hot loops). */
  get(row: number): Hex | null {
    return this.isNull(row) ? null : toHex(this.data, this.width * row, this.width);
  }

  /** The packed bytes (row r at width × r). */
  get bytes(): Uint8Array {
    return this.data.subarray(0, this.width * this.length);
  }

  /** Writes row `row` as lowercase hex digits (no 0x) into `out` at `at`; returns the end. */
  writeHexDigits(row: number, out: Uint8Array, at: number): number {
    return writeHexDigits(this.data, this.width * row, this.width, out, at);
  }

  /** The first four bytes of row `row` as an unsigned number (ordered as the bytes are). */
  prefix(row: number): number {
    const d = this.data;
    const at = this.width * row;
    return ((d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!) >>> 0;
  }

  /** Whether row `a` of this column holds the same bytes as row `b` of `other` (same width). */
  equals(a: number, other: HexColumn, b: number): boolean {
    const w = this.width;
    const x = this.data;
    const y = other.data;
    for (let k = 0, i = w * a, j = w * b; k < w; k++) if (x[i + k] !== y[j + k]) return false;
    return true;
  }

  /** -1, 0 or 1 as row `a` sorts before, with or after row `b` of `other` (bytes, big-endian). */
  compare(a: number, other: HexColumn, b: number): number {
    const w = this.width;
    const x = this.data;
    const y = other.data;
    for (let k = 0, i = w * a, j = w * b; k < w; k++) {
      const d = x[i + k]! - y[j + k]!;
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    return 0;
  }
}

/** Safe integers (times in ms, epochs, counts); `null` allowed when nullable (stored as NaN). */
export class IntColumn {
  private data: Float64Array = new Float64Array(16);
  length = 0;

  constructor(readonly nullable = false) {}

  share(): SharedColumn {
    this.compact();
    return { kind: 'int', nullable: this.nullable, length: this.length, data: this.data };
  }

  compact(): void {
    this.data = exact(this.data, this.length);
  }

  reserve(rows: number): void {
    this.data = reserved(this.data, this.length, rows);
  }

  static fromShared(s: SharedColumn): IntColumn {
    if (s.kind !== 'int') throw new ColumnError(`expected an integer column, got ${s.kind}`);
    const c = new IntColumn(s.nullable);
    c.data = s.data;
    c.length = s.length;
    return c;
  }

  push(value: number | null): number {
    if (value === null) {
      if (!this.nullable) throw new ColumnError('null in a column that does not take null');
    } else if (!Number.isSafeInteger(value)) throw new ColumnError(`expected a safe integer, got ${String(value).slice(0, 40)}`);
    this.data = grow(this.data, this.length + 1, (n) => plain(Float64Array, n));
    this.data[this.length] = value === null ? Number.NaN : value;
    return this.length++;
  }

  get(row: number): number {
    return this.data[row]!;
  }

  isNull(row: number): boolean {
    return Number.isNaN(this.data[row]!);
  }

  get values(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/**
 * Strings with few distinct values (network kinds, report types, reasons, stakes, owners), each
 * distinct string stored once. Keeps every string exactly as given (case included).
 */
export class StringColumn {
  private codes: Uint32Array = new Uint32Array(16);
  private readonly index = new Map<string, number>();
  readonly values: string[] = [];
  length = 0;

  share(): SharedColumn {
    this.compact();
    return { kind: 'string', length: this.length, codes: this.codes, values: this.values };
  }

  compact(): void {
    this.codes = exact(this.codes, this.length);
  }

  reserve(rows: number): void {
    this.codes = reserved(this.codes, this.length, rows);
  }

  static fromShared(s: SharedColumn): StringColumn {
    if (s.kind !== 'string') throw new ColumnError(`expected a string column, got ${s.kind}`);
    const c = new StringColumn();
    c.codes = s.codes;
    c.length = s.length;
    s.values.forEach((v, code) => {
      c.values.push(v);
      c.index.set(v, code);
    });
    return c;
  }

  push(value: string): number {
    if (typeof value !== 'string') throw new ColumnError(`expected a string, got ${typeof value}`);
    let code = this.index.get(value);
    if (code === undefined) {
      code = this.values.length;
      this.values.push(value);
      this.index.set(value, code);
    }
    this.codes = grow(this.codes, this.length + 1, (n) => plain(Uint32Array, n));
    this.codes[this.length] = code;
    return this.length++;
  }

  get(row: number): string {
    return this.values[this.codes[row]!]!;
  }

  /** The dictionary code of a row: equal codes, equal strings. */
  code(row: number): number {
    return this.codes[row]!;
  }

  /** The code of `value`, or -1 if no row holds it. */
  codeOf(value: string): number {
    return this.index.get(value) ?? -1;
  }

  private literals: Uint8Array[] = [];

  /** Row `row`'s value as a JSON string literal in UTF-8 (made once per distinct value). */
  literal(row: number): Uint8Array {
    const code = this.codes[row]!;
    let lit = this.literals[code];
    if (!lit) {
      lit = utf8.encode(JSON.stringify(this.values[code]));
      this.literals[code] = lit;
    }
    return lit;
  }
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Arbitrary strings (JSON text of report bodies, free-form details), packed as UTF-8 in one buffer. */
export class TextColumn {
  private data: Uint8Array = new Uint8Array(1024);
  private ends: Uint32Array = new Uint32Array(16);
  private used = 0;
  length = 0;

  share(): SharedColumn {
    this.compact();
    return { kind: 'text', length: this.length, used: this.used, data: this.data, ends: this.ends };
  }

  compact(): void {
    this.data = exact(this.data, this.used);
    this.ends = exact(this.ends, this.length);
  }

  /** Room for `rows` values of `bytes` bytes in all. */
  reserve(rows: number, bytes: number): void {
    this.data = reserved(this.data, this.used, bytes);
    this.ends = reserved(this.ends, this.length, rows);
  }

  static fromShared(s: SharedColumn): TextColumn {
    if (s.kind !== 'text') throw new ColumnError(`expected a text column, got ${s.kind}`);
    const c = new TextColumn();
    c.data = s.data;
    c.ends = s.ends;
    c.used = s.used;
    c.length = s.length;
    return c;
  }

  push(value: string): number {
    if (typeof value !== 'string') throw new ColumnError(`expected a string, got ${typeof value}`);
    this.data = grow(this.data, this.used + 3 * value.length, (n) => plain(Uint8Array, n));
    const { written } = utf8.encodeInto(value, this.data.subarray(this.used));
    this.used += written;
    this.ends = grow(this.ends, this.length + 1, (n) => plain(Uint32Array, n));
    this.ends[this.length] = this.used;
    return this.length++;
  }

  /** The UTF-8 bytes of a row (a view: copy it to keep it). */
  bytesOf(row: number): Uint8Array {
    return this.data.subarray(row === 0 ? 0 : this.ends[row - 1]!, this.ends[row]!);
  }

  get(row: number): string {
    return utf8Decoder.decode(this.bytesOf(row));
  }
}
