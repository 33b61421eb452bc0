// Canonical JSON written as a stream of byte chunks, for documents too large for one string (an
// epoch artifact at a million devices is gigabytes; V8 strings stop at 512 MiB). Callers write
// keys in sorted order and values as the canonical encoding has them (encoding.ts): this writer
// only turns those calls into bytes, fast, and keeps track of where in the document it is, so
// that a reader comparing two documents can name the path of the first difference.
import { writeHexDigits } from './bytes.ts';
import type { HexColumn, StringColumn } from './columns.ts';

/** A consumer of the document's bytes; `chunk` is only valid during the call (copy to keep it). */
export type ByteSink = (chunk: Uint8Array) => void;

const QUOTE = 0x22;
const SIMPLE_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/; // printable ASCII but " and \
const ASCII = /^[^\u0080-\uffff]*$/;

/** Where a document position falls: the path of the innermost element and where it starts. */
export type Location = { path: (string | number)[]; start: number };

export class JsonWriter {
  private buf: Buffer;
  private pos = 0;
  private flushed = 0;
  private readonly path: (string | number)[] = [];
  private readonly starts: number[] = [];
  private locateAt = -1;
  /** Set once the document passed `locate`'s offset: the element that holds it. */
  located: Location | null = null;

  /**
   * `chunkBytes` (at least 4 KiB, room for any single value but long text) per call of `sink`.
   * With `handOver`, each chunk is the sink's to keep (a fresh buffer is taken for the next one),
   * so it can be transferred to another thread instead of copied.
   */
  constructor(
    private readonly sink: ByteSink,
    chunkBytes = 1 << 20,
    private readonly handOver = false,
  ) {
    this.chunkBytes = Math.max(4096, chunkBytes);
    this.buf = Buffer.allocUnsafeSlow(this.chunkBytes);
  }

  private readonly chunkBytes: number;

  /** Records the element holding byte `offset` (see `located`) as the document is written. */
  locate(offset: number): void {
    this.locateAt = offset;
  }

  /** Bytes written so far. */
  get offset(): number {
    return this.flushed + this.pos;
  }

  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.flush();
  }

  /** Hands everything written so far to the sink. */
  flush(): void {
    if (this.pos === 0) return;
    this.sink(this.buf.subarray(0, this.pos));
    this.flushed += this.pos;
    this.pos = 0;
    // The sink may have transferred the old buffer away (it is detached then): take a new one.
    if (this.handOver) this.buf = Buffer.allocUnsafeSlow(this.chunkBytes);
  }

  private check(): void {
    if (this.locateAt >= 0 && this.located === null && this.offset > this.locateAt) {
      this.located = { path: [...this.path], start: this.starts[this.starts.length - 1] ?? 0 };
    }
  }

  /** ASCII text as is: punctuation, keys known to need no escaping, numbers. */
  raw(text: string): void {
    const n = text.length;
    if (n > 64) {
      // Long text: one native copy. (A call into Buffer#write costs more than a short loop.)
      if (n > this.buf.length) {
        this.bytes(Buffer.from(text, 'latin1'));
        return;
      }
      this.room(n);
      this.pos += this.buf.write(text, this.pos, 'latin1');
    } else {
      this.room(n);
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = text.charCodeAt(i);
      this.pos = p;
    }
    this.check();
  }

  /** Row `row` of a dictionary column as its JSON string literal (each distinct value escaped once). */
  stringOf(column: StringColumn, row: number): void {
    this.bytes(column.literal(row));
  }

  /** Bytes as they are (already canonical JSON, e.g. a report body stored as its encoding). */
  bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n > this.buf.length) {
      // Longer than a chunk: handed over as a copy of its own (the sink may keep or transfer it).
      this.flush();
      this.sink(this.handOver ? Uint8Array.from(bytes) : bytes);
      this.flushed += n;
    } else {
      this.room(n);
      if (n > 32) this.buf.set(bytes, this.pos);
      else for (let i = 0, p = this.pos; i < n; i++) this.buf[p + i] = bytes[i]!;
      this.pos += n;
    }
    this.check();
  }

  /** Text that is already JSON (canonicalJson's output), as UTF-8. */
  json(text: string): void {
    if (ASCII.test(text)) this.raw(text);
    else this.bytes(Buffer.from(text, 'utf8'));
  }

  /** `"key":`; keys are plain ASCII names. */
  key(name: string): void {
    this.raw(`"${name}":`);
  }

  /** A JSON string literal, escaped as JSON.stringify escapes it (the canonical encoding's rule). */
  string(value: string): void {
    if (SIMPLE_STRING.test(value)) this.raw(`"${value}"`);
    else this.bytes(Buffer.from(JSON.stringify(value), 'utf8'));
  }

  /** A safe integer. */
  int(value: number): void {
    if (value < 0 || !Number.isSafeInteger(value)) {
      this.raw(String(value));
      return;
    }
    // Digits written straight into the buffer, last first: no string per number. Millisecond
    // times have 13 digits, past int32: split in two halves of at most 8 digits, each done in
    // int32 arithmetic, instead of dividing doubles digit by digit.
    const high = Math.floor(value / 1e8);
    const low = value - high * 1e8;
    const digits = high > 0 ? 8 + decimalDigits(high) : decimalDigits(low);
    this.room(digits);
    const b = this.buf;
    let p = this.pos + digits - 1;
    let v = low | 0;
    for (let i = high > 0 ? 8 : digits; i > 0; i--) {
      const q = (v / 10) | 0;
      b[p--] = 0x30 + v - q * 10;
      v = q;
    }
    v = high | 0;
    while (v > 0) {
      const q = (v / 10) | 0;
      b[p--] = 0x30 + v - q * 10;
      v = q;
    }
    this.pos += digits;
    this.check();
  }

  /** A bigint as its decimal string, quoted (the canonical encoding of a bigint). */
  decimal(value: bigint): void {
    this.raw(`"${value.toString()}"`);
  }

  null(): void {
    this.raw('null');
  }

  /** The lowercase hex digits (no 0x, no quotes) of `length` bytes of `bytes` at `at`. */
  rawHexDigits(bytes: Uint8Array, at: number, length: number): void {
    this.room(2 * length);
    this.pos = writeHexDigits(bytes, at, length, this.buf, this.pos);
    this.check();
  }

  /** Row `row` of a hex column as its hex digits only (no quotes, no 0x), inside a string being written. */
  hexDigits(column: HexColumn, row: number): void {
    this.room(2 * column.width);
    this.pos = column.writeHexDigits(row, this.buf, this.pos);
    this.check();
  }

  /** Row `row` of a hex column as `"0x…"`, or null. */
  hex(column: HexColumn, row: number): void {
    if (column.isNull(row)) {
      this.null();
      return;
    }
    const n = 4 + 2 * column.width;
    this.room(n);
    const b = this.buf;
    b[this.pos] = QUOTE;
    b[this.pos + 1] = 0x30;
    b[this.pos + 2] = 0x78;
    this.pos = column.writeHexDigits(row, b, this.pos + 3);
    b[this.pos++] = QUOTE;
    this.check();
  }

  /** Enters an element (an object's key or an array's index) for path tracking. */
  enter(segment: string | number): void {
    this.path.push(segment);
    this.starts.push(this.offset);
  }

  leave(): void {
    this.path.pop();
    this.starts.pop();
  }

  /** `"key":` then the value `write` writes, tracked as element `key`. */
  field(name: string, write: () => void, first = false): void {
    if (!first) this.raw(',');
    this.key(name);
    this.enter(name);
    write();
    this.leave();
  }

  /** `[` rows `]`, each row tracked by its index; `row(i)` writes row i. */
  array(count: number, row: (i: number) => void): void {
    this.raw('[');
    for (let i = 0; i < count; i++) {
      if (i > 0) this.raw(',');
      this.enter(i);
      row(i);
      this.leave();
    }
    this.raw(']');
  }
}

/** Decimal digits of 0 ≤ v < 10^8. */
function decimalDigits(v: number): number {
  if (v < 10_000) return v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : 4;
  return v < 100_000 ? 5 : v < 1_000_000 ? 6 : v < 10_000_000 ? 7 : 8;
}
