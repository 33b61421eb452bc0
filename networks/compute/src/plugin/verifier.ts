// The compute network's verifier: pure, so `epoch verify` reaches the same findings from the
// artifact alone.
//
// Payment for compute is usage (credits the consumers' escrow burned for each device's verified
// runs, on chain), so the proof pool is empty and every score is 0. What the verifier judges is
// the oracle's verdicts: when runs of one deterministic task disagreed, the spot-checker recorded
// the signed results and which output the deciding run confirmed. A verdict becomes a finding
// (and so a slash order) only if the artifact proves it: every result in it carries a valid
// signature of a device in the snapshot, they are all for the same job, task and module, the
// confirmed output was claimed by at least two devices of different owners, and the accused
// device signed a different one. A verdict that proves nothing is rejected with the reason.
import {
  type DeviceTable,
  type Finding,
  publicKeyFromCoordinates,
  type Report,
  RejectionTable,
  reportSchema,
  type VerifierInput,
  type VerifierOutput,
  verifyReport,
} from '@groundwork/protocol';
import type { Hex } from 'viem';
import { z } from 'zod';
import type { ComputeParameters } from './parameters.ts';
import { RESULT_TYPE, claimOf, resultBodySchema } from './wire.ts';

/** A verdict as the spot-checker records it: the oracle's input to the epoch, in the artifact. */
export const verdictSchema = z
  .object({
    job: z.string().regex(/^0x[0-9a-f]{64}$/),
    task: z.number().int().nonnegative(),
    /** The device whose result the deciding run contradicted. */
    accused: z.string().regex(/^0x[0-9a-f]{64}$/),
    /** The claim (wire.ts claimOf: output, compute units, exit code) the deciding run confirmed. */
    confirmed: z.string().max(512),
    /** Every signed result of the task that the decision rests on, the accused's first. */
    results: z.array(z.unknown()).min(3).max(8),
  })
  .strict();
export type Verdict = z.infer<typeof verdictSchema>;

type Checked = { report: Report; owner: string; output: string; module: string; job: string; task: number };

function keyOf(devices: DeviceTable, row: number) {
  return publicKeyFromCoordinates({ x: devices.keyX.get(row)!, y: devices.keyY.get(row)! });
}

/** Why a verdict proves nothing, or null when it proves the accused lied. */
function judge(v: Verdict, devices: DeviceTable): { why: string } | { checked: Checked[] } {
  const checked: Checked[] = [];
  for (const [i, raw] of v.results.entries()) {
    const report = reportSchema.safeParse(raw);
    if (!report.success || report.data.type !== RESULT_TYPE) return { why: `result ${i} is not a result report` };
    const body = resultBodySchema.safeParse(report.data.body);
    if (!body.success) return { why: `result ${i} has a malformed body` };
    const row = devices.rowOfId(report.data.device);
    if (row < 0) return { why: `result ${i} is from ${report.data.device}, not in the snapshot` };
    if (!verifyReport(report.data, keyOf(devices, row))) return { why: `result ${i} is not signed by ${report.data.device}` };
    checked.push({
      report: report.data,
      owner: devices.owner.get(row).toLowerCase(),
      output: claimOf(body.data),
      module: body.data.module,
      job: body.data.job,
      task: body.data.task,
    });
  }
  const first = checked[0]!;
  if (first.report.device !== v.accused) return { why: "the first result is not the accused's" };
  if (checked.some((c) => c.job !== v.job || c.task !== v.task || c.module !== first.module)) {
    return { why: 'the results are not all of the same job, task and module' };
  }
  const confirmed = v.confirmed;
  if (first.output === confirmed) return { why: 'the accused claimed the confirmed output' };
  const agreeing = checked.slice(1).filter((c) => c.output === confirmed && c.report.device !== v.accused);
  const devicesAgreeing = new Set(agreeing.map((c) => c.report.device));
  const ownersAgreeing = new Set(agreeing.map((c) => c.owner));
  if (devicesAgreeing.size < 2 || ownersAgreeing.size < 2) {
    return { why: 'the confirmed output was not claimed by two devices of different owners' };
  }
  return { checked };
}

export function verifyCompute(input: VerifierInput<ComputeParameters, { rows: unknown[] }>): VerifierOutput {
  const { devices, parameters } = input;
  const scores = new Uint32Array(devices.length);
  const rejections = new RejectionTable();
  const findings: Finding[] = [];
  const accused = new Set<string>();
  for (const raw of input.oracleInputs.rows) {
    const v = verdictSchema.parse(raw);
    const out = judge(v, devices);
    if ('why' in out) {
      rejections.push({ device: v.accused as Hex, digest: null, reason: 'verdict-unproven', detail: out.why });
      continue;
    }
    // One finding per device and epoch: its stake is slashed once for the epoch's lies.
    if (accused.has(v.accused)) continue;
    accused.add(v.accused);
    findings.push({
      device: v.accused as Hex,
      kind: 'wrong-output',
      amount: parameters.slashAmount,
      evidence: { job: v.job, task: v.task, confirmed: v.confirmed, results: out.checked.map((c) => c.report) },
    });
  }
  return { scores, detail: {}, rejections, findings };
}
