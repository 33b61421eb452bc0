// The storage network's verifier: pure, so `epoch verify` reaches the same scores from the artifact
// alone. The oracle's input to each epoch is one row per challenge it issued: which shard, the
// deal's commitment and the shard root's path into it (checkable against the deal on chain), the
// entropy the challenged leaves were drawn from, and the provider's signed answer with its bundle.
// The verifier recomputes the draw, checks the signature, the bundle's hash and every leaf's path
// to the root; a shard proven this way scores its bytes for its device. Scores are proven bytes
// relative to the epoch's most-proven device (so the proof pool follows proven bytes). A signed
// answer whose leaves do not reach the committed root proves the data is gone or altered: a finding.
// So is a shard lost to `faultsToRepair` faults in a row (the network must rebuild it), at the
// smaller `faultSlashAmount`: its evidence is the oracle's attested record of the challenge the
// provider failed to prove, which the verifier judges unproven for itself (a row the oracle's own
// draw or commitment got wrong never counts against the provider).
import {
  publicKeyFromCoordinates,
  RejectionTable,
  reportSchema,
  SCORE_SCALE,
  type Finding,
  type VerifierInput,
  type VerifierOutput,
  verifyReport,
} from '@groundwork/protocol';
import { type Hex, hexToBytes } from 'viem';
import { z } from 'zod';
import { shardInCommitment } from '../commitment.ts';
import { challengedLeaves, challengeEntropy, checkShardProof } from '../proof.ts';
import { bundleHash, leafAnswers } from './bundle.ts';
import type { StorageParameters } from './parameters.ts';
import { PROOF_TYPE, proofBodySchema, proofBundleSchema } from './wire.ts';

const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/);

/** A challenge as the oracle records it (closer: oracle_inputs), with its outcome. */
export const challengeRowSchema = z
  .object({
    deal: hex32,
    shard: z.number().int().min(0).max(254),
    epoch: z.number().int().nonnegative(),
    device: hex32,
    commitment: hex32,
    shards: z.number().int().min(2).max(255),
    shardBytes: z.number().int().nonnegative(),
    root: hex32,
    rootPath: z.array(hex32).max(16),
    blockHash: hex32,
    random: hex32,
    leaves: z.array(z.number().int().nonnegative()).min(1).max(16),
    deadline: z.number().int().nonnegative(),
    /** What the oracle concluded; the verifier concludes for itself. */
    outcome: z.enum(['passed', 'failed', 'unanswered', 'late']),
    reason: z.string().max(512),
    /** Unix ms the proof report reached the oracle (null: none did). */
    receivedAt: z.number().int().nonnegative().nullable(),
    /** The shard's faults in a row on this device counting this challenge, as the oracle counted them (0: passed). */
    faultRun: z.number().int().nonnegative().default(0),
    report: z.unknown().nullable(),
    bundle: proofBundleSchema.nullable(),
  })
  .strict();
export type ChallengeRow = z.infer<typeof challengeRowSchema>;

/** Who a failed proof is on: the provider (`signed-wrong`: it signed leaves that are not the data), or the oracle's row. */
type Blame = 'provider' | 'signed-wrong' | 'oracle';
type Judged = { proven: true } | { proven: false; reason: string; detail: string; blame: Blame };

function judge(row: ChallengeRow, input: VerifierInput<StorageParameters, { rows: unknown[] }>): Judged {
  const no = (reason: string, detail: string, blame: Blame = 'provider'): Judged => ({ proven: false, reason, detail, blame });
  if (
    !shardInCommitment(
      hexToBytes(row.commitment as Hex),
      row.shards,
      row.shardBytes,
      row.shard,
      hexToBytes(row.root as Hex),
      row.rootPath.map((p) => hexToBytes(p as Hex)),
    )
  )
    return no('not-in-deal', `shard ${row.shard}'s root is not in deal ${row.deal}'s commitment`, 'oracle');
  const entropy = challengeEntropy(row.blockHash, row.random);
  const drawn = challengedLeaves(entropy, row.deal, row.shard, row.epoch, row.shardBytes, input.parameters.challengedLeaves);
  if (drawn.join() !== row.leaves.join())
    return no('wrong-challenge', `the challenged leaves are not the ones the entropy draws`, 'oracle');
  if (!row.report || !row.bundle) return no('unanswered', `no proof of shard ${row.shard} of ${row.deal} came before ${row.deadline}`);
  const report = reportSchema.safeParse(row.report);
  if (!report.success || report.data.type !== PROOF_TYPE) return no('malformed-answer', 'the answer is not a proof report');
  const body = proofBodySchema.safeParse(report.data.body);
  if (!body.success) return no('malformed-answer', 'the proof report has a malformed body');
  if (report.data.device !== row.device) return no('wrong-device', `the proof is by ${report.data.device}, the shard is on ${row.device}`);
  const d = input.devices.rowOfId(row.device as Hex);
  if (d < 0) return no('unknown-device', `${row.device} is not in the snapshot`, 'oracle');
  const key = publicKeyFromCoordinates({ x: input.devices.keyX.get(d)!, y: input.devices.keyY.get(d)! });
  if (!verifyReport(report.data, key)) return no('bad-signature', `the proof report is not signed by ${row.device}`);
  const b = body.data;
  if (b.deal !== row.deal || b.shard !== row.shard || b.epoch !== row.epoch)
    return no('wrong-challenge', 'the proof answers another challenge');
  if (b.answer !== bundleHash(row.bundle) || row.bundle.device !== row.device)
    return no('wrong-bundle', 'the bundle is not the one the signed report commits to');
  if (row.receivedAt === null || row.receivedAt > row.deadline)
    return no('late', `the proof reached the oracle at ${row.receivedAt}, after the deadline ${row.deadline}`);
  const check = checkShardProof(hexToBytes(row.root as Hex), row.shardBytes, row.leaves, leafAnswers(row.bundle));
  // Signed, on time, and wrong: the provider no longer has the bytes it was paid to keep.
  if (!check.ok) return no(check.reason, check.detail, 'signed-wrong');
  return { proven: true };
}

export function verifyStorage(input: VerifierInput<StorageParameters, { rows: unknown[] }>): VerifierOutput {
  const { devices, parameters } = input;
  const proven = new Array<number>(devices.length).fill(0);
  const passed = new Array<number>(devices.length).fill(0);
  const challenged = new Array<number>(devices.length).fill(0);
  const rejections = new RejectionTable();
  const findings: Finding[] = [];
  // One finding per device and epoch (its stake is slashed once for the epoch's losses): a signed
  // wrong answer's over a lost shard's, else the first.
  const accused = new Map<string, Finding>();
  const accuse = (row: ChallengeRow, kind: 'lost-data' | 'lost-shard', amount: string) => {
    const had = accused.get(row.device);
    if (had && (had.kind === 'lost-data' || kind === 'lost-shard')) return;
    accused.set(row.device, { device: row.device as Hex, kind, amount, evidence: row });
  };
  for (const raw of input.oracleInputs.rows) {
    const row = challengeRowSchema.parse(raw);
    const d = devices.rowOfId(row.device as Hex);
    if (d >= 0) challenged[d]!++;
    const out = judge(row, input);
    if (out.proven) {
      proven[d]! += row.shardBytes;
      passed[d]!++;
      continue;
    }
    rejections.push({ device: row.device as Hex, digest: null, reason: out.reason, detail: out.detail });
    if (out.blame === 'signed-wrong') accuse(row, 'lost-data', parameters.slashAmount);
    // The fault that made the shard lost (no later one comes: a lost shard is not challenged).
    else if (out.blame === 'provider' && row.faultRun === parameters.faultsToRepair) accuse(row, 'lost-shard', parameters.faultSlashAmount);
  }
  findings.push(...accused.values());
  const top = Math.max(0, ...proven);
  const scores = new Uint32Array(devices.length);
  if (top > 0) for (let i = 0; i < devices.length; i++) scores[i] = Number((BigInt(proven[i]!) * SCORE_SCALE) / BigInt(top));
  return { scores, detail: { provenBytes: proven, challenged, passed }, rejections, findings };
}
