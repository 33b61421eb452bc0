/**
 * Benchmark: the storage network's core on one core, each against its baseline in the same run.
 *
 *   node --import tsx bench/storage-core.ts [--mib N] [--rounds R] [--json]
 *
 * - erasure: Reed-Solomon 4-of-8 encoding (networks/storage/src/erasure.ts, systematic, Cauchy
 *   matrix over GF(2^8), 1 MiB segments) in MB/s of data in, against the fastest implementations
 *   installable from npm, run one call at a time on the same segments: @ronomon/reed-solomon (a
 *   native addon; its calls go to libuv's threadpool, awaited one by one, so one core works) and
 *   @subspace/reed-solomon-erasure.wasm (Rust's reed-solomon-erasure in WebAssembly). Both are
 *   optional dependencies: one that does not load on this machine is reported as missing. Every
 *   implementation's parity is checked to rebuild the data (ours with its own decoder).
 * - commitment: the shard commitment (8 KiB SHA-256 leaves and the tree over them, commitment.ts)
 *   over N MiB, against node:crypto's SHA-256 of the same bytes in one call. Target ≥ 0.5.
 * - proofs: checks per second of a 5-leaf proof of a 64 MiB shard (checkShardProof: each leaf's
 *   hash and its path to the root), the oracle's work per challenge answered.
 *
 * Prints a table, or with --json one JSON object; exits 1 if the commitment target is missed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { LEAF_BYTES, merklePath, rootOf, ShardHasher, treeLevels } from '../networks/storage/src/commitment.ts';
import { encodeSegment, reconstructSegment } from '../networks/storage/src/erasure.ts';
import { challengedLeaves, checkShardProof } from '../networks/storage/src/proof.ts';

const { values } = parseArgs({
  options: { mib: { type: 'string', default: '64' }, rounds: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } },
});
const MIB = Number(values.mib);
const ROUNDS = Number(values.rounds);
const K = 4;
const N = 8;
const SEGMENT = 2 ** 20;
const COMMITMENT_TARGET = 0.5;
const require = createRequire(import.meta.url);
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Best of `rounds` timings of fn, in seconds. */
async function best(rounds: number, fn: () => unknown): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    await fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return min;
}

const segments = Array.from({ length: Math.max(1, MIB / 4) }, () => new Uint8Array(randomBytes(SEGMENT)));
const dataMB = (segments.length * SEGMENT) / 1e6;

type Rate = { name: string; mbPerSecond: number | null; note: string };
const erasure: Rate[] = [];

// Ours, and a check that the parity rebuilds the data.
{
  const { pieces, size } = encodeSegment(segments[0]!, K, N);
  const lost = Array.from({ length: N }, (_, i) => (i < N - K ? null : pieces.subarray(i * size, (i + 1) * size)));
  const rebuilt = reconstructSegment(lost, K, N).subarray(0, SEGMENT);
  if (!Buffer.from(rebuilt).equals(Buffer.from(segments[0]!))) throw new Error('our parity does not rebuild the data');
  const s = await best(ROUNDS, () => {
    for (const seg of segments) encodeSegment(seg, K, N);
  });
  erasure.push({ name: 'groundwork (erasure.ts)', mbPerSecond: dataMB / s, note: 'pure TypeScript' });
}

// @ronomon/reed-solomon.
try {
  const RS = require('@ronomon/reed-solomon') as {
    create(k: number, m: number): unknown;
    encode(...args: unknown[]): void;
  };
  const ctx = RS.create(K, N - K);
  const shard = SEGMENT / K;
  const parity = Buffer.alloc(shard * (N - K));
  let sources = 0;
  for (let i = 0; i < K; i++) sources |= 1 << i;
  let targets = 0;
  for (let i = K; i < N; i++) targets |= 1 << i;
  const encode = (buf: Buffer, targetMask = targets, sourceMask = sources) =>
    new Promise<void>((resolve, reject) =>
      RS.encode(ctx, sourceMask, targetMask, buf, 0, buf.length, parity, 0, parity.length, (e: Error | null) =>
        e ? reject(e) : resolve(),
      ),
    );
  const bufs = segments.map((s) => Buffer.from(s));
  // Rebuild check: the first data shard from the other data shards and the parity.
  const copy = Buffer.from(bufs[0]!);
  await encode(copy);
  copy.fill(0, 0, shard);
  let src = 0;
  for (let i = 1; i < N; i++) src |= 1 << i;
  await encode(copy, 1, src);
  if (!copy.equals(bufs[0]!)) throw new Error('@ronomon/reed-solomon parity does not rebuild the data');
  const s = await best(ROUNDS, async () => {
    for (const b of bufs) await encode(b);
  });
  erasure.push({ name: '@ronomon/reed-solomon', mbPerSecond: dataMB / s, note: 'native addon' });
} catch (err) {
  erasure.push({ name: '@ronomon/reed-solomon', mbPerSecond: null, note: `missing: ${(err as Error).message.split('\n')[0]}` });
}

// @subspace/reed-solomon-erasure.wasm.
try {
  const { ReedSolomonErasure } = require('@subspace/reed-solomon-erasure.wasm') as {
    ReedSolomonErasure: {
      fromBytes(b: Uint8Array): {
        encode(s: Uint8Array, k: number, m: number): number;
        reconstruct(s: Uint8Array, k: number, m: number, ok: boolean[]): number;
      };
    };
  };
  const { readFileSync } = await import('node:fs');
  const wasm = readFileSync(require.resolve('@subspace/reed-solomon-erasure.wasm/dist/reed_solomon_erasure_bg.wasm'));
  const rs = ReedSolomonErasure.fromBytes(wasm);
  const shard = SEGMENT / K;
  const bufs = segments.map((seg) => {
    const b = new Uint8Array(shard * N);
    b.set(seg);
    return b;
  });
  if (rs.encode(bufs[0]!, K, N - K) !== 0) throw new Error('encode failed');
  const damaged = Uint8Array.from(bufs[0]!);
  damaged.fill(0, 0, shard);
  const ok = Array.from({ length: N }, (_, i) => i !== 0);
  if (rs.reconstruct(damaged, K, N - K, ok) !== 0 || !Buffer.from(damaged).equals(Buffer.from(bufs[0]!)))
    throw new Error('@subspace/reed-solomon-erasure.wasm parity does not rebuild the data');
  // The set erasure.ts's header names: data pieces 0, 1, 2 and parity piece 4 are enough to
  // rebuild a 4-of-8 segment, and our decoder does; this build's answer is reported as it comes.
  const partial = Uint8Array.from(bufs[0]!);
  const present = [0, 1, 2, 4];
  const okSet = Array.from({ length: N }, (_, i) => present.includes(i));
  for (let i = 0; i < N; i++) if (!okSet[i]) partial.fill(0, i * shard, (i + 1) * shard);
  const code = rs.reconstruct(partial, K, N - K, okSet);
  const rebuiltSet = code === 0 && Buffer.from(partial.subarray(0, SEGMENT)).equals(Buffer.from(segments[0]!));
  const s = await best(ROUNDS, () => {
    for (const b of bufs) rs.encode(b, K, N - K);
  });
  erasure.push({
    name: '@subspace/reed-solomon-erasure.wasm',
    mbPerSecond: dataMB / s,
    note: `Rust in WebAssembly; rebuilding from pieces 0, 1, 2, 4: ${rebuiltSet ? 'ok' : `fails (code ${code})`}`,
  });
} catch (err) {
  erasure.push({
    name: '@subspace/reed-solomon-erasure.wasm',
    mbPerSecond: null,
    note: `missing: ${(err as Error).message.split('\n')[0]}`,
  });
}

// Commitment against native SHA-256.
const shardBytes = MIB * 2 ** 20;
const blob = new Uint8Array(randomBytes(shardBytes));
const native = await best(ROUNDS, () => createHash('sha256').update(blob).digest());
let levels: Uint8Array[] = [];
const commit = await best(ROUNDS, () => {
  const h = new ShardHasher();
  h.update(blob);
  levels = treeLevels(h.finish());
  return rootOf(levels);
});
const commitment = { mib: MIB, nativeMBps: shardBytes / 1e6 / native, commitmentMBps: shardBytes / 1e6 / commit, ratio: native / commit };

// Proof checks per second.
const root = rootOf(levels);
const leaves = challengedLeaves(`0x${'11'.repeat(32)}`, `0x${'22'.repeat(32)}`, 0, 7, shardBytes, 5);
const answers = leaves.map((index) => ({
  index,
  leaf: blob.subarray(index * LEAF_BYTES, (index + 1) * LEAF_BYTES),
  path: merklePath(levels, index),
}));
if (!checkShardProof(root, shardBytes, leaves, answers).ok) throw new Error('a correct proof failed its check');
const CHECKS = 2000;
const proofSeconds = await best(ROUNDS, () => {
  for (let i = 0; i < CHECKS; i++) checkShardProof(root, shardBytes, leaves, answers);
});
const proofs = { leavesPerProof: 5, shardMiB: MIB, checksPerSecond: CHECKS / proofSeconds };

const fastest = erasure
  .filter((e) => e.name !== 'groundwork (erasure.ts)' && e.mbPerSecond !== null)
  .sort((a, b) => b.mbPerSecond! - a.mbPerSecond!)[0];
const ours = erasure[0]!.mbPerSecond!;
const result = {
  erasure: {
    code: `${K}-of-${N}`,
    segmentBytes: SEGMENT,
    dataMB,
    implementations: erasure,
    fastest: fastest?.name ?? null,
    ratio: fastest ? ours / fastest.mbPerSecond! : null,
  },
  commitment: { ...commitment, target: COMMITMENT_TARGET, met: commitment.ratio >= COMMITMENT_TARGET },
  proofs,
};
if (values.json) console.log(JSON.stringify(result));
else {
  log(`erasure ${K}-of-${N}, ${dataMB.toFixed(0)} MB of data in 1 MiB segments, one core:`);
  for (const e of erasure)
    log(`  ${e.name.padEnd(38)} ${e.mbPerSecond === null ? '      -' : `${e.mbPerSecond.toFixed(0).padStart(7)} MB/s`}  ${e.note}`);
  if (fastest) log(`  ours / fastest (${fastest.name}): ${result.erasure.ratio!.toFixed(2)}`);
  log(
    `commitment over ${MIB} MiB: ${commitment.commitmentMBps.toFixed(0)} MB/s vs native SHA-256 ${commitment.nativeMBps.toFixed(0)} MB/s: ratio ${commitment.ratio.toFixed(2)} (target ≥ ${COMMITMENT_TARGET})`,
  );
  log(`proof checks: ${proofs.checksPerSecond.toFixed(0)} per second (5 leaves of a ${MIB} MiB shard)`);
}
process.exit(result.commitment.met ? 0 : 1);
