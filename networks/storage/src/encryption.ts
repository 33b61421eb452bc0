// Client-side encryption of segments: AES-256-GCM under a key that never leaves the consumer.
// Each file has its own random key, so the nonce can be the segment's index: a (key, nonce) pair is
// never reused, and a segment moved to another position fails authentication.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { TAG_BYTES } from './layout.ts';

export const KEY_BYTES = 32;

export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
}

export function newFileKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_BYTES));
}

function nonceOf(segment: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(segment), 4);
  return nonce;
}

/** Segment `segment` encrypted: ciphertext then the 16-byte tag. */
export function encryptSegment(key: Uint8Array, segment: number, plain: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, nonceOf(segment));
  const out = new Uint8Array(plain.length + TAG_BYTES);
  out.set(cipher.update(plain), 0);
  cipher.final();
  out.set(cipher.getAuthTag(), plain.length);
  return out;
}

/** The plaintext of an encrypted segment; DecryptionError if it was altered or the key is wrong. */
export function decryptSegment(key: Uint8Array, segment: number, coded: Uint8Array): Uint8Array {
  if (coded.length < TAG_BYTES) throw new DecryptionError(`segment ${segment} is ${coded.length} bytes, shorter than its tag`);
  const decipher = createDecipheriv('aes-256-gcm', key, nonceOf(segment));
  decipher.setAuthTag(coded.subarray(coded.length - TAG_BYTES));
  const body = decipher.update(coded.subarray(0, coded.length - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    throw new DecryptionError(`segment ${segment} failed authentication: the data was altered or the key is wrong`);
  }
  return new Uint8Array(body.buffer, body.byteOffset, body.length);
}
