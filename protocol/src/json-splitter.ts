// Reads a JSON document that may be far larger than memory as it streams in: the rows of the
// arrays a caller names are handed over one at a time as their bytes (to be parsed on their own),
// the scalars outside them as they complete, and everything else is kept as a small "envelope"
// document in which those arrays are empty. This is how an epoch artifact of a million devices
// (gigabytes) is read with bounded memory: JSON.parse runs per row, never on the whole document.
//
// It checks the structure as it goes (brackets, commas, colons, where values may stand) and names
// the byte offset and the path of the first thing that is not JSON, or of where the document was
// cut off. What is inside a row is checked by whoever parses the row.

export class JsonSplitError extends Error {
  override name = 'JsonSplitError';
}

type Frame = {
  array: boolean;
  /** Arrays: index of the current row. */
  index: number;
  /** Objects: the current key. */
  key: string;
  /** Objects: keys seen (for a trailing comma). */
  keys: number;
  /** A value has been seen since the last comma (or the start). */
  hasValue: boolean;
  /** Objects: the next string is a key. */
  expectKey: boolean;
  /** Objects: a key was read and its colon is still to come. */
  needColon: boolean;
  /** Arrays whose rows are handed over instead of kept. */
  streamed: boolean;
};

export type SplitHandlers = {
  /** Whether the array at `path` (indices as numbers) is streamed row by row. */
  streamed(path: readonly (string | number)[]): boolean;
  /** One row of a streamed array: its bytes (valid during the call only), its path and its start offset. */
  row(path: readonly (string | number)[], bytes: Uint8Array, offset: number): void;
  /** A scalar outside streamed arrays (its JSON text), as soon as it is complete. */
  scalar?(path: readonly (string | number)[], text: string): void;
  /** A key outside streamed arrays, with the offset just after its colon. */
  key?(path: readonly (string | number)[], offset: number): void;
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SCALAR = /^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null)$/;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Where a value that is not a string, object or array may start: a digit, '-', or t/f/n. */
function startsScalar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x74 || c === 0x66 || c === 0x6e;
}

function endsScalar(c: number): boolean {
  return isSpace(c) || c === 0x2c || c === 0x7d || c === 0x5d;
}

/** Path segments as `a.b[3].c`. */
export function formatPath(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s || 'the top level';
}

/** Deeper than this is refused: no artifact needs it, and a hostile one would cost time per level. */
export const MAX_DEPTH = 64;

export class JsonSplitter {
  private readonly stack: Frame[] = [];
  private offset = 0;
  private readonly envelope: Uint8Array[] = [];
  private envelopeFrom = 0;
  /** The row being collected: its start offset and its parts from earlier chunks; depth of its array. */
  private rowStart = -1;
  private rowParts: Uint8Array[] = [];
  private rowDepth = -1;
  private inString = false;
  private escaped = false;
  private stringIsKey = false;
  /** Text of the key or scalar being read (outside rows), and where it began. */
  private token: Uint8Array[] | null = null;
  private tokenStart = 0;
  private scalarRun = false;
  private done = false;
  private sawRoot = false;

  constructor(private readonly on: SplitHandlers) {}

  private path(): (string | number)[] {
    return this.stack.map((f) => (f.array ? f.index : f.key));
  }

  private fail(at: number, what: string): never {
    throw new JsonSplitError(`not JSON at byte ${at} (in ${formatPath(this.path())}): ${what}`);
  }

  /** A value starts at `at`: checks that one may, and starts a row if its array is streamed. */
  private valueStarts(at: number, what: string): void {
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      if (this.sawRoot) this.fail(at, 'more than one value at the top level');
      this.sawRoot = true;
      return;
    }
    if (top.hasValue) this.fail(at, `expected "," before ${what}`);
    if (!top.array && (top.expectKey || top.needColon))
      this.fail(at, top.needColon ? `expected ":" before ${what}` : `expected a key, got ${what}`);
    top.hasValue = true;
    if (top.array && top.streamed && this.rowDepth < 0) {
      this.rowStart = at;
      this.rowDepth = this.stack.length;
      this.rowParts = [];
    }
  }

  /** A value ended just before offset `end` (in `chunk`, which starts at `base`): hands over a finished row. */
  private valueEnds(end: number, chunk: Buffer, base: number): void {
    if (this.rowDepth !== this.stack.length) return;
    const part = chunk.subarray(Math.max(this.rowStart - base, 0), end - base);
    let bytes: Uint8Array = part;
    if (this.rowParts.length) {
      this.rowParts.push(part);
      bytes = Buffer.concat(this.rowParts);
    }
    this.on.row(this.path(), bytes, this.rowStart);
    this.stack[this.stack.length - 1]!.index++;
    this.rowDepth = -1;
    this.rowStart = -1;
    this.rowParts = [];
    this.envelopeFrom = end;
  }

  private keepEnvelope(chunk: Buffer, base: number, end: number): void {
    if (end > this.envelopeFrom) this.envelope.push(Uint8Array.from(chunk.subarray(this.envelopeFrom - base, end - base)));
    this.envelopeFrom = end;
  }

  private collect(chunk: Buffer, from: number, to: number): void {
    if (this.token && to > from) this.token.push(Uint8Array.from(chunk.subarray(from, to)));
  }

  private tokenText(): string {
    const text = Buffer.concat(this.token!).toString('utf8');
    this.token = null;
    return text;
  }

  /** Feeds the next chunk of the document. */
  push(input: Uint8Array): void {
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const base = this.offset;
    const n = chunk.length;
    this.envelopeFrom = base;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          this.collect(chunk, i, i + 1);
          i++;
          continue;
        }
        // Most bytes are inside strings (hex): a native search for the closing quote.
        const q = chunk.indexOf(QUOTE, i);
        let k = (q < 0 ? n : q) - 1;
        while (k >= i && chunk[k] === BACKSLASH) k--;
        const escapedQuote = ((q < 0 ? n : q) - 1 - k) % 2 === 1;
        if (q < 0) {
          this.collect(chunk, i, n);
          this.escaped = escapedQuote; // the chunk ends in a backslash that escapes the next byte
          break;
        }
        this.collect(chunk, i, q + 1);
        i = q + 1;
        if (escapedQuote) continue;
        this.inString = false;
        if (this.stringIsKey) {
          const top = this.stack[this.stack.length - 1]!;
          top.key = JSON.parse(this.tokenText()) as string;
          top.keys++;
          top.expectKey = false;
          top.needColon = true;
        } else if (this.token) this.on.scalar?.(this.path(), this.tokenText());
        else this.valueEnds(base + i, chunk, base);
        continue;
      }
      const c = chunk[i]!;
      if (this.scalarRun) {
        if (!endsScalar(c)) {
          i++;
          continue;
        }
        this.scalarEnds(chunk, base, i);
      }
      if (isSpace(c)) {
        i++;
        continue;
      }
      const at = base + i;
      const top = this.stack[this.stack.length - 1];
      if (this.done) this.fail(at, 'more after the end of the document');
      switch (c) {
        case 0x7b: // {
        case 0x5b: {
          // [
          const array = c === 0x5b;
          this.valueStarts(at, array ? '[' : '{');
          if (this.stack.length >= MAX_DEPTH) this.fail(at, `nested deeper than ${MAX_DEPTH} levels`);
          const streamed = array && this.rowDepth < 0 && this.on.streamed(this.path());
          this.stack.push({ array, index: 0, key: '', keys: 0, hasValue: false, expectKey: !array, needColon: false, streamed });
          if (streamed) this.keepEnvelope(chunk, base, at + 1);
          break;
        }
        case 0x7d: // }
        case 0x5d: {
          // ]
          const array = c === 0x5d;
          if (!top || top.array !== array) this.fail(at, `unexpected ${array ? ']' : '}'}`);
          if (!top.array && top.needColon) this.fail(at, 'a key without a value');
          if (!top.hasValue && (top.array ? top.index > 0 : top.keys > 0)) this.fail(at, 'a trailing comma');
          if (top.streamed) this.envelopeFrom = at;
          this.stack.pop();
          if (this.stack.length === 0) this.done = true;
          this.valueEnds(at + 1, chunk, base);
          break;
        }
        case 0x2c: {
          // ,
          if (!top?.hasValue) this.fail(at, 'unexpected ","');
          top.hasValue = false;
          if (top.array && !top.streamed) top.index++;
          if (!top.array) top.expectKey = true;
          if (top.streamed) this.envelopeFrom = at + 1;
          break;
        }
        case 0x3a: {
          // :
          if (!top || top.array || !top.needColon) this.fail(at, 'unexpected ":"');
          top.needColon = false;
          if (this.rowDepth < 0) this.on.key?.(this.path(), at + 1);
          break;
        }
        case QUOTE: {
          this.inString = true;
          this.escaped = false;
          if (top && !top.array && top.expectKey) {
            if (top.hasValue) this.fail(at, 'expected ","');
            this.stringIsKey = true;
            this.token = [Uint8Array.of(c)];
          } else {
            this.valueStarts(at, 'a string');
            this.stringIsKey = false;
            this.token = this.rowDepth < 0 && this.on.scalar ? [Uint8Array.of(c)] : null;
          }
          break;
        }
        default: {
          if (!startsScalar(c)) this.fail(at, `unexpected character ${JSON.stringify(String.fromCharCode(c))}`);
          this.valueStarts(at, 'a value');
          this.scalarRun = true;
          this.tokenStart = at;
          this.token = this.rowDepth < 0 && this.on.scalar ? [] : null;
          i++;
          continue;
        }
      }
      i++;
    }
    if (this.scalarRun && this.token) this.collect(chunk, Math.max(this.tokenStart - base, 0), n);
    if (this.rowDepth >= 0) {
      const from = Math.max(this.rowStart - base, 0);
      if (from < n) this.rowParts.push(Uint8Array.from(chunk.subarray(from)));
      this.envelopeFrom = base + n;
    } else this.keepEnvelope(chunk, base, base + n);
    this.offset = base + n;
  }

  /** A number or literal ended at index `i` of `chunk`. */
  private scalarEnds(chunk: Buffer, base: number, i: number): void {
    this.scalarRun = false;
    if (this.token) {
      this.collect(chunk, Math.max(this.tokenStart - base, 0), i);
      const text = this.tokenText();
      if (!SCALAR.test(text)) this.fail(this.tokenStart, `not a value: ${text.slice(0, 40)}`);
      this.on.scalar?.(this.path(), text);
    }
    this.valueEnds(base + i, chunk, base);
  }

  /** The document ended: checks it was whole; returns the envelope's text (streamed arrays empty). */
  end(): string {
    if (this.scalarRun) this.scalarEnds(Buffer.alloc(0), this.offset, 0);
    if (!this.done || this.inString)
      throw new JsonSplitError(`the document is cut off at byte ${this.offset} (in ${formatPath(this.path())})`);
    return Buffer.concat(this.envelope).toString('utf8');
  }
}
