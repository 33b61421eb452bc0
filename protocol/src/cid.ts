// Content addressing: compute's modules, inputs and outputs and storage's files are named by a CIDv1
// with the raw codec (0x55) and a sha2-256 multihash, written in base32 ('bafkrei…'), as IPFS
// names a raw block. The same bytes always give the same name, so a task can point at its module
// and inputs by name and a provider's result can be compared with another's without the bytes.
import { createHash } from 'node:crypto';
import { base32 } from 'multiformats/bases/base32';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';

/** Multicodec code of the raw codec: the CID names the bytes themselves. */
export const RAW_CODEC = 0x55;
/** Multihash code of sha2-256. */
export const SHA2_256 = 0x12;

/** A malformed CID string, or one that is not CIDv1 raw sha2-256. */
export class CidError extends Error {
  override readonly name = 'CidError';
}

/** Bytes whose CID is not the one they were expected to have. */
export class CidMismatchError extends Error {
  override readonly name = 'CidMismatchError';
  constructor(
    readonly expected: string,
    readonly actual: string,
    what = 'bytes',
  ) {
    super(`${what} do not match their CID: expected ${expected}, got ${actual}`);
  }
}

/** The CIDv1 (raw, sha2-256) of `bytes`, base32-encoded ('bafkrei…'). */
export function cidOf(bytes: Uint8Array): string {
  // node:crypto directly rather than multiformats' hasher: it is synchronous on every platform.
  return cidOfSha256(createHash('sha256').update(bytes).digest());
}

/** The CIDv1 (raw, sha2-256) of bytes whose SHA-256 is `sha256` (hashed as they streamed by). */
export function cidOfSha256(sha256: Uint8Array): string {
  if (sha256.length !== 32) throw new CidError(`a sha2-256 digest has 32 bytes, not ${sha256.length}`);
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, new Uint8Array(sha256))).toString(base32);
}

/**
 * Parses a CID string and checks that it is one this network uses: CIDv1, raw codec, sha2-256
 * with a 32-byte digest. Throws a CidError saying what is wrong otherwise.
 */
export function parseCid(s: string): CID {
  if (typeof s !== 'string' || s.length === 0) throw new CidError('CID must be a non-empty string');
  let cid: CID;
  try {
    cid = CID.parse(s);
  } catch (err) {
    throw new CidError(`malformed CID ${JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)}: ${(err as Error).message}`);
  }
  if (cid.version !== 1) throw new CidError(`CID ${s} is CIDv${cid.version}; expected CIDv1`);
  if (cid.code !== RAW_CODEC) throw new CidError(`CID ${s} has codec 0x${cid.code.toString(16)}; expected raw (0x55)`);
  if (cid.multihash.code !== SHA2_256 || cid.multihash.size !== 32)
    throw new CidError(`CID ${s} has multihash 0x${cid.multihash.code.toString(16)}/${cid.multihash.size} bytes; expected sha2-256/32`);
  return cid;
}

/**
 * Throws a CidMismatchError naming the expected and the actual CID unless `bytes` hash to `cid`
 * (which must itself be well-formed: CidError otherwise). The comparison is on the parsed CID, so
 * any multibase spelling of the right CID passes.
 */
export function checkCid(bytes: Uint8Array, cid: string, what = 'bytes'): void {
  const expected = parseCid(cid);
  const actual = cidOf(bytes);
  if (!expected.equals(CID.parse(actual))) throw new CidMismatchError(expected.toString(base32), actual, what);
}
