// One epoch as a pure function: inputs (accepted reports, oracle inputs, chain snapshot, budgets,
// parameters, prior cumulative amounts) → scores, rejections, rewards, cumulative leaves and root.
// The oracle writes `{ inputs, result }` as the epoch artifact; `groundwork epoch verify` runs the
// same function on the artifact's inputs and compares.
//
// The work happens on tables (epoch-tables.ts), from the verifier to the reward tree, and the
// artifact is written from them as a stream (writeArtifact), so a million devices cost columns and
// chunks, never one string or one object per row. computeEpoch keeps the object interface for
// small epochs and tests: it converts, computes, and reads the result back.
import type { Address, Hex } from 'viem';
import { type ARTIFACT_FORMAT, verifierFindingSchema } from './artifact-schema.ts';
import { publicKeyFromCoordinates, verifyMessage } from './device-key.ts';
import { canonicalBytes, canonicalJson, evidenceHash, sha256Hex } from './encoding.ts';
import { describeZodError } from './schemas.ts';
import {
  AccountAmounts,
  DeviceTable,
  RejectionTable,
  ReportTable,
  type RowSink,
  type RowTable,
  ScratchEncoder,
  UsageRows,
} from './epoch-tables.ts';
import type { JsonWriter } from './json-writer.ts';
import { RewardTree } from './merkle.ts';
import type { AcceptedReport, DeviceScore, DeviceSnapshot, Finding, NetworkPlugins, Rejection, VerifierOutput } from './network.ts';
import {
  AccountTable,
  computeRewardColumns,
  forEachDeviceReward,
  forEachLeaf,
  type NetworkRewardColumns,
  type RewardColumns,
} from './rewards.ts';

export { ARTIFACT_FORMAT } from './artifact-schema.ts';

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

/** A verifier's finding as the artifact has it: with the hash of its evidence (what goes on chain). */
export type ArtifactFinding = Finding & { evidenceHash: Hex };

export type EpochResult = {
  networks: {
    kind: string;
    scores: { device: Hex; score: string; detail: Record<string, number | string> }[];
    /** The network's fraud findings; absent when it has none (artifacts without findings keep their bytes). */
    findings?: ArtifactFinding[];
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

/** One network's inputs as tables. */
export type NetworkTables = {
  kind: string;
  id: Hex;
  budget: string;
  parameters: unknown;
  devices: DeviceTable;
  usage: UsageRows;
  oracleInputs: RowSink<unknown>;
  reports: ReportTable;
  ingestRejections: RejectionTable;
};

/** An epoch's inputs as tables: what the close computes on and the artifact's `inputs`. */
export type EpochTables = Omit<EpochInputs, 'networks' | 'prior'> & {
  networks: NetworkTables[];
  prior: { epoch: number | null; root: Hex | null; total: string; cumulative: AccountAmounts };
};

export type NetworkOutcome = {
  kind: string;
  /** The verifier's scores, except that a device with a finding scores 0 (see computeEpochTables). */
  scores: Uint32Array;
  detail: VerifierOutput['detail'];
  /** The network's rejections in artifact order: ingest's, the close's own checks, the verifier's. */
  rejections: RejectionTable[];
  /** Frauds the verifier proved, in its order, each with its evidence hash. */
  findings: ArtifactFinding[];
  budget: bigint;
  usagePool: bigint;
  proofPool: bigint;
  paid: bigint;
  undistributed: bigint;
};

/** An epoch's result as columns: the artifact's `result`, and the tree that pays it. */
export type EpochOutcome = {
  networks: NetworkOutcome[];
  rewards: RewardColumns;
  rewardInputs: NetworkRewardColumns[];
  owners: AccountTable;
  tree: RewardTree | null;
  root: Hex | null;
  total: bigint;
  paid: bigint;
  undistributed: bigint;
};

export class EpochInputError extends Error {
  override name = 'EpochInputError';
}

export type ComputeEpochOptions = {
  /**
   * Re-check every report's digest and signature against the snapshot key (`epoch verify` does;
   * default true). The oracle's close skips it: ingest checked both before storing the report.
   */
  checkSignatures?: boolean;
};

/** Empty tables for one network, its oracle inputs in its plug-in's table. */
export function networkTables(net: { kind: string; id: Hex; budget: string; parameters: unknown }, plugins: NetworkPlugins): NetworkTables {
  const plugin = plugins[net.kind];
  if (!plugin) throw new EpochInputError(`no plug-in for network "${net.kind}"`);
  return {
    ...net,
    devices: new DeviceTable(),
    usage: new UsageRows(),
    oracleInputs: plugin.oracleInputs.table(),
    reports: new ReportTable(),
    ingestRejections: new RejectionTable(),
  };
}

/** Drops the room the tables' columns grew into (once they are complete: they hold hundreds of MB at scale). */
export function compactTables(t: EpochTables): void {
  for (const n of t.networks) {
    n.devices.compact();
    n.reports.compact();
    n.oracleInputs.compact?.();
  }
}

/** An epoch's tables as another thread receives them (structured-cloneable; columns in shared memory). */
export type SharedTables = Omit<EpochTables, 'networks' | 'prior'> & {
  networks: (Omit<NetworkTables, 'devices' | 'usage' | 'oracleInputs' | 'reports' | 'ingestRejections'> & {
    devices: unknown;
    usage: unknown;
    oracleInputs: unknown;
    reports: unknown;
    ingestRejections: unknown;
  })[];
  prior: Omit<EpochTables['prior'], 'cumulative'> & { cumulative: unknown };
};

/** The tables as another thread can take them, to post with postMessage (nothing large is copied). */
export function shareTables(t: EpochTables): SharedTables {
  return {
    ...t,
    networks: t.networks.map((n) => ({
      ...n,
      devices: n.devices.share(),
      usage: n.usage.share(),
      oracleInputs: n.oracleInputs.share(),
      reports: n.reports.share(),
      ingestRejections: n.ingestRejections.share(),
    })),
    prior: { ...t.prior, cumulative: t.prior.cumulative.share() },
  };
}

/** The tables another thread shared (see shareTables). */
export function tablesFromShared(s: SharedTables, plugins: NetworkPlugins): EpochTables {
  return {
    ...s,
    networks: s.networks.map((n) => {
      const plugin = plugins[n.kind];
      if (!plugin) throw new EpochInputError(`no plug-in for network "${n.kind}"`);
      return {
        ...n,
        devices: DeviceTable.fromShared(n.devices),
        usage: UsageRows.fromShared(n.usage),
        oracleInputs: plugin.oracleInputs.fromShared(n.oracleInputs),
        reports: ReportTable.fromShared(n.reports),
        ingestRejections: RejectionTable.fromShared(n.ingestRejections),
      };
    }),
    prior: { ...s.prior, cumulative: AccountAmounts.fromShared(s.prior.cumulative) },
  };
}

/** An epoch's fields other than its networks, with `cumulative` as the prior amounts. */
export function envelopeOf(
  inputs: Omit<EpochInputs, 'networks' | 'prior'> & { prior: Omit<EpochInputs['prior'], 'cumulative'> },
  cumulative: AccountAmounts,
): Omit<EpochTables, 'networks'> {
  return {
    format: inputs.format,
    chainId: inputs.chainId,
    registry: inputs.registry,
    distributor: inputs.distributor,
    epoch: inputs.epoch,
    start: inputs.start,
    end: inputs.end,
    snapshotBlock: inputs.snapshotBlock,
    prior: { epoch: inputs.prior.epoch, root: inputs.prior.root, total: inputs.prior.total, cumulative },
  };
}

/** The tables of an epoch given as objects (each oracle input checked by its plug-in's row schema). */
export function tablesFromInputs(inputs: EpochInputs, plugins: NetworkPlugins): EpochTables {
  const cumulative = new AccountAmounts();
  inputs.prior.cumulative.forEach((c, i) => {
    try {
      cumulative.push(c);
    } catch (err) {
      // The prior is the previous result's leaves, which the close writes in lowercase.
      throw new EpochInputError(`prior.cumulative[${i}].account: ${(err as Error).message}`);
    }
  });
  return {
    ...envelopeOf(inputs, cumulative),
    networks: inputs.networks.map((net) => {
      const t = networkTables(net, plugins);
      for (const d of net.devices) t.devices.push(d);
      for (const u of net.usage) t.usage.push(u);
      const rowSchema = plugins[net.kind]!.oracleInputs.row;
      net.oracleInputs.forEach((o, i) => {
        const parsed = rowSchema.safeParse(o);
        if (!parsed.success) throw new EpochInputError(`network ${net.kind}: oracle input ${i}: ${describeZodError(parsed.error)}`);
        t.oracleInputs.push(parsed.data);
      });
      for (const r of net.reports) t.reports.push(r);
      for (const r of net.ingestRejections) t.ingestRejections.push(r);
      return t;
    }),
  };
}

/**
 * Computes an epoch from its tables: each network's verifier, then the rewards and the tree.
 *
 * @example
 * const outcome = computeEpochTables(tables, { uptime: uptimeNetwork }, { checkSignatures: false });
 * writeArtifact(writer, tables, outcome);
 */
export function computeEpochTables(inputs: EpochTables, plugins: NetworkPlugins, options: ComputeEpochOptions = {}): EpochOutcome {
  const checkSignatures = options.checkSignatures ?? true;
  const owners = new AccountTable();
  const rewardInputs: NetworkRewardColumns[] = [];
  const verified: Omit<NetworkOutcome, 'budget' | 'usagePool' | 'proofPool' | 'paid' | 'undistributed'>[] = [];

  for (const net of inputs.networks) {
    const plugin = plugins[net.kind];
    if (!plugin) throw new EpochInputError(`no plug-in for network "${net.kind}"`);
    const parsed = plugin.parameters.schema.safeParse(net.parameters);
    if (!parsed.success) throw new EpochInputError(`network ${net.kind}: bad parameters: ${parsed.error.message}`);
    assertUniqueDevices(net);
    const checks = new RejectionTable();
    const deviceRows = new Int32Array(net.reports.length);
    const order = screenReports(net, checks, checkSignatures, deviceRows);
    let out: VerifierOutput;
    try {
      out = plugin.verify({
        epoch: inputs.epoch,
        start: inputs.start,
        end: inputs.end,
        parameters: parsed.data,
        devices: net.devices,
        reports: net.reports,
        order,
        deviceRows,
        oracleInputs: net.oracleInputs,
      });
    } catch (err) {
      throw new EpochInputError(`network ${net.kind}: the verifier refused its inputs: ${(err as Error).message}`);
    }
    if (out.scores.length !== net.devices.length)
      throw new EpochInputError(`network ${net.kind}: the verifier scored ${out.scores.length} of ${net.devices.length} devices`);
    const { findings, scores, forfeit } = applyFindings(net, out);
    rewardInputs.push({
      kind: net.kind,
      budget: BigInt(net.budget),
      usageShareBps: plugin.usageShareBps(parsed.data),
      scores,
      ownerOf: ownerIndexes(net.devices, owners),
      usage: usageColumns(net),
      ...(forfeit ? { forfeit } : {}),
      ...(out.usageValue ? { usageValue: { credits: BigInt(out.usageValue.credits), tokens: BigInt(out.usageValue.tokens) } } : {}),
    });
    verified.push({ kind: net.kind, scores, detail: out.detail, rejections: [net.ingestRejections, checks, out.rejections], findings });
  }

  const rewards = computeRewardColumns({
    owners: owners.accounts,
    networks: rewardInputs,
    prior: { accounts: inputs.prior.cumulative.accounts.bytes, amounts: inputs.prior.cumulative.amounts },
  });
  const tree =
    rewards.cumulative.amounts.length > 0 ? RewardTree.fromColumns(rewards.cumulative.accounts, rewards.cumulative.amounts) : null;
  return {
    networks: verified.map((n, i) => {
      const s = rewards.networks[i]!;
      return { ...n, budget: s.budget, usagePool: s.usagePool, proofPool: s.proofPool, paid: s.paid, undistributed: s.undistributed };
    }),
    rewards,
    rewardInputs,
    owners,
    tree,
    root: tree ? tree.root : null,
    total: rewards.total,
    paid: rewards.paid,
    undistributed: rewards.undistributed,
  };
}

/**
 * A planted cheater earns nothing (DESIGN.md): a device with a finding scores 0 and forfeits its
 * usage reward in the epoch of the finding. Honest devices are paid exactly what they would be
 * were the cheater an ordinary device that scored 0 with the same usage: its score is 0 before the
 * proof pool is divided, and its usage still counts in the usage pool's split (and in whether
 * there is a usage pool at all), its share of that pool staying undistributed instead of being
 * paid. So a cheater's presence neither takes from honest devices nor hands them what it lost:
 * what it would have had remains in the distributor.
 */
function applyFindings(
  net: NetworkTables,
  out: VerifierOutput,
): { findings: ArtifactFinding[]; scores: Uint32Array; forfeit: Uint8Array | null } {
  const given = out.findings ?? [];
  if (!Array.isArray(given)) throw new EpochInputError(`network ${net.kind}: the verifier's findings are not a list`);
  if (given.length === 0) return { findings: [], scores: out.scores, forfeit: null };
  const scores = Uint32Array.from(out.scores);
  const forfeit = new Uint8Array(net.devices.length);
  const findings = given.map((f, i) => {
    const parsed = verifierFindingSchema.safeParse(f);
    if (!parsed.success) throw new EpochInputError(`network ${net.kind}: the verifier's finding ${i}: ${describeZodError(parsed.error)}`);
    const row = net.devices.rowOfId(parsed.data.device);
    if (row < 0)
      throw new EpochInputError(`network ${net.kind}: the verifier's finding ${i} names ${f.device}, not in the epoch's snapshot`);
    scores[row] = 0;
    forfeit[row] = 1;
    const { device, kind, amount, evidence } = parsed.data;
    return { device, kind, amount, evidence, evidenceHash: evidenceHash(evidence) };
  });
  return { findings, scores, forfeit };
}

function assertUniqueDevices(net: NetworkTables): void {
  const d = net.devices;
  for (let i = 0; i < d.length; i++) {
    if (d.rowOf(d.device, i) !== i)
      throw new EpochInputError(`network ${net.kind}: device ${d.device.get(i)} is listed twice in the snapshot`);
  }
}

/**
 * The reports the verifier may judge, in receive order: from a device in the snapshot and (when
 * checked) with the right digest and a good signature. The others are rejected here, in order.
 */
function screenReports(net: NetworkTables, rejections: RejectionTable, checkSignatures: boolean, deviceRows: Int32Array): Uint32Array {
  const { reports, devices } = net;
  const order = reports.receiveOrder();
  const deviceOf = (r: number) => reports.device.get(r);
  const digestOf = (r: number) => reports.digest.get(r);
  const unregistered = rejections.kind({
    reason: 'unregistered-device',
    device: deviceOf,
    digest: digestOf,
    detail: (r) => `device ${deviceOf(r)} is not in the epoch's snapshot`,
  });
  const mismatch = rejections.kind({
    reason: 'digest-mismatch',
    device: deviceOf,
    digest: digestOf,
    detail: (r) => `the report's digest is ${reports.computedDigest(r)}, not ${digestOf(r)}`,
  });
  const badSignature = rejections.kind({
    reason: 'bad-signature',
    device: deviceOf,
    digest: digestOf,
    detail: () => "the signature does not verify against the device's registered key",
  });
  const keys = new Map<number, ReturnType<typeof publicKeyFromCoordinates>>();
  deviceRows.set(devices.rowsOf(reports.device));
  let kept = 0;
  for (const r of order) {
    const row = deviceRows[r]!;
    if (row < 0) {
      rejections.add(unregistered, r);
      continue;
    }
    if (checkSignatures) {
      if (reports.computedDigest(r) !== digestOf(r)) {
        rejections.add(mismatch, r);
        continue;
      }
      let key = keys.get(row);
      if (!key) {
        key = publicKeyFromCoordinates({ x: devices.keyX.get(row)!, y: devices.keyY.get(row)! });
        keys.set(row, key);
      }
      if (!verifyMessage(key, reports.signingBytes(r), reports.sig.get(r)!)) {
        rejections.add(badSignature, r);
        continue;
      }
    }
    order[kept++] = r;
  }
  return order.subarray(0, kept);
}

/** Each device's owner as an index into `owners`; each distinct owner string is looked up once. */
function ownerIndexes(devices: DeviceTable, owners: AccountTable): Uint32Array {
  const out = new Uint32Array(devices.length);
  const byCode = new Int32Array(devices.owner.values.length).fill(-1);
  for (let i = 0; i < devices.length; i++) {
    const code = devices.owner.code(i);
    let index = byCode[code]!;
    if (index < 0) {
      index = owners.indexOf(devices.owner.values[code]!, () => `device ${devices.device.get(i)}`);
      byCode[code] = index;
    }
    out[i] = index;
  }
  return out;
}

/** Usage as the reward columns take it: device rows in order, with their credits (the last entry of a device counts). */
function usageColumns(net: NetworkTables): NetworkRewardColumns['usage'] {
  const byRow = new Map<number, bigint>();
  for (const u of net.usage.rows) {
    const row = net.devices.rowOfId(u.device);
    if (row >= 0) byRow.set(row, BigInt(u.credits));
  }
  const rows = [...byRow.keys()].filter((row) => byRow.get(row)! > 0n).sort((a, b) => a - b);
  return { index: Uint32Array.from(rows), credits: rows.map((row) => byRow.get(row)!) };
}

// ---------------------------------------------------------------------------------------------
// The artifact, written as a stream

function writeRows(w: JsonWriter, table: RowTable): void {
  w.array(table.length, (i) => table.writeRow(w, i));
}

/** A table as the array of the key `name`, the path that errors and comparisons name. */
function writeTable(w: JsonWriter, name: string, table: RowTable): void {
  w.enter(name);
  writeRows(w, table);
  w.leave();
}

/** The artifact's `inputs`, canonically. */
export function writeInputs(w: JsonWriter, t: EpochTables): void {
  w.raw(`{"chainId":${t.chainId},"distributor":`);
  w.string(t.distributor);
  w.raw(`,"end":${t.end},"epoch":${t.epoch},"format":`);
  w.string(t.format);
  w.raw(',"networks":');
  w.enter('networks');
  w.array(t.networks.length, (k) => {
    const net = t.networks[k]!;
    w.raw(`{"budget":"${net.budget}","devices":`);
    writeTable(w, 'devices', net.devices);
    w.raw(',"id":');
    w.string(net.id);
    w.raw(',"ingestRejections":');
    writeTable(w, 'ingestRejections', net.ingestRejections);
    w.raw(',"kind":');
    w.string(net.kind);
    w.raw(',"oracleInputs":');
    writeTable(w, 'oracleInputs', net.oracleInputs);
    w.raw(',"parameters":');
    w.json(canonicalJson(net.parameters));
    w.raw(',"reports":');
    writeTable(w, 'reports', net.reports);
    w.raw(',"usage":');
    writeTable(w, 'usage', net.usage);
    w.raw('}');
  });
  w.leave();
  w.raw(',"prior":{"cumulative":');
  w.enter('prior');
  writeTable(w, 'cumulative', t.prior.cumulative);
  w.leave();
  w.raw(`,"epoch":${t.prior.epoch === null ? 'null' : t.prior.epoch},"root":`);
  if (t.prior.root === null) w.null();
  else w.string(t.prior.root);
  w.raw(`,"total":"${t.prior.total}"},"registry":`);
  w.string(t.registry);
  w.raw(`,"snapshotBlock":"${t.snapshotBlock}","start":${t.start}}`);
}

function writeDetail(w: JsonWriter, detail: VerifierOutput['detail'], names: string[], row: number): void {
  w.raw('{');
  names.forEach((name, k) => {
    if (k > 0) w.raw(',');
    w.string(name);
    w.raw(':');
    const v = detail[name]![row]!;
    if (typeof v === 'number') w.int(v);
    else w.string(v);
  });
  w.raw('}');
}

/** The artifact's `result`, canonically. */
export function writeResult(w: JsonWriter, t: EpochTables, o: EpochOutcome): void {
  w.raw('{"cumulative":');
  w.enter('cumulative');
  const leaves = o.rewards.cumulative;
  const accounts = new AccountAmountsView(leaves.accounts, leaves.amounts);
  w.array(leaves.amounts.length, (l) => accounts.writeRow(w, l));
  w.leave();
  w.raw(',"devices":');
  w.enter('devices');
  w.raw('[');
  let first = true;
  let n = 0;
  forEachDeviceReward(o.rewards, o.rewardInputs, (k, i, owner, proof, usage, total) => {
    if (!first) w.raw(',');
    first = false;
    w.enter(n++);
    w.raw('{"device":');
    w.hex(t.networks[k]!.devices.device, i);
    w.raw(',"network":');
    w.string(t.networks[k]!.kind);
    w.raw(`,"owner":"${o.owners.lower[owner]}","proof":"${proof}","total":"${total}","usage":"${usage}"}`);
    w.leave();
  });
  w.raw(']');
  w.leave();
  w.raw(',"networks":');
  w.enter('networks');
  w.array(o.networks.length, (k) => {
    const net = o.networks[k]!;
    const devices = t.networks[k]!.devices;
    const names = Object.keys(net.detail).sort();
    w.raw(`{"budget":"${net.budget}",`);
    // Written only when there are findings: an artifact without any keeps the bytes it had
    // before findings existed (the golden fixtures, and every epoch's hash already on chain).
    if (net.findings.length) {
      w.raw('"findings":');
      w.enter('findings');
      w.array(net.findings.length, (i) => writeFinding(w, net.findings[i]!));
      w.leave();
      w.raw(',');
    }
    w.raw('"kind":');
    w.string(net.kind);
    w.raw(`,"paid":"${net.paid}","proofPool":"${net.proofPool}","rejections":[`);
    w.enter('rejections');
    let row = 0;
    for (const table of net.rejections) {
      for (let i = 0; i < table.length; i++, row++) {
        if (row > 0) w.raw(',');
        w.enter(row);
        table.writeRow(w, i);
        w.leave();
      }
    }
    w.leave();
    w.raw('],"scores":');
    w.enter('scores');
    w.array(devices.length, (i) => {
      w.raw('{"detail":');
      writeDetail(w, net.detail, names, i);
      w.raw(',"device":');
      w.hex(devices.device, i);
      w.raw(`,"score":"${net.scores[i]}"}`);
    });
    w.leave();
    w.raw(`,"undistributed":"${net.undistributed}","usagePool":"${net.usagePool}"}`);
  });
  w.leave();
  w.raw(',"owners":');
  w.enter('owners');
  w.raw('[');
  let m = 0;
  forEachLeaf(o.rewards, (account, _amount, earned) => {
    if (earned === undefined) return;
    if (m > 0) w.raw(',');
    w.enter(m++);
    w.raw(`{"account":"${account}","amount":"${earned}"}`);
    w.leave();
  });
  w.raw(']');
  w.leave();
  w.raw(`,"paid":"${o.paid}","root":`);
  if (o.root === null) w.null();
  else w.string(o.root);
  w.raw(`,"total":"${o.total}","undistributed":"${o.undistributed}"}`);
}

/** `{amount, device, evidence, evidenceHash, kind}`, canonically (sorted keys; evidence as canonicalJson). */
function writeFinding(w: JsonWriter, f: ArtifactFinding): void {
  w.raw(`{"amount":"${f.amount}","device":`);
  w.string(f.device);
  w.raw(',"evidence":');
  w.json(canonicalJson(f.evidence));
  w.raw(',"evidenceHash":');
  w.string(f.evidenceHash);
  w.raw(',"kind":');
  w.string(f.kind);
  w.raw('}');
}

/** Leaves (accounts and amounts) written as `{account, amount}` rows. */
class AccountAmountsView {
  constructor(
    private readonly accounts: Uint8Array,
    private readonly amounts: readonly bigint[],
  ) {}
  writeRow(w: JsonWriter, l: number): void {
    w.raw('{"account":"0x');
    w.rawHexDigits(this.accounts, 20 * l, 20);
    w.raw(`","amount":"${this.amounts[l]}"}`);
  }
}

/**
 * The whole artifact, `{"inputs":…,"result":…}`, canonically: the same bytes as
 * `encodeArtifact` of the same artifact as objects. The writer's sink sees it chunk by chunk.
 */
export function writeArtifact(w: JsonWriter, t: EpochTables, o: EpochOutcome): void {
  w.raw('{"inputs":');
  w.enter('inputs');
  writeInputs(w, t);
  w.leave();
  w.raw(',"result":');
  w.enter('result');
  writeResult(w, t, o);
  w.leave();
  w.raw('}');
  w.flush();
}

// ---------------------------------------------------------------------------------------------
// The object interface

/**
 * Computes an epoch given as objects: converts it to tables, computes, and reads the result back
 * from its canonical encoding (so it is exactly what the artifact says).
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
  const tables = tablesFromInputs(inputs, plugins);
  const outcome = computeEpochTables(tables, plugins, options);
  const bytes = new ScratchEncoder().encode((w) => writeResult(w, tables, outcome));
  return { result: JSON.parse(Buffer.from(bytes).toString('utf8')) as EpochResult, tree: outcome.tree };
}

/**
 * Runs a plug-in's verifier on inputs given as objects (tests and small tools): every report is
 * judged (no signature checks), and the output comes back as objects.
 */
export function verifyObjects<P>(
  plugin: NetworkPlugins[string],
  input: {
    epoch: number;
    start: number;
    end: number;
    parameters: P;
    devices: readonly DeviceSnapshot[];
    reports: readonly AcceptedReport[];
    oracleInputs: readonly unknown[];
  },
): { scores: DeviceScore[]; rejections: Rejection[]; findings: Finding[] } {
  const t = networkTables(
    { kind: plugin.kind, id: `0x${'00'.repeat(32)}`, budget: '0', parameters: input.parameters },
    { [plugin.kind]: plugin },
  );
  for (const d of input.devices) t.devices.push(d);
  for (const r of input.reports) t.reports.push(r);
  for (const o of input.oracleInputs) t.oracleInputs.push(plugin.oracleInputs.row.parse(o));
  const deviceRows = Int32Array.from({ length: t.reports.length }, (_, r) => t.devices.rowOf(t.reports.device, r));
  const out = plugin.verify({
    ...input,
    devices: t.devices,
    reports: t.reports,
    order: t.reports.receiveOrder(),
    deviceRows,
    oracleInputs: t.oracleInputs,
  });
  const names = Object.keys(out.detail);
  const scores = Array.from({ length: t.devices.length }, (_, i) => ({
    device: t.devices.device.get(i)!,
    score: BigInt(out.scores[i]!),
    detail: Object.fromEntries(names.map((name) => [name, out.detail[name]![i]!])),
  }));
  return {
    scores,
    rejections: Array.from({ length: out.rejections.length }, (_, i) => out.rejections.get(i)),
    findings: [...(out.findings ?? [])],
  };
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
