// SHA-256, one call per input. node:crypto's one-shot `hash` (Node ≥ 20.12) skips the Hash object
// that `createHash` builds, which is most of the cost for the 64-byte inner nodes of a tree.
import * as crypto from 'node:crypto';

type OneShot = (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer;
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;

export const sha256: (data: Uint8Array) => Uint8Array = oneShot
  ? (data) => oneShot('sha256', data, 'buffer')
  : (data) => crypto.createHash('sha256').update(data).digest();
