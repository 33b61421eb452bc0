import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { bytesToHex, encodeAbiParameters, hexToBytes, keccak256, type Hex } from 'viem';

/** Order of the P-256 group. */
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

export type DevicePublicKey = { x: Hex; y: Hex };
export type P256Signature = { r: Hex; s: Hex };

/** A new P-256 device key pair (node:crypto). */
export function generateDeviceKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** The affine coordinates of a P-256 public (or private) key, as 32-byte hex. */
export function devicePublicKey(key: KeyObject): DevicePublicKey {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('not a P-256 key');
  return { x: bytesToHex(Buffer.from(jwk.x, 'base64url')), y: bytesToHex(Buffer.from(jwk.y, 'base64url')) };
}

/** The registry's device id: keccak256(abi.encode(x, y)). */
export function deviceIdOf(key: DevicePublicKey): bigint {
  return BigInt(keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'bytes32' }], [key.x, key.y])));
}

/**
 * Signs `message` with ECDSA-SHA256 (what secure elements and node:crypto do) and returns the
 * low-s form, which OpenZeppelin's P256 requires. For a registration, `message` is the 32-byte
 * EIP-712 digest from `DeviceRegistry.registrationDigest`, and the contract verifies against
 * sha256(digest).
 */
export function signP256(privateKey: KeyObject, message: Hex): P256Signature {
  const sig = sign('sha256', hexToBytes(message), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const r = BigInt(bytesToHex(sig.subarray(0, 32)));
  let s = BigInt(bytesToHex(sig.subarray(32, 64)));
  if (s > P256_N / 2n) s = P256_N - s;
  return { r: toHex32(r), s: toHex32(s) };
}

function toHex32(n: bigint): Hex {
  return `0x${n.toString(16).padStart(64, '0')}`;
}
