// One epoch as a pure function: inputs (accepted reports, oracle inputs, chain snapshot, budgets,
// parameters, prior cumulative amounts) → scores, rejections, rewards, cumulative leaves and root.
// The oracle writes `{ inputs, result }` as the epoch artifact; `groundwork epoch verify` runs the
// same function on the artifact's inputs and compares.
import type { Address, Hex } from 'viem';
import { canonicalBytes, canonicalJson } from './encoding.ts';
import { publicKeyFromCoordinates, verifyMessage } from './device-key.ts';
import { RewardTree } from './merkle.ts';
import type { AcceptedReport, DeviceSnapshot, NetworkPlugin, Rejection } from './network.ts';
import { computeRewards, type NetworkRewardInput } from './rewards.ts';
import { reportSigningBytes } from './schemas.ts';
import { sha256Hex } from './encoding.ts';

export const ARTIFACT_FORMAT = 'groundwork/epoch-artifact@1';

export type NetworkEpochInputs = {
  kind: string;
  id: Hex;
  /** The network's budget for the epoch (Emissions.networkBudget), decimal. */
  budget: string;
  parameters: unknown;
  devices: DeviceSnapshot[];
  /** Credits consumers spent on each device's service during the epoch, decimal. */
  usage: { device: Hex; credits: string }[];
  oracleInputs: unknown[];
  reports: AcceptedReport[];
  /** Inputs ingest refused that named a registered device (bad signature and the like). */
  ingestRejections: Rejection[];
};

export type EpochInputs = {
  format: typeof ARTIFACT_FORMAT;
  chainId: number;
  registry: Address;
  distributor: Address;
  epoch: number;
  start: number;
  end: number;
  snapshotBlock: string;
  networks: NetworkEpochInputs[];
  prior: { epoch: number | null; root: Hex | null; total: string; cumulative: { account: Address; amount: string }[] };
};

export type EpochResult = {
  networks: {
    kind: string;
    scores: { device: Hex; score: string; detail: Record<string, number | string> }[];
    rejections: Rejection[];
    budget: string;
    usagePool: string;
    proofPool: string;
    paid: string;
    undistributed: string;
  }[];
  devices: { network: string; device: Hex; owner: Address; proof: string; usage: string; total: string }[];
  owners: { account: Address; amount: string }[];
  cumulative: { account: Address; amount: string }[];
  total: string;
  paid: string;
  undistributed: string;
  /** Null when nobody has ever earned anything (there is no tree to post). */
  root: Hex | null;
};

export type EpochArtifact = { inputs: EpochInputs; result: EpochResult };

export class EpochInputError extends Error {
  override name = 'EpochInputError';
}

export type ComputeEpochOptions = {
  /** Re-check every report's signature against the snapshot key (verify does; default true). */
  checkSignatures?: boolean;
};

/**
 * Computes an epoch from its inputs.
 *
 * @example
 * const { result, tree } = computeEpoch(inputs, { uptime: uptimeNetwork });
 * result.root === tree?.root
 */
export function computeEpoch(
  inputs: EpochInputs,
  plugins: Readonly<Record<string, NetworkPlugin<any>>>,
  options: ComputeEpochOptions = {},
): { result: EpochResult; tree: RewardTree | null } {
  const checkSignatures = options.checkSignatures ?? true;
  const rewardInputs: NetworkRewardInput[] = [];
  const perNetwork: Omit<EpochResult['networks'][number], 'budget' | 'usagePool' | 'proofPool' | 'paid' | 'undistributed'>[] = [];

  for (const net of inputs.networks) {
    const plugin = plugins[net.kind];
    if (!plugin) throw new EpochInputError(`no plug-in for network "${net.kind}"`);
    const parsed = plugin.parameters.schema.safeParse(net.parameters);
    if (!parsed.success) throw new EpochInputError(`network ${net.kind}: bad parameters: ${parsed.error.message}`);
    const parameters = parsed.data;

    const rejections: Rejection[] = [...net.ingestRejections];
    // Receive order, ties by digest: the result cannot depend on how the inputs were listed.
    const ordered = [...net.reports].sort((a, b) => a.receivedAt - b.receivedAt || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    const reports = checkSignatures ? filterBySignature(ordered, net.devices, rejections) : ordered;
    let out;
    try {
      out = plugin.verify({
        epoch: inputs.epoch,
        start: inputs.start,
        end: inputs.end,
        parameters,
        devices: net.devices,
        reports,
        oracleInputs: net.oracleInputs,
      });
    } catch (err) {
      throw new EpochInputError(`network ${net.kind}: the verifier refused its inputs: ${(err as Error).message}`);
    }
    for (const r of out.rejections) rejections.push(r); // a spread overflows the stack past ~125k

    const usage = new Map(net.usage.map((u) => [u.device, BigInt(u.credits)]));
    const scores = new Map(out.scores.map((s) => [s.device, s.score]));
    rewardInputs.push({
      kind: net.kind,
      budget: BigInt(net.budget),
      usageShareBps: plugin.usageShareBps(parameters),
      devices: net.devices.map((d) => ({ device: d.device, owner: d.owner, score: scores.get(d.device) ?? 0n, usage: usage.get(d.device) ?? 0n })),
    });
    perNetwork.push({
      kind: net.kind,
      scores: out.scores.map((s) => ({ device: s.device, score: s.score.toString(), detail: s.detail })),
      rejections,
    });
  }

  const prior = new Map<string, bigint>(inputs.prior.cumulative.map((c) => [c.account.toLowerCase(), BigInt(c.amount)]));
  const rewards = computeRewards(rewardInputs, prior);
  const tree = rewards.cumulative.length > 0 ? RewardTree.of(rewards.cumulative) : null;
  const str = (n: bigint) => n.toString();

  const result: EpochResult = {
    networks: perNetwork.map((n, i) => {
      const s = rewards.networks[i]!;
      return { ...n, budget: str(s.budget), usagePool: str(s.usagePool), proofPool: str(s.proofPool), paid: str(s.paid), undistributed: str(s.undistributed) };
    }),
    devices: rewards.devices.map((d) => ({ ...d, proof: str(d.proof), usage: str(d.usage), total: str(d.total) })),
    owners: rewards.owners.map((o) => ({ account: o.account, amount: str(o.amount) })),
    cumulative: rewards.cumulative.map((c) => ({ account: c.account, amount: str(c.amount) })),
    total: str(rewards.total),
    paid: str(rewards.paid),
    undistributed: str(rewards.undistributed),
    root: tree ? tree.root : null,
  };
  return { result, tree };
}

function filterBySignature(reports: readonly AcceptedReport[], devices: readonly DeviceSnapshot[], rejections: Rejection[]): AcceptedReport[] {
  const keys = new Map(devices.map((d) => [d.device, d]));
  return reports.filter((r) => {
    const d = keys.get(r.report.device);
    if (!d) {
      rejections.push({ device: r.report.device, digest: r.digest, reason: 'unregistered-device', detail: `device ${r.report.device} is not in the epoch's snapshot` });
      return false;
    }
    if (reportDigest(r.report) !== r.digest) {
      rejections.push({ device: r.report.device, digest: r.digest, reason: 'digest-mismatch', detail: `the report's digest is ${reportDigest(r.report)}, not ${r.digest}` });
      return false;
    }
    if (!verifyMessage(publicKeyFromCoordinates({ x: d.keyX, y: d.keyY }), reportSigningBytes(r.report), r.report.sig)) {
      rejections.push({ device: r.report.device, digest: r.digest, reason: 'bad-signature', detail: "the signature does not verify against the device's registered key" });
      return false;
    }
    return true;
  });
}

/** A report's identity: sha256 of its canonical encoding including the signature. */
export function reportDigest(report: AcceptedReport['report']): Hex {
  return sha256Hex(canonicalBytes(report));
}

/**
 * The artifact's bytes (canonical JSON) and their sha256, which the oracle quorum signs as
 * `artifactHash`: anyone can check a downloaded artifact with `sha256sum`.
 */
export function encodeArtifact(artifact: EpochArtifact): { bytes: Uint8Array; hash: Hex } {
  const bytes = canonicalBytes(artifact);
  return { bytes, hash: sha256Hex(bytes) };
}

/** Field-by-field differences between two results, as "path: expected X, got Y" lines. */
export function diffResults(expected: unknown, actual: unknown, path = 'result', out: string[] = [], limit = 20): string[] {
  if (out.length >= limit) return out;
  if (typeof expected !== 'object' || expected === null || typeof actual !== 'object' || actual === null) {
    const show = (v: unknown) => (v === undefined ? '(missing)' : canonicalJson(v));
    if (show(expected) !== show(actual)) out.push(`${path}: artifact says ${show(expected)}, recomputed ${show(actual)}`);
    return out;
  }
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  for (const k of keys) diffResults((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k], Array.isArray(expected) ? `${path}[${k}]` : `${path}.${k}`, out, limit);
  return out;
}
