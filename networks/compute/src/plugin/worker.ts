// The compute network's worker: what runs on a provider's machine inside the agent. Its hello is
// the provider's offer (cores, memory per slot, measured speed, price); each task the service
// pushes is fetched by CID from the oracle's blob store, run in the sandbox, its canonical output
// uploaded and a signed `result` report submitted through ingest.
//
// What is and is not a result: a run that finished, and a run the sandbox stopped for a reason
// every honest provider reproduces (DETERMINISTIC_CODES: fuel, memory cap, trap, refused import…),
// are both signed and reported, the second with `output: null` and the error code, so the
// consumer pays for the work and the verifier can compare it. A failure of this machine or of the
// network (the wall-clock timeout, an internal error, a blob that would not download or did not
// match its CID, an upload that failed) is reported as nothing at all: the service times the run
// out and gives it to another provider, and a signed claim about a run that did not happen would
// be evidence against an honest device.
import os from 'node:os';
import type { Hex } from 'viem';
import { signReport, type Report, type Worker, type WorkerContext } from '@groundwork/protocol';
import { checkCid, cidOf } from '@groundwork/protocol';
import { encodeRunOutputs } from '../sandbox/encoding.ts';
import { DETERMINISTIC_CODES, SandboxError } from '../sandbox/errors.ts';
import type { RunResult } from '../sandbox/execute.ts';

// The sandbox and binaryen are loaded on first use: binaryen takes seconds to load, and the oracle
// (which lists this plug-in, worker included) never runs a task.
const sandbox = () => import('../sandbox/run.ts');
import {
  KIND,
  MAX_BLOB_BYTES,
  type Offer,
  offerSchema,
  RESULT_TYPE,
  type ResultBody,
  type TaskPayload,
  taskPayloadSchema,
} from './wire.ts';

export type ComputeWorkerOptions = {
  /** Credits per million compute units asked (default '0.5'). */
  pricePerMCU?: string;
  /** Tasks run at once (default: one per core, keeping one for the agent, at most 4). */
  maxConcurrent?: number;
  /** Matched exactly against a job's required attributes (e.g. { region: 'eu' }). */
  attributes?: Record<string, string>;
  /** Memory one task may use, in bytes (default: half the machine's memory over the slots, at most 4 GiB). */
  memoryBytes?: number;
  /**
   * For tests and the devnet's planted cheaters only: 'wrong-output' runs the task but changes a
   * byte of its stdout before encoding (a well-formed result with another CID), 'silent' takes
   * tasks and never answers.
   */
  cheat?: 'wrong-output' | 'silent';
};

const DEFAULT_PRICE = '0.5';
/** 4 GiB: the most a 32-bit WebAssembly memory can address (sandbox/policy.ts MAX_MEMORY_BYTES). */
const MAX_TASK_MEMORY = 65536 * 65536;
const PAGE = 65536;
/** Verified blobs kept between tasks: the tasks of one job share their module and inputs. */
const BLOB_CACHE_BYTES = 256 << 20;
/** A blob download may take this long when the task's deadline is further away. */
const FETCH_TIMEOUT_MS = 120_000;
const PRICE_RE = /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$/;

/** The compute network's worker (see the header). Throws RangeError on bad options. */
export function computeWorker(options: ComputeWorkerOptions = {}): Worker {
  const price = options.pricePerMCU ?? DEFAULT_PRICE;
  if (!PRICE_RE.test(price))
    throw new RangeError(`pricePerMCU must be a decimal number with at most 6 decimals, got ${JSON.stringify(price)}`);
  const cores = Math.max(1, os.availableParallelism());
  // One core stays with the agent's own thread: it instruments modules, hashes blobs and keeps
  // the socket answering while the tasks run in their worker threads.
  const slots = options.maxConcurrent ?? Math.max(1, Math.min(cores - 1, 4));
  if (!Number.isInteger(slots) || slots < 1 || slots > 256)
    throw new RangeError(`maxConcurrent must be an integer from 1 to 256, got ${slots}`);
  // Per slot: the matcher compares a task's memory cap with one slot's share, not the machine's.
  const memory = options.memoryBytes ?? Math.floor(Math.min(os.totalmem() / 2 / slots, MAX_TASK_MEMORY) / PAGE) * PAGE;
  if (!Number.isSafeInteger(memory) || memory < PAGE)
    throw new RangeError(`memoryBytes must be a whole number of at least ${PAGE}, got ${memory}`);
  const attributes = { ...(options.attributes ?? {}) };
  const cheat = options.cheat;
  const limiter = new Limiter(slots);
  const blobs = new BlobCache(BLOB_CACHE_BYTES);
  /** Runs taken and not finished, by job/task/run: a payload sent twice runs once. */
  const taken = new Set<string>();

  return {
    async hello(): Promise<Offer> {
      return offerSchema.parse({
        cores,
        memoryBytes: memory,
        benchScore: await benchScore(),
        pricePerMCU: price,
        maxConcurrent: slots,
        attributes,
      });
    },

    async onService(payload, ctx) {
      const parsed = taskPayloadSchema.safeParse(payload);
      if (!parsed.success) {
        const type = typeof payload.type === 'string' ? payload.type : '?';
        ctx.log(`compute: ignoring a service message of type ${JSON.stringify(type)}: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
        return;
      }
      const task = parsed.data;
      const name = runName(task);
      const key = `${task.job}/${task.task}/${task.run}`;
      if (cheat === 'silent') {
        ctx.log(`compute: ${name}: taken and left unanswered (cheat: silent)`);
        return;
      }
      if (taken.has(key)) {
        ctx.log(`compute: ${name}: already taken; ignoring the repeat`);
        return;
      }
      taken.add(key);
      try {
        await limiter.run(() => runOne(task, name, ctx));
      } finally {
        taken.delete(key);
      }
    },
  };

  async function runOne(task: TaskPayload, name: string, ctx: WorkerContext): Promise<void> {
    const left = task.deadline - Date.now();
    if (left <= 0) {
      ctx.log(`compute: ${name}: its deadline passed while it waited for a slot; not run`);
      return;
    }
    let files: { module: Uint8Array; stdin: Uint8Array | null; inputs: Map<string, Uint8Array> };
    try {
      const get = (cid: string, what: string) => blobs.get(ctx.oracleUrl, cid, what, Math.min(left, FETCH_TIMEOUT_MS));
      const [module, stdin, inputs] = await Promise.all([
        get(task.module, 'the module'),
        task.stdin === null ? null : get(task.stdin, 'stdin'),
        Promise.all(
          Object.entries(task.inputs).map(async ([path, cid]) => [path, await get(cid, `input ${JSON.stringify(path)}`)] as const),
        ),
      ]);
      files = { module, stdin, inputs: new Map(inputs) };
    } catch (err) {
      ctx.log(`compute: ${name}: not run, fetching its files failed: ${(err as Error).message}`);
      return;
    }

    let body: ResultBody;
    try {
      const { runTask } = await sandbox();
      const result = await runTask({
        module: files.module,
        moduleCid: task.module,
        programName: 'task.wasm',
        args: task.args,
        ...(files.stdin === null ? {} : { stdin: files.stdin }),
        inputs: files.inputs,
        allow: task.allow,
        seed: task.seed,
        // The wall-clock timeout is the last resort behind fuel: past the deadline the service
        // has given the run to someone else, so running on would be work nobody pays for.
        limits: {
          memoryBytes: task.memoryBytes,
          fuel: task.fuel,
          timeoutMs: Math.min(Math.max(1, task.deadline - Date.now()), 2 ** 31 - 1),
        },
      });
      const encoded = encodeRunOutputs({
        exitCode: result.exitCode,
        stdout: cheat === 'wrong-output' ? corrupt(result.stdout) : result.stdout,
        outputs: result.outputs,
      });
      const output = cidOf(encoded);
      await putBlob(ctx.oracleUrl, output, encoded, Math.min(Math.max(1, task.deadline - Date.now()), FETCH_TIMEOUT_MS));
      body = resultBody(task, { output, computeUnits: result.computeUnits, exitCode: result.exitCode, error: null });
    } catch (err) {
      if (err instanceof SandboxError && DETERMINISTIC_CODES.has(err.code)) {
        // exitCode -1: the run did not end by exiting, so it has none (every honest provider sends the same).
        body = resultBody(task, { output: null, computeUnits: err.computeUnits ?? 0, exitCode: -1, error: err.code });
      } else {
        const why = err instanceof SandboxError ? `${err.code}: ${err.message}` : (err as Error).message;
        ctx.log(`compute: ${name}: no result to report (${why})`);
        return;
      }
    }

    const report = signResult(body, ctx);
    let answer: Awaited<ReturnType<WorkerContext['submit']>>;
    try {
      answer = await ctx.submit(report);
    } catch (err) {
      ctx.log(`compute: ${name}: submitting the result failed: ${(err as Error).message}`);
      return;
    }
    if (answer.ok)
      ctx.log(`compute: ${name}: reported ${body.error ? `error ${body.error}` : `output ${body.output}`} (${body.computeUnits} units)`);
    else ctx.log(`compute: ${name}: the oracle refused the result: ${answer.reason}: ${answer.detail}`);
  }
}

/** `job…/task#run`, for log lines. */
function runName(t: Pick<TaskPayload, 'job' | 'task' | 'run'>): string {
  return `${t.job.slice(0, 10)}…/${t.task}#${t.run}`;
}

function resultBody(
  t: TaskPayload,
  r: { output: string | null; computeUnits: number; exitCode: number; error: string | null },
): ResultBody {
  return {
    job: t.job,
    task: t.task,
    run: t.run,
    module: t.module,
    output: r.output,
    computeUnits: String(r.computeUnits),
    exitCode: r.exitCode,
    error: r.error,
  };
}

/** The signed `result` report for `body`. */
export function signResult(body: ResultBody, ctx: Pick<WorkerContext, 'domain' | 'device' | 'key' | 'epoch'>): Report {
  return signReport(
    {
      v: 1,
      chainId: ctx.domain.chainId,
      registry: ctx.domain.registry,
      network: KIND,
      type: RESULT_TYPE,
      device: ctx.device as Hex,
      epoch: ctx.epoch(),
      body,
    },
    ctx.key,
  );
}

/** stdout with its first byte flipped (one byte added to an empty one): a well-formed wrong answer. */
function corrupt(stdout: Uint8Array): Uint8Array {
  if (stdout.length === 0) return new Uint8Array([0x21]);
  const out = new Uint8Array(stdout);
  out[0] = out[0]! ^ 0xff;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Blobs

function blobUrl(oracleUrl: string, cid: string): string {
  return `${oracleUrl.replace(/\/+$/, '')}/v1/compute/blobs/${cid}`;
}

/** GETs a blob and checks it against its CID (CidMismatchError otherwise). */
async function fetchBlob(oracleUrl: string, cid: string, what: string, timeoutMs: number): Promise<Uint8Array> {
  const res = await fetch(blobUrl(oracleUrl, cid), { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) {
    const text = await res.text().catch(() => '');
    throw new Error(`GET ${what} ${cid} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_BLOB_BYTES) throw new Error(`${what} ${cid} is ${declared} bytes, over the ${MAX_BLOB_BYTES}-byte blob limit`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > MAX_BLOB_BYTES) throw new Error(`${what} ${cid} is ${bytes.length} bytes, over the ${MAX_BLOB_BYTES}-byte blob limit`);
  checkCid(bytes, cid, what);
  return bytes;
}

/** PUTs a task's encoded output under its CID; throws unless the store took it. */
async function putBlob(oracleUrl: string, cid: string, bytes: Uint8Array, timeoutMs: number): Promise<void> {
  if (bytes.length > MAX_BLOB_BYTES)
    throw new Error(`the encoded output is ${bytes.length} bytes, over the ${MAX_BLOB_BYTES}-byte blob limit; it cannot be uploaded`);
  const res = await fetch(blobUrl(oracleUrl, cid), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    // encodeRunOutputs gives an ArrayBuffer-backed view, which is what fetch's types ask for.
    body: bytes as Uint8Array<ArrayBuffer>,
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status < 200 || res.status >= 300) {
    const text = await res.text().catch(() => '');
    throw new Error(`uploading the output ${cid} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
  await res.body?.cancel();
}

/**
 * Verified blobs by CID, least recently used first out, up to `limit` bytes; concurrent requests
 * for one CID share one download. Only bytes that matched their CID are kept.
 */
class BlobCache {
  private readonly held = new Map<string, Uint8Array>();
  private readonly pending = new Map<string, Promise<Uint8Array>>();
  private bytes = 0;
  constructor(private readonly limit: number) {}

  async get(oracleUrl: string, cid: string, what: string, timeoutMs: number): Promise<Uint8Array> {
    const hit = this.held.get(cid);
    if (hit) {
      this.held.delete(cid);
      this.held.set(cid, hit);
      return hit;
    }
    let p = this.pending.get(cid);
    if (!p) {
      p = fetchBlob(oracleUrl, cid, what, timeoutMs).finally(() => this.pending.delete(cid));
      this.pending.set(cid, p);
      void p.then((b) => this.keep(cid, b)).catch(() => {});
    }
    return p;
  }

  private keep(cid: string, b: Uint8Array): void {
    if (b.length > this.limit || this.held.has(cid)) return;
    this.held.set(cid, b);
    this.bytes += b.length;
    for (const [k, v] of this.held) {
      if (this.bytes <= this.limit) break;
      this.held.delete(k);
      this.bytes -= v.length;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Slots

/** Runs at most `slots` functions at once; the rest wait in arrival order. */
class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly slots: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next waiter (running stays the same), or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Speed

/**
 * A fixed loop (an LCG step, a store and a counter per iteration: about 16 compute units) run
 * metered in the sandbox: its compute units over its wall time is what this machine's slot does
 * per second. The matcher uses it only to check that a task's fuel can burn before its deadline.
 */
const BENCH_ITERATIONS = 1_000_000;
const BENCH_WAT = `(module
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32) (local $x i32)
    (loop $l
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345)))
      (i32.store (i32.and (local.get $x) (i32.const 0xfffc)) (local.get $x))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const ${BENCH_ITERATIONS}))))))`;

let bench: Promise<number> | null = null;

/** Compute units per second of one slot, measured once per process (see BENCH_WAT). */
export function benchScore(): Promise<number> {
  bench ??= Promise.resolve().then(async () => {
    const { default: binaryen } = await import('binaryen');
    const { runTaskInline } = await sandbox();
    const m = binaryen.parseText(BENCH_WAT);
    let module: Uint8Array;
    try {
      module = m.emitBinary();
    } finally {
      m.dispose();
    }
    // Twice: the first run includes the engine's tier-up; the second is the steady speed.
    let result: RunResult = runTaskInline({ module });
    result = runTaskInline({ module });
    const seconds = Math.max(result.durationMs, 0.001) / 1000;
    return Math.round(result.computeUnits / seconds);
  });
  return bench;
}
