// A proof's answer bundle, between the provider that builds it and everyone who checks it: the
// signed proof report commits to its SHA-256, so the bundle itself can travel over HTTP (too big
// for a report body) and still be the provider's own signed word in the artifact.
import { canonicalJson } from '@groundwork/protocol';
import { bytesToHex, type Hex, hexToBytes } from 'viem';
import { sha256 } from '../hash.ts';
import type { LeafAnswer } from '../proof.ts';
import type { ProofBundle } from './wire.ts';

/** What a proof report's `answer` is: SHA-256 of the bundle's canonical JSON. */
export function bundleHash(bundle: ProofBundle): Hex {
  return bytesToHex(sha256(Buffer.from(canonicalJson(bundle), 'utf8')));
}

/** The bundle's answers as the proof check takes them. */
export function leafAnswers(bundle: ProofBundle): LeafAnswer[] {
  return bundle.leaves.map((l) => ({
    index: l.index,
    leaf: new Uint8Array(Buffer.from(l.leaf, 'base64')),
    path: l.path.map((h) => hexToBytes(h)),
  }));
}
