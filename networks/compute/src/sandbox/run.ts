// The two ways to run a task. runTask is the one providers use: the module runs in a
// worker_threads Worker with a large real stack (so that the task's stack budget, not the
// engine's, ends deep recursion) that is terminated if the wall-clock safety timeout passes,
// the last resort behind fuel, which stops every runaway module deterministically first.
// runTaskInline runs on the calling thread, synchronously, for benchmarks and tools: nothing can
// stop it but fuel, and the caller's stack is the engine's default.
import { Worker } from 'node:worker_threads';
import { CidError, CidMismatchError, checkCid } from '@groundwork/protocol';
import { SandboxError, type SerializedSandboxError } from './errors.ts';
import { execute, type NormalizedTask, normalizeTask, type RunResult, type Task } from './execute.ts';
import { WORKER_STACK_MB } from './policy.ts';
import { checkTask, type ModuleInfo, prepareModule, type PreparedModule } from './validate.ts';

/** The load-time steps common to both runners: task shape, CID, module checks, per-task checks. */
function load(task: Task): { prepared: PreparedModule; normalized: NormalizedTask } {
  const normalized = normalizeTask(task);
  if (task.moduleCid !== undefined) {
    try {
      checkCid(task.module, task.moduleCid, 'the module');
    } catch (err) {
      if (err instanceof CidMismatchError) throw new SandboxError('cid-mismatch', err.message);
      if (err instanceof CidError) throw new SandboxError('invalid-task', `task.moduleCid: ${err.message}`);
      throw err;
    }
  }
  const prepared = prepareModule(task.module);
  checkTask(prepared.info, normalized.allow, normalized.limits);
  return { prepared, normalized };
}

/**
 * Checks a module against a task without running it: resolves with its ModuleInfo, or throws
 * the SandboxError the run would have failed with at load.
 */
export function validateTask(task: Task): ModuleInfo {
  return load(task).prepared.info;
}

export type InlineOptions = {
  /** false runs the module as given, without metering (benchmarks only: no fuel, no caps on memory or stack). */
  metered?: boolean;
};

/** Runs a task on this thread (see the header). Throws SandboxError. */
export function runTaskInline(task: Task, options: InlineOptions = {}): RunResult {
  const { prepared, normalized } = load(task);
  const metered = options.metered !== false;
  return execute(metered ? prepared.metered : prepared.original, prepared.info.cid, normalized, metered);
}

/** What the worker posts back. */
export type WorkerReply = { ok: true; result: RunResult } | { ok: false; error: SerializedSandboxError };
export type WorkerData = { module: WebAssembly.Module; moduleCid: string; task: NormalizedTask };

const WORKER_URL = new URL('./worker.mjs', import.meta.url);
/** Idle sandbox workers kept for the next task: starting one (a thread, tsx's loader) costs about 250 ms. */
const MAX_IDLE_WORKERS = 8;
const idle: Worker[] = [];

function spawnWorker(): Worker {
  const worker = new Worker(WORKER_URL, { resourceLimits: { stackSizeMb: WORKER_STACK_MB }, stdout: true, stderr: true });
  // An idle worker does not keep the process alive.
  worker.unref();
  return worker;
}

/**
 * Runs a task in a sandbox Worker (see the header), reusing an idle one: a task's instance, its
 * memory and its WASI host are its own, and nothing of a run is left in the worker but garbage,
 * so a worker serves task after task. Load-time refusals are thrown here before any worker is
 * used; the run's own failures come back as SandboxError too, and a run still going after
 * limits.timeoutMs is terminated with 'timeout' (a worker that was terminated, or failed, is
 * never reused).
 */
export async function runTask(task: Task): Promise<RunResult> {
  const { prepared, normalized } = load(task);
  const data: WorkerData = { module: prepared.metered, moduleCid: prepared.info.cid, task: normalized };
  const worker = idle.pop() ?? spawnWorker();
  worker.ref();
  return new Promise<RunResult>((resolve, reject) => {
    let settled = false;
    const onMessage = (reply: WorkerReply) =>
      settle(true, () => (reply.ok ? resolve(reply.result) : reject(SandboxError.fromJSON(reply.error))));
    const onError = (err: Error) => settle(false, () => reject(new SandboxError('internal', `the sandbox worker failed: ${err.message}`)));
    const onExit = (code: number) =>
      settle(false, () => reject(new SandboxError('internal', `the sandbox worker exited (code ${code}) without a result`)));
    const settle = (reusable: boolean, fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      fn();
      if (reusable && idle.length < MAX_IDLE_WORKERS) {
        worker.unref();
        idle.push(worker);
      } else void worker.terminate();
    };
    const timer = setTimeout(
      () =>
        settle(false, () =>
          reject(new SandboxError('timeout', `the run did not finish within the task's ${normalized.limits.timeoutMs} ms timeout`)),
        ),
      normalized.limits.timeoutMs,
    );
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(data);
  });
}
