// The canonical encoding that device signers and the oracle's verifier share: JSON with sorted
// keys, no whitespace, integers only (bigints as decimal strings), UTF-8. One value has exactly one
// encoding, so a digest identifies a message and a signature covers exactly what was parsed.
import { createHash } from 'node:crypto';
import { keccak256, toHex, type Hex } from 'viem';

export class EncodingError extends Error {
  override name = 'EncodingError';
}

/** Canonical JSON text of `value`; throws on floats, NaN, undefined, functions or cycles. */
export function canonicalJson(value: unknown): string {
  return encode(value, '$', new Set());
}

function encode(value: unknown, path: string, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'number':
      if (!Number.isSafeInteger(value)) throw new EncodingError(`${path}: only safe integers can be encoded, got ${value}`);
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      if (seen.has(value)) throw new EncodingError(`${path}: cycle`);
      seen.add(value);
      let out: string;
      if (Array.isArray(value)) {
        out = `[${value.map((v, i) => encode(v, `${path}[${i}]`, seen)).join(',')}]`;
      } else {
        const keys = Object.keys(value)
          .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
          .sort();
        out = `{${keys.map((k) => `${JSON.stringify(k)}:${encode((value as Record<string, unknown>)[k], `${path}.${k}`, seen)}`).join(',')}}`;
      }
      seen.delete(value);
      return out;
    }
    default:
      throw new EncodingError(`${path}: cannot encode a ${typeof value}`);
  }
}

const utf8 = new TextEncoder();

/** Canonical bytes of `value`. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8.encode(canonicalJson(value));
}

/** sha256 of the canonical bytes: how messages and artifacts are named. */
export function canonicalDigest(value: unknown): Hex {
  return sha256Hex(canonicalBytes(value));
}

/** sha256 of bytes as 0x-hex (node:crypto: native speed, and what `sha256sum` prints). */
export function sha256Hex(bytes: Uint8Array): Hex {
  return `0x${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * A fraud finding's evidence hash: keccak256 of the evidence's canonical JSON (UTF-8). Keccak, not
 * sha256, because the hash goes on chain (SlashOrders, DeviceRegistry's DeviceSlashed) beside the
 * other EVM hashes; canonical JSON, so that the artifact's evidence has exactly one hash.
 */
export function evidenceHash(evidence: unknown): Hex {
  return keccak256(canonicalBytes(evidence));
}

export { toHex };
