// One epoch as a pure function: inputs (accepted reports, oracle inputs, chain snapshot, budgets,
// parameters, prior cumulative amounts) → scores, rejections, rewards, cumulative leaves and root.
// The oracle writes `{ inputs, result }` as the epoch artifact; `groundwork epoch verify` runs the
// same function on the artifact's inputs and compares.
import type { Address, Hex } from 'viem';
import { canonicalBytes, canonicalJson } from './encoding.ts';
import { publicKeyFromCoordinates, verifyMessage } from './device-key.ts';
import { RewardTree } from './merkle.ts';
import type { AcceptedReport, DeviceSnapshot, NetworkPlugins, Rejection } from './network.ts';
import {
  AccountTable,
  computeRewardColumns,
  forEachDeviceReward,
  forEachLeaf,
  networkColumns,
  priorColumns,
  type NetworkRewardColumns,
} from './rewards.ts';
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
  plugins: NetworkPlugins,
  options: ComputeEpochOptions = {},
): { result: EpochResult; tree: RewardTree | null } {
  const checkSignatures = options.checkSignatures ?? true;
  const owners = new AccountTable();
  const rewardInputs: NetworkRewardColumns[] = [];
  const perNetwork: Omit<EpochResult['networks'][number], 'budget' | 'usagePool' | 'proofPool' | 'paid' | 'undistributed'>[] = [];

  for (const net of inputs.networks) {
    const plugin = plugins[net.kind];
    if (!plugin) throw new EpochInputError(`no plug-in for network "${net.kind}"`);
    const parsed = plugin.parameters.schema.safeParse(net.parameters);
    if (!parsed.success) throw new EpochInputError(`network ${net.kind}: bad parameters: ${parsed.error.message}`);
    const parameters = parsed.data;

    const rejections: Rejection[] = [...net.ingestRejections];
    // Receive order, ties by digest: the result cannot depend on how the inputs were listed.
    const ordered = [...net.reports].sort(
      (a, b) => a.receivedAt - b.receivedAt || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0),
    );
    const reports = checkSignatures ? filterBySignature(ordered, net.devices, rejections) : ordered;
    let out: ReturnType<typeof plugin.verify>;
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

    const scoreOf = scoreLookup(net.devices, out.scores);
    const usage = new Map(net.usage.map((u) => [u.device, BigInt(u.credits)]));
    const budget = {
      kind: net.kind,
      budget: BigInt(net.budget),
      usageShareBps: plugin.usageShareBps(parameters),
      count: net.devices.length,
    };
    rewardInputs.push(
      networkColumns(
        budget,
        (i) => {
          const d = net.devices[i]!;
          return { device: d.device, owner: d.owner, score: scoreOf(i), usage: usage.get(d.device) ?? 0n };
        },
        owners,
      ),
    );
    perNetwork.push({
      kind: net.kind,
      scores: out.scores.map((s) => ({ device: s.device, score: s.score.toString(), detail: s.detail })),
      rejections,
    });
  }

  const prior = priorColumns(inputs.prior.cumulative.map((c) => [c.account, BigInt(c.amount)] as const));
  const rewards = computeRewardColumns({ owners: owners.accounts, networks: rewardInputs, prior });
  const tree =
    rewards.cumulative.amounts.length > 0 ? RewardTree.fromColumns(rewards.cumulative.accounts, rewards.cumulative.amounts) : null;
  const str = (n: bigint) => n.toString();

  const devices: EpochResult['devices'] = [];
  forEachDeviceReward(rewards, rewardInputs, (k, i, owner, proof, usage, total) => {
    const net = inputs.networks[k]!;
    devices.push({
      network: net.kind,
      device: net.devices[i]!.device,
      owner: owners.lower[owner]!,
      proof: str(proof),
      usage: str(usage),
      total: str(total),
    });
  });
  const ownersOut: EpochResult['owners'] = [];
  const cumulative: EpochResult['cumulative'] = [];
  forEachLeaf(rewards, (account, amount, earned) => {
    cumulative.push({ account, amount: str(amount) });
    if (earned !== undefined) ownersOut.push({ account, amount: str(earned) });
  });

  const result: EpochResult = {
    networks: perNetwork.map((n, i) => {
      const s = rewards.networks[i]!;
      return {
        ...n,
        budget: str(s.budget),
        usagePool: str(s.usagePool),
        proofPool: str(s.proofPool),
        paid: str(s.paid),
        undistributed: str(s.undistributed),
      };
    }),
    devices,
    owners: ownersOut,
    cumulative,
    total: str(rewards.total),
    paid: str(rewards.paid),
    undistributed: str(rewards.undistributed),
    root: tree ? tree.root : null,
  };
  return { result, tree };
}

/**
 * Each snapshot device's score by index (0 for a device the verifier did not score). Verifiers
 * list scores in snapshot order, so that order is read directly; any other order is looked up.
 */
function scoreLookup(devices: readonly DeviceSnapshot[], scores: readonly { device: Hex; score: bigint }[]): (i: number) => bigint {
  const aligned = scores.length === devices.length && scores.every((s, i) => s.device === devices[i]!.device);
  if (aligned) return (i) => scores[i]!.score;
  const byDevice = new Map(scores.map((s) => [s.device, s.score]));
  return (i) => byDevice.get(devices[i]!.device) ?? 0n;
}

function filterBySignature(
  reports: readonly AcceptedReport[],
  devices: readonly DeviceSnapshot[],
  rejections: Rejection[],
): AcceptedReport[] {
  const keys = new Map(devices.map((d) => [d.device, d]));
  return reports.filter((r) => {
    const d = keys.get(r.report.device);
    if (!d) {
      rejections.push({
        device: r.report.device,
        digest: r.digest,
        reason: 'unregistered-device',
        detail: `device ${r.report.device} is not in the epoch's snapshot`,
      });
      return false;
    }
    if (reportDigest(r.report) !== r.digest) {
      rejections.push({
        device: r.report.device,
        digest: r.digest,
        reason: 'digest-mismatch',
        detail: `the report's digest is ${reportDigest(r.report)}, not ${r.digest}`,
      });
      return false;
    }
    if (!verifyMessage(publicKeyFromCoordinates({ x: d.keyX, y: d.keyY }), reportSigningBytes(r.report), r.report.sig)) {
      rejections.push({
        device: r.report.device,
        digest: r.digest,
        reason: 'bad-signature',
        detail: "the signature does not verify against the device's registered key",
      });
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
  for (const k of keys)
    diffResults(
      (expected as Record<string, unknown>)[k],
      (actual as Record<string, unknown>)[k],
      Array.isArray(expected) ? `${path}[${k}]` : `${path}.${k}`,
      out,
      limit,
    );
  return out;
}
