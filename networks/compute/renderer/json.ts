// A small strict JSON parser (RFC 8259) for scene files. No JSON library is available to
// AssemblyScript here, and scenes are small, so a recursive-descent parser into a tree is enough.
// Errors name the line and column and exit through `fail`, so a malformed scene never traps.
import { fail } from './io';

export const enum Kind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

export class JsonValue {
  kind: Kind = Kind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = '';
  /** Array elements, or object values in document order. */
  items: JsonValue[] = [];
  /** Object keys, parallel to `items`. */
  keys: string[] = [];

  /** The member named `key`, or null when absent. */
  get(key: string): JsonValue | null {
    for (let i = 0; i < this.keys.length; i++) {
      if (unchecked(this.keys[i]) == key) return unchecked(this.items[i]);
    }
    return null;
  }
}

export function kindName(kind: Kind): string {
  switch (kind) {
    case Kind.Null:
      return 'null';
    case Kind.Bool:
      return 'a boolean';
    case Kind.Number:
      return 'a number';
    case Kind.String:
      return 'a string';
    case Kind.Array:
      return 'an array';
    default:
      return 'an object';
  }
}

// Nesting deeper than any scene needs is refused before it could overflow the wasm stack, which
// would trap without a message.
const MAX_DEPTH = 64;

class Parser {
  pos: i32 = 0;
  constructor(
    public src: Uint8Array,
    public what: string,
  ) {}

  error(message: string): void {
    let line = 1;
    let col = 1;
    for (let i = 0; i < this.pos && i < this.src.length; i++) {
      if (this.src[i] == 0x0a) {
        line++;
        col = 1;
      } else col++;
    }
    fail(this.what + ': invalid JSON at line ' + line.toString() + ', column ' + col.toString() + ': ' + message);
  }

  peek(): i32 {
    return this.pos < this.src.length ? <i32>this.src[this.pos] : -1;
  }

  skipSpace(): void {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  expect(c: i32, what: string): void {
    if (this.peek() != c) this.unexpected(what);
    this.pos++;
  }

  unexpected(wanted: string): void {
    const c = this.peek();
    if (c < 0) this.error('unexpected end of input, expected ' + wanted);
    else if (c >= 0x20 && c < 0x7f) this.error("unexpected '" + String.fromCharCode(c) + "', expected " + wanted);
    else this.error('unexpected byte 0x' + c.toString(16) + ', expected ' + wanted);
  }

  literal(word: string): void {
    for (let i = 0; i < word.length; i++) {
      if (this.peek() != word.charCodeAt(i)) this.unexpected("'" + word + "'");
      this.pos++;
    }
  }

  value(depth: i32): JsonValue {
    if (depth > MAX_DEPTH) this.error('nested deeper than ' + MAX_DEPTH.toString() + ' levels');
    this.skipSpace();
    const v = new JsonValue();
    const c = this.peek();
    if (c == 0x7b) {
      // {
      v.kind = Kind.Object;
      this.pos++;
      this.skipSpace();
      if (this.peek() == 0x7d) {
        this.pos++;
        return v;
      }
      while (true) {
        this.skipSpace();
        if (this.peek() != 0x22) this.unexpected('a string key');
        const key = this.string();
        if (v.get(key) != null) this.error("duplicate key '" + key + "'");
        this.skipSpace();
        this.expect(0x3a, "':'");
        v.keys.push(key);
        v.items.push(this.value(depth + 1));
        this.skipSpace();
        if (this.peek() == 0x2c) {
          this.pos++;
          continue;
        }
        this.expect(0x7d, "',' or '}'");
        return v;
      }
    }
    if (c == 0x5b) {
      // [
      v.kind = Kind.Array;
      this.pos++;
      this.skipSpace();
      if (this.peek() == 0x5d) {
        this.pos++;
        return v;
      }
      while (true) {
        v.items.push(this.value(depth + 1));
        this.skipSpace();
        if (this.peek() == 0x2c) {
          this.pos++;
          continue;
        }
        this.expect(0x5d, "',' or ']'");
        return v;
      }
    }
    if (c == 0x22) {
      v.kind = Kind.String;
      v.str = this.string();
      return v;
    }
    if (c == 0x74) {
      this.literal('true');
      v.kind = Kind.Bool;
      v.bool = true;
      return v;
    }
    if (c == 0x66) {
      this.literal('false');
      v.kind = Kind.Bool;
      return v;
    }
    if (c == 0x6e) {
      this.literal('null');
      return v;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
      v.kind = Kind.Number;
      v.num = this.number();
      return v;
    }
    this.unexpected('a value');
    return v;
  }

  digits(): void {
    const start = this.pos;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    if (this.pos == start) this.unexpected('a digit');
  }

  /** Checks the JSON number grammar, then converts with the standard library's parseFloat. */
  number(): f64 {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    if (this.peek() == 0x30) {
      this.pos++;
      if (this.peek() >= 0x30 && this.peek() <= 0x39) this.error('leading zeros are not allowed');
    } else this.digits();
    if (this.peek() == 0x2e) {
      this.pos++;
      this.digits();
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      this.digits();
    }
    const text = String.UTF8.decodeUnsafe(this.src.dataStart + <usize>start, <usize>(this.pos - start));
    const n = parseFloat(text);
    if (!isFinite(n)) {
      this.pos = start;
      this.error('number ' + text + ' is out of range');
    }
    return n;
  }

  hex4(): i32 {
    let n = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.peek();
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) this.unexpected('a hex digit');
      n = (n << 4) | d;
      this.pos++;
    }
    return n;
  }

  string(): string {
    this.pos++; // opening quote
    let out = '';
    let runStart = this.pos;
    while (true) {
      const c = this.peek();
      if (c < 0) this.unexpected("'\"'");
      if (c < 0x20) this.error('control character in string');
      if (c == 0x22 || c == 0x5c) {
        // Flush the run of plain bytes before the quote or escape; they are UTF-8 as sent.
        out += String.UTF8.decodeUnsafe(this.src.dataStart + <usize>runStart, <usize>(this.pos - runStart));
        this.pos++;
        if (c == 0x22) return out;
        const e = this.peek();
        this.pos++;
        if (e == 0x22) out += '"';
        else if (e == 0x5c) out += '\\';
        else if (e == 0x2f) out += '/';
        else if (e == 0x62) out += '\b';
        else if (e == 0x66) out += '\f';
        else if (e == 0x6e) out += '\n';
        else if (e == 0x72) out += '\r';
        else if (e == 0x74) out += '\t';
        else if (e == 0x75) out += String.fromCharCode(this.hex4());
        else {
          this.pos--;
          this.unexpected('an escape character');
        }
        runStart = this.pos;
        continue;
      }
      this.pos++;
    }
  }
}

/** Parses a whole JSON document; `what` names it in error messages. */
export function parseJson(src: Uint8Array, what: string): JsonValue {
  const p = new Parser(src, what);
  const v = p.value(0);
  p.skipSpace();
  if (p.pos != src.length) p.unexpected('end of input');
  return v;
}
