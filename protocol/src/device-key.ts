// P-256 device keys with node:crypto: what secure elements, TPMs and phones sign with, and what
// the registry (OpenZeppelin P256 / RIP-7212) verifies on chain.
import { createECDH, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { bytesToHex, encodeAbiParameters, hexToBytes, keccak256, type Hex } from 'viem';

/** Order of the P-256 group. */
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_N = P256_N / 2n;

export type DevicePublicKey = { x: Hex; y: Hex };
export type P256Signature = { r: Hex; s: Hex };

/** A key that is not a usable P-256 device key; the message says why. */
export class DeviceKeyError extends Error {
  override name = 'DeviceKeyError';
}

/**
 * A new P-256 device key pair (node:crypto).
 *
 * Not `generateKeyPairSync`: on Node 20 (20.20.2 here) a garbage collection that frees a finished
 * key-generation job while another key is being exported as JWK hangs the process for good: the
 * job's destructor, run from the collector inside `KeyObjectHandle::ExportJWK`, waits on a mutex
 * that the export holds (seen with gdb; a loop of generate-and-export hangs within about a
 * thousand keys). ECDH key generation makes no such job; the key objects are built from its bytes.
 */
export function generateDeviceKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const point = ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
  const d = ecdh.getPrivateKey();
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  const privateKey = createPrivateKey({
    format: 'jwk',
    // JWK wants d as exactly 32 bytes; a scalar with leading zero bytes comes back shorter.
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: b64(Buffer.concat([Buffer.alloc(32 - d.length), d])),
      x: b64(point.subarray(1, 33)),
      y: b64(point.subarray(33)),
    },
  });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The affine coordinates of a P-256 public (or private) key, as 32-byte hex. */
export function devicePublicKey(key: KeyObject): DevicePublicKey {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new DeviceKeyError('not a P-256 key');
  return { x: bytesToHex(Buffer.from(jwk.x, 'base64url')), y: bytesToHex(Buffer.from(jwk.y, 'base64url')) };
}

/** A public KeyObject from affine coordinates (as the registry stores them); throws if off the curve. */
export function publicKeyFromCoordinates(key: DevicePublicKey): KeyObject {
  const x = hexToBytes(key.x);
  const y = hexToBytes(key.y);
  if (x.length !== 32 || y.length !== 32) throw new DeviceKeyError('P-256 coordinates must be 32 bytes each');
  try {
    return createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: Buffer.from(x).toString('base64url'), y: Buffer.from(y).toString('base64url') },
      format: 'jwk',
    });
  } catch (err) {
    throw new DeviceKeyError(`not a point on P-256: ${(err as Error).message}`);
  }
}

/** The registry's device id: keccak256(abi.encode(x, y)). */
export function deviceIdOf(key: DevicePublicKey): bigint {
  return BigInt(keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'bytes32' }], [key.x, key.y])));
}

/** The device id as the 0x-prefixed 32-byte hex string that messages and the API use. */
export function deviceIdHex(id: bigint): Hex {
  return `0x${id.toString(16).padStart(64, '0')}`;
}

/** PKCS#8 PEM of a device's private key, for a key file (write it with mode 0600). */
export function exportDeviceKey(privateKey: KeyObject): string {
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Reads a PKCS#8 or SEC1 PEM private key and checks that it is P-256. */
export function importDeviceKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new DeviceKeyError(`not a PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new DeviceKeyError(
      `device keys must be P-256 (prime256v1), got ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim(),
    );
  }
  return key;
}

/**
 * Signs `message` with ECDSA-SHA256 (what secure elements and node:crypto do) and returns the
 * low-s form, which OpenZeppelin's P256 requires. For a registration, `message` is the 32-byte
 * EIP-712 digest from `DeviceRegistry.registrationDigest`, and the contract verifies against
 * sha256(digest).
 */
export function signP256(privateKey: KeyObject, message: Hex | Uint8Array): P256Signature {
  const sig = signMessage(privateKey, typeof message === 'string' ? hexToBytes(message) : message);
  return { r: `0x${sig.slice(2, 66)}`, s: `0x${sig.slice(66)}` };
}

/**
 * Signs bytes with ECDSA-SHA256 and returns r‖s (64 bytes, low-s) as hex: the `sig` of every
 * device message. Low-s makes each signature unique, so a replayed message cannot pass as new by
 * flipping s.
 */
export function signMessage(privateKey: KeyObject, message: Uint8Array): Hex {
  const sig = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  let s = BigInt(bytesToHex(sig.subarray(32, 64)));
  if (s > HALF_N) s = P256_N - s;
  return `0x${sig.subarray(0, 32).toString('hex')}${s.toString(16).padStart(64, '0')}`;
}

/** The signature's bytes if it is 64-byte low-s r‖s hex (the only form devices may use), else null. */
function lowSSignature(signature: Hex): Buffer | null {
  if (!/^0x[0-9a-fA-F]{128}$/.test(signature)) return null;
  if (BigInt(`0x${signature.slice(66)}`) > HALF_N) return null;
  return Buffer.from(signature.slice(2), 'hex');
}

/** Verifies a 64-byte low-s r‖s signature over `message`; false (never throws) on any mismatch. */
export function verifyMessage(publicKey: KeyObject, message: Uint8Array, signature: Hex): boolean {
  const raw = lowSSignature(signature);
  if (!raw) return false;
  try {
    return verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw);
  } catch {
    return false;
  }
}
