// The shape every resource network plugs in with (DESIGN.md: verifier, worker, client, challenger,
// parameters). The oracle and `epoch verify` only ever see this interface.
import type { KeyObject } from 'node:crypto';
import type { Address, Hex } from 'viem';
import type { z } from 'zod';
import type { DeviceTable, RejectionTable, ReportTable, RowSink } from './epoch-tables.ts';
import type { Challenge, Domain, Report } from './schemas.ts';

/** A report that passed ingest, with the oracle's receive time (unix ms). */
export type AcceptedReport = { report: Report; digest: Hex; receivedAt: number };

/** A registered device as the chain had it at the epoch's snapshot block. */
export type DeviceSnapshot = {
  device: Hex;
  owner: Address;
  network: string;
  keyX: Hex;
  keyY: Hex;
  stake: string;
  registeredAt: number;
};

/** Why an input earned nothing. `digest` is null when the input is an unanswered challenge. */
export type Rejection = { device: Hex | null; digest: Hex | null; reason: string; detail: string };

export type DeviceScore = { device: Hex; score: bigint; detail: Record<string, number | string> };

/**
 * What a verifier judges, as tables (epoch-tables.ts): at a million devices the inputs are
 * columns, never one object per device, report or challenge.
 */
export type VerifierInput<P, O = unknown> = {
  epoch: number;
  /** Unix seconds. */
  start: number;
  end: number;
  parameters: P;
  devices: DeviceTable;
  reports: ReportTable;
  /**
   * The rows of `reports` to judge, in receive order (time, then digest): the reports whose device
   * is in the snapshot and whose digest and signature the epoch close checked (or trusted).
   */
  order: Uint32Array;
  /** Each report's device as a row of `devices` (-1: not in the snapshot), by report row. */
  deviceRows: Int32Array;
  /** What the oracle itself contributed (for `uptime`: the challenges it issued), in the plug-in's own table. */
  oracleInputs: O;
};

export type VerifierOutput = {
  /** Each device's score by device row, 0..SCORE_SCALE parts per million. */
  scores: Uint32Array;
  /** Per-device detail by name (numbers or strings, by device row), written beside each score. */
  detail: Readonly<Record<string, ArrayLike<number> | readonly string[]>>;
  /** Why each input that earned nothing earned nothing, in a stable order. */
  rejections: RejectionTable;
};

/** How a network holds what its oracle contributed: the schema of one row and an empty table. */
export type OracleInputsSpec<O> = {
  /** One row as the artifact has it (checked before `push`). */
  row: z.ZodType;
  table(): O & RowSink<unknown>;
  /** The table another thread `share()`d. */
  fromShared(shared: unknown): O & RowSink<unknown>;
};

/** Oracle side: when to test each device, and how long it has to answer. */
export type Challenger<P> = {
  /** Issue times (unix ms, within [start, end) of the epoch) for one device. */
  plan(args: { epoch: number; startMs: number; endMs: number; parameters: P; random: () => number }): number[];
  /** Milliseconds a device has to answer. */
  deadlineMs(parameters: P): number;
};

/** Agent side: what runs on the provider's hardware. */
export type WorkerContext = {
  device: Hex;
  domain: Domain;
  key: KeyObject;
  /** Current epoch by the agent's clock. */
  epoch(): number;
  log(line: string): void;
};

export type Worker = {
  /** Builds the signed answer to a challenge, or null to ignore it. */
  onChallenge?(challenge: Challenge, ctx: WorkerContext): Promise<Report | null> | Report | null;
  /** Reports the device sends on its own, each epoch (none for `uptime`). */
  periodic?(ctx: WorkerContext): Promise<Report[]> | Report[];
};

export type NetworkPlugin<P = unknown, O = unknown> = {
  kind: string;
  description: string;
  parameters: {
    schema: z.ZodType<P>;
    defaults: P;
    /** Where each default comes from in the field (FIELD.md). */
    references: Record<string, string>;
  };
  /** Body schema for each report type this network accepts at ingest. */
  reportTypes: Record<string, z.ZodType>;
  /** The oracle's contribution to each epoch (the challenges it issued), as the verifier reads it. */
  oracleInputs: OracleInputsSpec<O>;
  /** Pure: the epoch's accepted inputs → per-device scores and the reason for every rejection. */
  verify(input: VerifierInput<P, O>): VerifierOutput;
  /** Share of the network's budget paid for usage, in basis points. */
  usageShareBps(parameters: P): number;
  challenger?: Challenger<P>;
  worker: Worker;
};

/**
 * A plug-in of any network, as registries hold them: each plug-in parses its own parameters with
 * its own schema, so a registry cannot name one parameter type for all of them.
 */
// biome-ignore lint/suspicious/noExplicitAny: parameters and inputs are checked by each plug-in's own schemas
export type AnyNetworkPlugin = NetworkPlugin<any, any>;

/** Plug-ins by network kind. */
export type NetworkPlugins = Readonly<Record<string, AnyNetworkPlugin>>;
