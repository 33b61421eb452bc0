// The shape every resource network plugs in with (DESIGN.md: verifier, worker, client, challenger,
// parameters). The oracle and `epoch verify` only ever see this interface.
import type { KeyObject } from 'node:crypto';
import type { Address, Hex, LocalAccount, PublicClient, WalletClient } from 'viem';
import type { EpochClock } from './epoch.ts';
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

/**
 * A fraud finding: what a verifier proved a device did, with evidence anyone can recheck from the
 * artifact alone (e.g. two signed results of one deterministic task that disagree, and the deciding
 * run). The epoch close turns each into a slash order signed by the oracle quorum beside the root;
 * the chain executes it after the challenge window unless the guardian vetoes.
 */
export type Finding = {
  device: Hex;
  /** What was proven, in the network's words (e.g. `wrong-output`). */
  kind: string;
  /** Stake to slash, in token units (decimal string). */
  amount: string;
  /** Canonical-JSON-encodable; its keccak256 over canonicalJson is the evidence hash on chain. */
  evidence: unknown;
};

export type VerifierOutput = {
  /** Each device's score by device row, 0..SCORE_SCALE parts per million. */
  scores: Uint32Array;
  /** Per-device detail by name (numbers or strings, by device row), written beside each score. */
  detail: Readonly<Record<string, ArrayLike<number> | readonly string[]>>;
  /** Why each input that earned nothing earned nothing, in a stable order. */
  rejections: RejectionTable;
  /** Frauds proven this epoch, in a stable order (none for `uptime`: a missed challenge is not fraud). */
  findings?: readonly Finding[];
  /**
   * What the epoch's usage is worth (`tokens` token units per `credits` credits, from the
   * network's oracle inputs): the usage pool is then capped at it (coverage: Helium's data transfer).
   */
  usageValue?: { credits: string; tokens: string };
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
  /** The oracle's HTTP base URL (its API, and the routes of the network's services). */
  oracleUrl: string;
  /** Sends a payload to the network's services on the oracle, over the device's socket (false: not connected). */
  send(payload: ServicePayload): boolean;
  /** Submits a signed report through ingest, over the socket; resolves with ingest's answer. */
  submit(report: Report): Promise<{ ok: true; digest: Hex } | { ok: false; reason: string; detail: string }>;
};

/** What a network's services and its workers say to each other over the device's socket. */
export type ServicePayload = Record<string, unknown>;

export type Worker = {
  /** Builds the signed answer to a challenge, or null to ignore it. */
  onChallenge?(challenge: Challenge, ctx: WorkerContext): Promise<Report | null> | Report | null;
  /** Reports the device sends on its own, each epoch (none for `uptime`). */
  periodic?(ctx: WorkerContext): Promise<Report[]> | Report[];
  /** A payload from the network's services (a task to run, for `compute`). */
  onService?(payload: ServicePayload, ctx: WorkerContext): Promise<void> | void;
  /** What the device offers the network's services when it connects (capacity and price, for `compute`). */
  hello?(ctx: WorkerContext): Promise<ServicePayload | null> | ServicePayload | null;
};

/** The oracle's database (PGlite or PostgreSQL), as a service sees it. */
export type ServiceQueryable = {
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
};
export type ServiceDatabase = ServiceQueryable & {
  /** Runs `fn` in one transaction: all of its writes land, or none. */
  transaction<T>(fn: (tx: ServiceQueryable) => Promise<T>): Promise<T>;
};

/** A registered device of the service's network, as the oracle's device cache has it. */
export type ServiceDevice = { device: Hex; owner: Address; network: string };

/**
 * What the oracle gives a network's services: their own tables in its database, the chain (the
 * quorum's keys sign what the services settle on chain), the devices' sockets and the clock.
 */
export type ServiceContext<P = unknown> = {
  network: string;
  /** keccak256 of the network's kind, as the contracts name it. */
  networkId: Hex;
  parameters: P;
  db: ServiceDatabase;
  chain: {
    chainId: number;
    client: PublicClient;
    wallet: WalletClient;
    /** The oracle quorum's keys this process holds; `quorum` of them sign. */
    signers: readonly LocalAccount[];
    quorum: number;
    /** Contract addresses by name (`credits`, `registry`, `escrow`, …). */
    addresses: Readonly<Record<string, Address>>;
  };
  /** Sends a payload to a device's worker (false: the device is not connected). */
  send(device: Hex, payload: ServicePayload): boolean;
  isConnected(device: Hex): boolean;
  device(device: Hex): ServiceDevice | undefined;
  clock: EpochClock;
  log(line: string): void;
  /** What a device was paid in a closed epoch (token units, decimal), from its artifact; null when the epoch has none. */
  rewardOf?(epoch: number, device: Hex): Promise<string | null>;
};

/** One HTTP route of a service, under `/v1/<network>/`. */
export type ServiceRoute = {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path below `/v1/<network>/`, as a regular expression source; its groups are the params. */
  path: string;
  /** Largest request body taken, in bytes (default: the API's JSON limit). */
  maxBodyBytes?: number;
  handle(req: ServiceRequest): Promise<ServiceReply>;
};
export type ServiceRequest = { params: string[]; query: URLSearchParams; body: Uint8Array };
export type ServiceReply = { status?: number; json?: unknown; body?: Uint8Array; type?: string };

/** A refusal a service route answers with: HTTP status, a reason code and what is wrong. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    detail: string,
  ) {
    super(detail);
  }
}

/** A route's JSON body checked against `schema`: a ServiceError 400 `malformed` naming the first field wrong. */
export function parseJsonBody<T>(req: Pick<ServiceRequest, 'body'>, schema: z.ZodType<T>): T {
  return parseWith(schema, jsonBody(req));
}

/** A route's body as JSON: a ServiceError 400 `malformed` when it is not. */
export function jsonBody(req: Pick<ServiceRequest, 'body'>): unknown {
  try {
    return JSON.parse(Buffer.from(req.body).toString('utf8'));
  } catch (err) {
    throw new ServiceError(400, 'malformed', `body is not JSON: ${(err as Error).message}`);
  }
}

/** `raw` checked against `schema`: a ServiceError 400 `malformed` naming the first field wrong. */
export function parseWith<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ServiceError(400, 'malformed', `${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return parsed.data;
}

/** What the oracle runs for a network besides scoring (compute: the matcher and the spot-checker). */
export type NetworkService = {
  /** SQL that creates its tables if they do not exist (run in order at start). */
  schema: readonly string[];
  routes: readonly ServiceRoute[];
  /** A payload a device's worker sent. */
  onMessage?(device: Hex, payload: ServicePayload): Promise<void> | void;
  /** A report of this network that ingest has durably stored. */
  onReport?(accepted: AcceptedReport): Promise<void> | void;
  /** A device of this network connected (with its worker's hello) or disconnected (hello null). */
  onConnection?(device: Hex, hello: ServicePayload | null): Promise<void> | void;
  /**
   * Called as the epoch is about to be closed, before its inputs are read (and again on each try
   * of the close): the last moment to record inputs for it (`oracle_inputs`). The chain is read up
   * to `snapshotBlock`, the block the epoch's device snapshot is taken at.
   */
  beforeClose?(epoch: number, snapshotBlock: string): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A summary for `/v1/status`. */
  status?(): Record<string, unknown>;
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
  /** The network's oracle-side services, if it has consumers (none for `uptime`). */
  service?(ctx: ServiceContext<P>): NetworkService;
};

/**
 * A plug-in of any network, as registries hold them: each plug-in parses its own parameters with
 * its own schema, so a registry cannot name one parameter type for all of them.
 */
// biome-ignore lint/suspicious/noExplicitAny: parameters and inputs are checked by each plug-in's own schemas
export type AnyNetworkPlugin = NetworkPlugin<any, any>;

/** Plug-ins by network kind. */
export type NetworkPlugins = Readonly<Record<string, AnyNetworkPlugin>>;
