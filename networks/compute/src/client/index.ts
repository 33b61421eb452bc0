// The consumer's side of the compute network: upload a job's files, escrow its worst-case cost on
// chain, hand it to the oracle's service, follow it, and take the verified outputs home.
//
// Order matters in submit: everything that can fail without costing anything (the spec's fit with
// the wire, the module's load-time checks, the uploads, the credit balance) happens before the
// escrow opens, because once it has opened the credits are held until the oracle settles the job
// or the consumer cancels and, after the settlement grace, reclaims. If the oracle then refuses
// the job, the error says so and names the job id to cancel.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Abi, type Address, createPublicClient, createWalletClient, type Hex, http, type PublicClient, type WalletClient } from 'viem';
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { z } from 'zod';
import {
  CreditEscrowAbi,
  type Deployment,
  escrowJobId,
  GroundworkTokenAbi,
  networkId,
  sendContract,
  ServiceCreditsAbi,
  TransactionReverted,
} from '@groundwork/contracts';
import { checkCid } from '@groundwork/protocol';
import { DEFAULT_LIMITS } from '../sandbox/policy.ts';
import { SandboxError } from '../sandbox/errors.ts';
import type { RunOutputs } from '../sandbox/encoding.ts';
import type { JobSpec } from '../spec/index.ts';
import {
  consumerActionMessage,
  type JobStatus,
  type JobSubmission,
  jobSubmissionSchema,
  KIND,
  MAX_BLOB_BYTES,
  type TaskState,
} from '../plugin/wire.ts';
import { decodeRunOutputs } from './encoding.ts';

export { decodeRunOutputs, OutputEncodingError } from './encoding.ts';

// ---------------------------------------------------------------------------------------------
// Errors

/** A failure of the client, the oracle or the chain, in words a consumer can act on. */
export class ComputeClientError extends Error {
  override name = 'ComputeClientError';
  constructor(
    message: string,
    /** `unreachable`, the oracle's reason code (`unknown-job`, `missing-blob`…), or the client's own. */
    readonly code: string = 'error',
  ) {
    super(message);
  }
}

/** The oracle answered with an error: its HTTP status, reason code and detail. */
export class OracleError extends ComputeClientError {
  override name = 'OracleError';
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly detail: string,
    what: string,
  ) {
    super(`the oracle answered ${status} to ${what}: ${reason}: ${detail}`, reason);
  }
}

/** The consumer has fewer spendable credits than the job escrows. */
export class InsufficientCreditsError extends ComputeClientError {
  override name = 'InsufficientCreditsError';
  constructor(
    readonly account: Address,
    readonly needed: bigint,
    readonly balance: bigint,
  ) {
    super(
      `the job escrows up to ${needed} credits but ${account} has ${balance} spendable; buy the ${needed - balance} missing ` +
        `(\`groundwork credits buy --credits ${needed - balance}\`, or submit with buyCredits / --buy-credits)`,
      'insufficient-credits',
    );
  }
}

/** The escrow opened on chain but the oracle did not take the job: the credits stay held. */
export class JobNotPostedError extends ComputeClientError {
  override name = 'JobNotPostedError';
  constructor(
    readonly jobId: Hex,
    readonly txHash: Hex,
    readonly maxCost: bigint,
    /** Why the oracle did not take it. */
    readonly postError: Error,
  ) {
    super(
      `the escrow of job ${jobId} is open on chain (${maxCost} credits held, tx ${txHash}) but the oracle did not take the job: ` +
        `${postError.message}. The credits stay held until you cancel it (\`groundwork compute cancel ${jobId}\`) and, once the ` +
        'settlement grace has passed, reclaim them (`groundwork compute reclaim`)',
      'not-posted',
    );
  }
}

/** An output file whose path would land outside its task's directory, or on its stdout file. */
export class OutputPathError extends ComputeClientError {
  override name = 'OutputPathError';
  constructor(message: string) {
    super(message, 'bad-output-path');
  }
}

// ---------------------------------------------------------------------------------------------
// What the oracle says about jobs (wire.ts JobStatus), checked on the way in

const TASK_STATES = ['queued', 'running', 'checking', 'verified', 'failed', 'cancelled'] as const satisfies readonly TaskState[];
const jobStatusSchema = z.looseObject({
  jobId: z.string(),
  consumer: z.string(),
  state: z.enum(['running', 'done', 'failed', 'cancelled']),
  tasks: z.array(
    z.looseObject({
      index: z.number().int().nonnegative(),
      state: z.enum(TASK_STATES),
      output: z.string().nullable(),
      computeUnits: z.string().nullable(),
      device: z.string().nullable(),
      reason: z.string().nullable(),
      // An oracle from before the consumer's window sends none of these.
      error: z.string().nullable().default(null),
      acceptBy: z.number().nullable().default(null),
      rejected: z.boolean().default(false),
    }),
  ),
  burned: z.string(),
  maxCost: z.string(),
  settlements: z.number(),
  error: z.string().nullable(),
});

function parseStatus(raw: unknown, what: string): JobStatus {
  const parsed = jobStatusSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ComputeClientError(
      `the oracle's answer to ${what} is not a job status: ${i.path.join('.') || '(root)'}: ${i.message}`,
      'malformed',
    );
  }
  return parsed.data as JobStatus;
}

// ---------------------------------------------------------------------------------------------
// A spec as the wire carries it

/**
 * The JobSubmission for a spec, checked against the wire schema. Throws ComputeClientError
 * naming the spec field for what the wire cannot carry yet: env (the task payload has none) and
 * an /output cap other than the sandbox's default (every provider runs with that one).
 */
export function jobSubmissionFor(spec: JobSpec, o: { jobId: Hex; consumer: Address }): JobSubmission {
  const refuse = (field: string, why: string): never => {
    throw new ComputeClientError(`${field}: ${why}`, 'unsupported');
  };
  if (spec.env.length) refuse('env', 'the compute network does not pass environment variables to tasks yet; remove env from the spec');
  if (spec.resources.outputBytes !== DEFAULT_LIMITS.outputBytes)
    refuse(
      'resources.output',
      `providers run every task with the sandbox's ${DEFAULT_LIMITS.outputBytes >> 20}MiB /output cap (a task carries no other); remove it`,
    );
  const raw = {
    jobId: o.jobId,
    consumer: o.consumer,
    module: spec.program.cid,
    stdin: spec.stdin?.cid ?? null,
    inputs: Object.fromEntries(spec.inputs.map((i) => [i.name, i.cid])),
    tasks: spec.tasks.map((t) => ({ index: t.index, args: t.args })),
    memoryBytes: spec.resources.memoryBytes,
    fuel: spec.resources.fuel,
    maxPrice: priceText(spec.maxPrice),
    deadline: spec.deadline,
    spotCheck: spec.verification.spotCheck,
    redundancy: spec.verification.redundancy,
    allow: spec.allow,
    maxCost: spec.maxCost.toString(),
    attributes: { ...spec.attributes },
  };
  const parsed = jobSubmissionSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ComputeClientError(`the job does not fit a submission: ${i.path.join('.') || '(root)'}: ${i.message}`, 'malformed');
  }
  return parsed.data;
}

/** A price in credits per million units (at most 6 decimals, as the spec holds it) as the wire's decimal text. */
export function priceText(price: number): string {
  if (!(price > 0) || !Number.isFinite(price)) throw new RangeError(`a price must be a positive number, got ${price}`);
  const fixed = price.toFixed(6);
  if (Number(fixed) !== price) throw new RangeError(`price ${price} has more than 6 decimals`);
  return fixed.replace(/\.?0+$/, '');
}

// ---------------------------------------------------------------------------------------------
// Writing outputs

const JOB_ID_RE = /^0x[0-9a-fA-F]{64}$/;

/** A job id as the wire has it (lowercase hex); RangeError otherwise. */
export function jobIdOf(value: string): Hex {
  if (typeof value !== 'string' || !JOB_ID_RE.test(value))
    throw new RangeError(`a job id is 0x and 64 hex digits, got ${JSON.stringify(String(value).slice(0, 80))}`);
  return value.toLowerCase() as Hex;
}

/**
 * Where output file `name` of a task goes under `taskDir`; OutputPathError unless it stays inside
 * (no absolute path, no empty, `.` or `..` part, no backslash or NUL) and clear of the stdout file.
 * The sandbox only writes such names, but the blob came from a provider.
 */
export function outputFilePath(taskDir: string, name: string): string {
  const bad = (why: string): never => {
    throw new OutputPathError(`output file ${JSON.stringify(name.slice(0, 200))} ${why}; refusing to write it`);
  };
  if (name.includes('\0') || name.includes('\\')) bad('has a NUL or a backslash');
  if (name.startsWith('/') || path.isAbsolute(name)) bad('is an absolute path');
  const parts = name.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) bad('has an empty, "." or ".." part');
  if (parts[0] === 'stdout') bad("would overwrite the task's stdout file");
  const root = path.resolve(taskDir);
  const file = path.resolve(root, ...parts);
  if (!file.startsWith(root + path.sep)) bad(`would land outside ${root}`);
  return file;
}

/**
 * Writes a task's decoded outputs as `<outDir>/<index>/stdout` and `<outDir>/<index>/<path>` for
 * each output file. Every path is checked before anything is written. Returns the files written.
 */
export async function writeTaskOutputs(outDir: string, index: number, outputs: RunOutputs): Promise<string[]> {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`a task index is a whole number, got ${index}`);
  const taskDir = path.resolve(outDir, String(index));
  const files: [string, Uint8Array][] = [[path.join(taskDir, 'stdout'), outputs.stdout]];
  for (const [name, data] of outputs.outputs) files.push([outputFilePath(taskDir, name), data]);
  for (const [file, data] of files) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, data);
  }
  return files.map(([f]) => f);
}

// ---------------------------------------------------------------------------------------------
// The client

export type ComputeClientOptions = {
  /** The oracle's base URL, e.g. http://127.0.0.1:8787: needed by all but cancel and reclaim. */
  oracleUrl?: string;
  /** JSON-RPC endpoint of the chain: needed to submit, cancel and reclaim. */
  rpcUrl?: string;
  deployment?: Deployment;
  /** The consumer's secp256k1 key: needed to submit, cancel and reclaim. */
  privateKey?: Hex;
  /** Whose jobs `jobs()` lists when no privateKey is given. */
  consumer?: Address;
};

export type SubmitOptions = {
  /** Buy the credits the consumer lacks (burning its token) instead of failing. */
  buyCredits?: boolean;
  /** Progress lines ("uploading …", "opening the escrow …"). */
  onProgress?: (line: string) => void;
  /**
   * The job id's nonce (default: 64 random bits). A fixed one gives a fixed job id, and so a fixed
   * spot-check draw (tests, reproducible runs); a nonce this consumer already used is refused.
   */
  nonce?: bigint;
};

export type SubmitResult = {
  jobId: Hex;
  consumer: Address;
  /** Credits escrowed. */
  maxCost: bigint;
  /** The escrow's open transaction. */
  txHash: Hex;
  /** Credits bought first (0 when the balance sufficed). */
  creditsBought: bigint;
  /** Blobs uploaded (CIDs), each once. */
  uploaded: string[];
  /** The job as the oracle took it. */
  status: JobStatus;
};

export type CancelResult = {
  jobId: Hex;
  txHash: Hex;
  /** The escrow's status on chain after the cancel. */
  status: EscrowStatusName;
  /** Credits still held for the job (the oracle's final settlement refunds what was not used). */
  held: bigint;
  /** Unix seconds from which `reclaim` may take back what is unsettled. */
  reclaimableAt: number;
};

export type ReclaimResult = { jobId: Hex; txHash: Hex; status: EscrowStatusName; refunded: bigint; burned: bigint };

export type WaitOptions = {
  /** Default 10 minutes. */
  timeoutMs?: number;
  /** Between polls; default 1000. */
  intervalMs?: number;
  /** Called with each status whose task states changed (and the first). */
  onProgress?: (status: JobStatus) => void;
  signal?: AbortSignal;
};

export type TaskOutput = { index: number; output: string; outputs: RunOutputs };

export type ResultFiles = {
  jobId: Hex;
  state: JobStatus['state'];
  /** Every file written, absolute. */
  files: string[];
  tasks: {
    index: number;
    state: TaskState;
    /** The verified output's CID (null when not verified, or verified as a deterministic failure). */
    output: string | null;
    exitCode: number | null;
    files: string[];
  }[];
};

const ESCROW_STATUS = ['none', 'open', 'cancelled', 'settled', 'reclaimed'] as const;
export type EscrowStatusName = (typeof ESCROW_STATUS)[number];
type EscrowJob = { consumer: Address; deadline: bigint; status: number; escrowed: bigint; burned: bigint; refunded: bigint };

type Chain = { client: PublicClient; wallet: WalletClient; account: PrivateKeyAccount; deployment: Deployment; escrow: Address };

const HTTP_TIMEOUT_MS = 60_000;

export class ComputeClient {
  /** Null when not given (cancel and reclaim need only the chain). */
  readonly oracleUrl: string | null;
  /** The consumer: the key's account, or `consumer`; null when neither was given. */
  readonly consumer: Address | null;
  private readonly options: ComputeClientOptions;
  private chainSession: Chain | null = null;

  constructor(options: ComputeClientOptions) {
    this.oracleUrl = options.oracleUrl === undefined ? null : httpUrl('oracleUrl', options.oracleUrl);
    if (options.rpcUrl !== undefined) httpUrl('rpcUrl', options.rpcUrl);
    let account: Address | null = null;
    if (options.privateKey !== undefined) {
      if (typeof options.privateKey !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(options.privateKey))
        throw new RangeError('privateKey must be 0x followed by 64 hex digits');
      try {
        account = privateKeyToAccount(options.privateKey).address;
      } catch {
        throw new RangeError('privateKey is not a valid secp256k1 private key');
      }
    }
    if (options.consumer !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(options.consumer))
      throw new RangeError(`consumer must be a 0x-prefixed 20-byte address, got ${JSON.stringify(options.consumer)}`);
    if (account && options.consumer && account.toLowerCase() !== options.consumer.toLowerCase())
      throw new RangeError(`consumer ${options.consumer} is not the privateKey's account ${account}`);
    this.consumer = account ?? options.consumer ?? null;
    this.options = options;
  }

  /** The chain clients, made on first use; ComputeClientError naming what is missing. */
  private chain(what: string): Chain {
    if (this.chainSession) return this.chainSession;
    const { rpcUrl, deployment, privateKey } = this.options;
    const missing = [!rpcUrl && 'rpcUrl', !deployment && 'deployment', !privateKey && 'privateKey'].filter(Boolean);
    if (missing.length) throw new ComputeClientError(`${what} needs the chain: give the client ${missing.join(', ')}`, 'no-chain');
    const escrow = deployment!.addresses.escrow;
    if (!escrow)
      throw new ComputeClientError(
        'the deployment has no CreditEscrow contract (a deployment file from before the escrow existed?)',
        'no-escrow',
      );
    if (!deployment!.networks.some((n) => n.kind === KIND))
      throw new ComputeClientError(
        `the deployment has no ${KIND} network (it has ${deployment!.networks.map((n) => n.kind).join(', ')})`,
        'no-network',
      );
    const account = privateKeyToAccount(privateKey!);
    this.chainSession = {
      client: createPublicClient({ transport: http(rpcUrl) }) as PublicClient,
      wallet: createWalletClient({ account, transport: http(rpcUrl) }),
      account,
      deployment: deployment!,
      escrow,
    };
    return this.chainSession;
  }

  // ------------------------------------------------------------------ the oracle

  private async request(method: 'GET' | 'PUT' | 'POST', route: string, body?: Uint8Array | string, type?: string): Promise<Response> {
    if (this.oracleUrl === null)
      throw new ComputeClientError(`${method} ${route} needs the oracle: give the client oracleUrl`, 'no-oracle');
    const url = `${this.oracleUrl}/v1/${KIND}/${route}`;
    try {
      return await fetch(url, {
        method,
        ...(body === undefined ? {} : { body: body as Uint8Array<ArrayBuffer> | string, headers: { 'content-type': type! } }),
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      const why = cause ? `${(err as Error).message} (${cause.code ?? cause.message})` : (err as Error).message;
      throw new ComputeClientError(`cannot reach the oracle at ${this.oracleUrl}: ${why}`, 'unreachable');
    }
  }

  private async json(res: Response, what: string): Promise<unknown> {
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ComputeClientError(
        `the oracle answered ${res.status} to ${what} with something that is not JSON: ${text.slice(0, 120)}`,
        'malformed',
      );
    }
    if (!res.ok) {
      const b = body as { error?: string; detail?: string };
      throw new OracleError(res.status, b?.error ?? 'error', b?.detail ?? '', what);
    }
    return body;
  }

  /** Uploads bytes to the oracle's blob store under their CID (200 or 201: stored, or already there). */
  async putBlob(cid: string, bytes: Uint8Array): Promise<void> {
    checkCid(bytes, cid, 'the blob');
    if (bytes.length > MAX_BLOB_BYTES)
      throw new ComputeClientError(`${cid} is ${bytes.length} bytes; the oracle stores at most ${MAX_BLOB_BYTES}`, 'too-large');
    const res = await this.request('PUT', `blobs/${cid}`, bytes, 'application/octet-stream');
    await this.json(res, `PUT blobs/${cid}`);
  }

  /** A blob from the oracle's store, checked against its CID. */
  async getBlob(cid: string): Promise<Uint8Array> {
    const res = await this.request('GET', `blobs/${cid}`);
    if (!res.ok) await this.json(res, `GET blobs/${cid}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    try {
      checkCid(bytes, cid, `blob ${cid}`);
    } catch (err) {
      throw new ComputeClientError(`the oracle served ${cid} with other bytes: ${(err as Error).message}`, 'cid-mismatch');
    }
    return bytes;
  }

  /** The job as the oracle's service has it. */
  async status(jobId: string): Promise<JobStatus> {
    const id = jobIdOf(jobId);
    return parseStatus(await this.json(await this.request('GET', `jobs/${id}`), `GET jobs/${id}`), `GET jobs/${id}`);
  }

  /** The consumer's jobs (the key's account, `consumer`, or the one given). */
  async jobs(consumer: Address | null = this.consumer): Promise<JobStatus[]> {
    if (!consumer)
      throw new ComputeClientError('jobs() needs a consumer: give the client privateKey or consumer, or pass one', 'no-consumer');
    if (!/^0x[0-9a-fA-F]{40}$/.test(consumer))
      throw new RangeError(`consumer must be a 0x-prefixed 20-byte address, got ${JSON.stringify(consumer)}`);
    const route = `jobs?consumer=${consumer.toLowerCase()}`;
    const body = (await this.json(await this.request('GET', route), `GET ${route}`)) as { jobs?: unknown };
    if (!Array.isArray(body?.jobs)) throw new ComputeClientError(`the oracle's answer to GET ${route} has no jobs list`, 'malformed');
    return body.jobs.map((j, i) => parseStatus(j, `GET ${route} (job ${i})`));
  }

  // ------------------------------------------------------------------ submitting

  /** Uploads, escrows and submits a job (see the header). Returns once the oracle has taken it. */
  async submit(spec: JobSpec, opts: SubmitOptions = {}): Promise<SubmitResult> {
    const progress = opts.onProgress ?? (() => {});
    if (this.oracleUrl === null) throw new ComputeClientError('submit needs the oracle: give the client oracleUrl', 'no-oracle');
    const c = this.chain('submit');
    const consumer = c.account.address;
    // The submission with a placeholder id first: it refuses what the wire cannot carry before anything is done.
    jobSubmissionFor(spec, { jobId: `0x${'0'.repeat(64)}`, consumer });
    if (spec.deadline <= Date.now())
      throw new ComputeClientError(`deadline: ${new Date(spec.deadline).toISOString()} has passed`, 'deadline-passed');
    await this.checkChainId(c);

    // The module's load-time checks here, not after the escrow: the oracle refuses a bad module at submission.
    if (spec.program.bytes) {
      // Loaded here: binaryen takes seconds to load, and only a submission needs it.
      const { validateTask } = await import('../sandbox/run.ts');
      try {
        validateTask({
          module: spec.program.bytes,
          allow: spec.allow,
          limits: { memoryBytes: spec.resources.memoryBytes, fuel: spec.resources.fuel },
        });
      } catch (err) {
        if (err instanceof SandboxError)
          throw new ComputeClientError(`program: the sandbox refuses it (${err.code}): ${err.message}`, err.code);
        throw err;
      }
    }

    // The balance before the uploads (a shortfall is the likelier failure and costs nothing to
    // find); the purchase after them, just before the escrow, so that nothing is bought for a
    // job whose files did not make it.
    const maxCost = spec.maxCost;
    const balance = await this.credits(c, consumer);
    if (balance < maxCost && !opts.buyCredits) throw new InsufficientCreditsError(consumer, maxCost, balance);

    const blobs = new Map<string, Uint8Array>();
    for (const ref of [spec.program, spec.stdin, ...spec.inputs]) if (ref?.bytes) blobs.set(ref.cid, ref.bytes);
    for (const [cid, bytes] of blobs) {
      progress(`uploading ${cid} (${bytes.length} bytes)`);
      await this.putBlob(cid, bytes);
    }

    let creditsBought = 0n;
    if (balance < maxCost) {
      progress(`buying ${maxCost - balance} credits (the balance is ${balance}, the job escrows ${maxCost})`);
      creditsBought = await this.buyCredits(c, maxCost - balance);
      const after = await this.credits(c, consumer);
      if (after < maxCost) throw new InsufficientCreditsError(consumer, maxCost, after);
    }

    const network = networkId(KIND);
    let jobId: Hex;
    if (opts.nonce !== undefined) {
      if (opts.nonce < 0n || opts.nonce >= 2n ** 256n) throw new RangeError(`nonce must be a uint256, got ${opts.nonce}`);
      jobId = escrowJobId(consumer, network, opts.nonce);
      if ((await this.escrowJob(c, jobId)).status !== 0)
        throw new ComputeClientError(`nonce ${opts.nonce} was already used by ${consumer} (job ${jobId})`, 'duplicate-job');
    } else
      for (;;) {
        // 64 random bits: the id is the consumer's own (escrowJobId hashes the address in), so
        // only a collision with one of its own jobs could clash, and that is checked.
        jobId = escrowJobId(consumer, network, BigInt(`0x${randomBytes(8).toString('hex')}`));
        if ((await this.escrowJob(c, jobId)).status === 0) break;
      }
    const submission = jobSubmissionFor(spec, { jobId, consumer });
    progress(`opening the escrow of job ${jobId} (${maxCost} credits until ${new Date(spec.deadline).toISOString()})`);
    const txHash = await this.send(c, c.escrow, CreditEscrowAbi, 'open', [
      network,
      jobId,
      maxCost,
      BigInt(Math.ceil(spec.deadline / 1000)),
    ]);

    progress(`submitting job ${jobId} to the oracle`);
    let status: JobStatus;
    try {
      status = await this.post(submission);
    } catch (err) {
      throw new JobNotPostedError(jobId, txHash, maxCost, err as Error);
    }
    return { jobId, consumer, maxCost, txHash, creditsBought, uploaded: [...blobs.keys()], status };
  }

  /** POST jobs, again on a dropped connection; a duplicate after a retry means the first one landed. */
  private async post(submission: JobSubmission): Promise<JobStatus> {
    const body = JSON.stringify(submission);
    for (let attempt = 1; ; attempt++) {
      try {
        return parseStatus(await this.json(await this.request('POST', 'jobs', body, 'application/json'), 'POST jobs'), 'POST jobs');
      } catch (err) {
        if (attempt > 1 && err instanceof OracleError && err.reason === 'duplicate-job') return this.status(submission.jobId);
        if (!(err instanceof ComputeClientError) || err.code !== 'unreachable' || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  /** Polls the job until it is no longer running; throws on the timeout with where it stands. */
  async waitForJob(jobId: string, o: WaitOptions = {}): Promise<JobStatus> {
    const id = jobIdOf(jobId);
    const timeoutMs = o.timeoutMs ?? 600_000;
    const end = Date.now() + timeoutMs;
    let last: JobStatus | null = null;
    let shown = '';
    for (;;) {
      if (o.signal?.aborted) throw new ComputeClientError(`stopped waiting for job ${id}`, 'aborted');
      try {
        last = await this.status(id);
      } catch (err) {
        // A poll that did not reach the oracle is tried again; an answer (unknown job…) is final.
        if (!(err instanceof ComputeClientError && err.code === 'unreachable') || Date.now() >= end) throw err;
      }
      if (last) {
        const key = `${last.state}:${last.tasks.map((t) => t.state).join(',')}`;
        if (key !== shown) {
          shown = key;
          o.onProgress?.(last);
        }
        if (last.state !== 'running') return last;
      }
      if (Date.now() >= end) {
        const verified = last ? last.tasks.filter((t) => t.state === 'verified').length : 0;
        throw new ComputeClientError(
          `job ${id} is still running after ${Math.round(timeoutMs / 1000)} s (${verified} of ${last?.tasks.length ?? '?'} tasks verified)`,
          'timeout',
        );
      }
      await sleep(Math.min(o.intervalMs ?? 1000, Math.max(0, end - Date.now())), o.signal);
    }
  }

  // ------------------------------------------------------------------ results

  /** Each verified task's output, fetched, checked against its CID and decoded. */
  async outputs(jobId: string, status?: JobStatus): Promise<TaskOutput[]> {
    const s = status ?? (await this.status(jobId));
    const out: TaskOutput[] = [];
    for (const t of s.tasks) {
      if (t.state !== 'verified' || !t.output) continue;
      const blob = await this.getBlob(t.output);
      try {
        out.push({ index: t.index, output: t.output, outputs: decodeRunOutputs(blob) });
      } catch (err) {
        throw new ComputeClientError(`task ${t.index}'s output ${t.output}: ${(err as Error).message}`, 'malformed-output');
      }
    }
    return out;
  }

  /**
   * Writes every verified task's outputs under `outDir` (`<index>/stdout`, `<index>/<path>`).
   * Tasks not verified (or verified as a deterministic failure, with no output) get no files.
   */
  async result(jobId: string, outDir: string): Promise<ResultFiles> {
    if (typeof outDir !== 'string' || outDir === '') throw new RangeError('outDir must be a directory path');
    const status = await this.status(jobId);
    const outputs = new Map((await this.outputs(jobId, status)).map((o) => [o.index, o]));
    const r: ResultFiles = { jobId: status.jobId as Hex, state: status.state, files: [], tasks: [] };
    for (const t of status.tasks) {
      const o = outputs.get(t.index);
      const files = o ? await writeTaskOutputs(outDir, t.index, o.outputs) : [];
      r.files.push(...files);
      r.tasks.push({ index: t.index, state: t.state, output: o?.output ?? null, exitCode: o?.outputs.exitCode ?? null, files });
    }
    return r;
  }

  // ------------------------------------------------------------------ the consumer's window

  /**
   * Accepts decided tasks (all of them without `tasks`): their payments fall due now instead of
   * at the end of their windows. Returns the tasks accepted by this call and the job's status.
   */
  async accept(jobId: string, tasks?: number[]): Promise<{ accepted: number[]; status: JobStatus }> {
    const r = await this.consumerAction(jobId, 'accept', tasks);
    return { accepted: r.tasks, status: r.status };
  }

  /**
   * Rejects decided tasks inside their windows: each runs again on a provider of another owner,
   * and the result that more independent runs agree on stands (a task is rejected once at most).
   */
  async reject(jobId: string, tasks: number[]): Promise<{ rejected: number[]; status: JobStatus }> {
    if (!Array.isArray(tasks) || tasks.length === 0) throw new RangeError('reject needs the indexes of the tasks to reject');
    const r = await this.consumerAction(jobId, 'reject', tasks);
    return { rejected: r.tasks, status: r.status };
  }

  private async consumerAction(
    jobId: string,
    action: 'accept' | 'reject',
    tasks: number[] | undefined,
  ): Promise<{ tasks: number[]; status: JobStatus }> {
    const id = jobIdOf(jobId);
    for (const t of tasks ?? [])
      if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`task indexes must be whole numbers from 0, got ${JSON.stringify(t)}`);
    // Signing needs the consumer's key and the chain id, not the chain itself.
    const { deployment, privateKey } = this.options;
    const missing = [!deployment && 'deployment', !privateKey && 'privateKey'].filter(Boolean);
    if (missing.length) throw new ComputeClientError(`${action} signs as the consumer: give the client ${missing.join(', ')}`, 'no-key');
    const list = tasks ? [...new Set(tasks)].sort((a, b) => a - b) : null;
    const signature = await privateKeyToAccount(privateKey!).signMessage({
      message: consumerActionMessage({ action, chainId: deployment!.chainId, jobId: id, tasks: list }),
    });
    const route = `jobs/${id}/${action}`;
    const body = JSON.stringify({ ...(list ? { tasks: list } : {}), signature });
    const answer = (await this.json(await this.request('POST', route, body, 'application/json'), `POST ${route}`)) as Record<
      string,
      unknown
    >;
    const named = answer?.[action === 'accept' ? 'accepted' : 'rejected'];
    if (!Array.isArray(named)) throw new ComputeClientError(`the oracle's answer to POST ${route} names no tasks`, 'malformed');
    return { tasks: named as number[], status: parseStatus(answer.status, `POST ${route}`) };
  }

  // ------------------------------------------------------------------ the escrow

  /** Cancels the job on chain (the consumer only). The oracle's final settlement refunds what was not used. */
  async cancel(jobId: string): Promise<CancelResult> {
    const id = jobIdOf(jobId);
    const c = this.chain('cancel');
    await this.checkChainId(c);
    if ((await this.ownJob(c, id)).status === 2) throw new ComputeClientError(`job ${id} is already cancelled`, 'cancelled');
    const txHash = await this.send(c, c.escrow, CreditEscrowAbi, 'cancel', [id]);
    const job = await this.escrowJob(c, id);
    const reclaimableAt = (await c.client.readContract({
      address: c.escrow,
      abi: CreditEscrowAbi,
      functionName: 'reclaimableAt',
      args: [id],
    })) as bigint;
    return {
      jobId: id,
      txHash,
      status: ESCROW_STATUS[job.status] ?? 'none',
      held: job.escrowed - job.burned - job.refunded,
      reclaimableAt: Number(reclaimableAt),
    };
  }

  /** Takes back what the oracle has not settled, once the settlement grace after the deadline (or cancel) has passed. */
  async reclaim(jobId: string): Promise<ReclaimResult> {
    const id = jobIdOf(jobId);
    const c = this.chain('reclaim');
    await this.checkChainId(c);
    await this.ownJob(c, id);
    const at = (await c.client.readContract({
      address: c.escrow,
      abi: CreditEscrowAbi,
      functionName: 'reclaimableAt',
      args: [id],
    })) as bigint;
    const now = (await c.client.getBlock()).timestamp;
    if (now < at)
      throw new ComputeClientError(
        `job ${id} can be reclaimed from ${new Date(Number(at) * 1000).toISOString()} (${at - now} s from the chain's time): until then the oracle may still settle it`,
        'too-early',
      );
    const txHash = await this.send(c, c.escrow, CreditEscrowAbi, 'reclaim', [id]);
    const job = await this.escrowJob(c, id);
    return { jobId: id, txHash, status: ESCROW_STATUS[job.status] ?? 'none', refunded: job.refunded, burned: job.burned };
  }

  /** The escrow's record of a job (status 0: none). */
  private async escrowJob(c: Chain, jobId: Hex): Promise<EscrowJob> {
    return (await c.client.readContract({
      address: c.escrow,
      abi: CreditEscrowAbi,
      functionName: 'job',
      args: [jobId],
    })) as unknown as EscrowJob;
  }

  private async ownJob(c: Chain, id: Hex): Promise<EscrowJob> {
    const job = await this.escrowJob(c, id);
    if (job.status === 0) throw new ComputeClientError(`job ${id} has no escrow on chain`, 'unknown-job');
    if (job.consumer.toLowerCase() !== c.account.address.toLowerCase())
      throw new ComputeClientError(`job ${id} belongs to ${job.consumer}, not ${c.account.address}`, 'not-consumer');
    if (job.status !== 1 && job.status !== 2)
      throw new ComputeClientError(`job ${id}'s escrow is closed (${ESCROW_STATUS[job.status]}): nothing is held any more`, 'closed');
    return job;
  }

  private async checkChainId(c: Chain): Promise<void> {
    let chainId: number;
    try {
      chainId = await c.client.getChainId();
    } catch (err) {
      throw new ComputeClientError(
        `cannot reach the chain at ${this.options.rpcUrl}: ${(err as Error).message.split('\n')[0]}`,
        'chain-unreachable',
      );
    }
    if (chainId !== c.deployment.chainId)
      throw new ComputeClientError(
        `${this.options.rpcUrl} is chain ${chainId}, but the deployment is for chain ${c.deployment.chainId}`,
        'wrong-chain',
      );
  }

  private async credits(c: Chain, account: Address): Promise<bigint> {
    const a = c.deployment.addresses;
    return (await c.client.readContract({
      address: a.credits,
      abi: ServiceCreditsAbi,
      functionName: 'balanceOf',
      args: [account],
    })) as bigint;
  }

  /** Burns token for at least `credits` credits, as `groundwork credits buy` does (1% slippage allowed). Returns the credits minted. */
  private async buyCredits(c: Chain, credits: bigint): Promise<bigint> {
    const a = c.deployment.addresses;
    const me = c.account.address;
    const tokens = (await c.client.readContract({
      address: a.credits,
      abi: ServiceCreditsAbi,
      functionName: 'quoteTokens',
      args: [credits],
    })) as bigint;
    const held = (await c.client.readContract({
      address: a.token,
      abi: GroundworkTokenAbi,
      functionName: 'balanceOf',
      args: [me],
    })) as bigint;
    if (held < tokens)
      throw new ComputeClientError(`buying ${credits} credits takes ${tokens} token units, but ${me} has ${held}`, 'insufficient-tokens');
    const before = await this.credits(c, me);
    await this.send(c, a.token, GroundworkTokenAbi, 'approve', [a.credits, tokens]);
    await this.send(c, a.credits, ServiceCreditsAbi, 'mint', [me, tokens, (credits * 99n) / 100n]);
    return (await this.credits(c, me)) - before;
  }

  /** Simulates, sends and waits for one transaction; throws if it reverted. */
  private async send(c: Chain, address: Address, abi: Abi, functionName: string, args: readonly unknown[]): Promise<Hex> {
    try {
      return await sendContract(c, address, abi, functionName, args);
    } catch (err) {
      if (err instanceof TransactionReverted) throw new ComputeClientError(err.message, 'reverted');
      throw err;
    }
  }
}

function httpUrl(name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new RangeError(`${name} must be a URL such as http://127.0.0.1:8787, got ${JSON.stringify(value)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new RangeError(`${name} must be an http or https URL, got ${JSON.stringify(value)}`);
  return value.replace(/\/+$/, '');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
