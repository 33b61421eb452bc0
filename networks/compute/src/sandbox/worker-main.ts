// The worker side of runTask (entered through worker.mjs): runs each task it is handed, one at a
// time, and posts back the result (its buffers transferred, not copied) or the error. The worker
// is reused for task after task (run.ts): a run's instance, memory and WASI host are its own.
import { parentPort } from 'node:worker_threads';
import { SandboxError } from './errors.ts';
import { execute } from './execute.ts';
import type { WorkerData, WorkerReply } from './run.ts';

parentPort!.on('message', ({ module, moduleCid, task }: WorkerData) => {
  let reply: WorkerReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const result = execute(module, moduleCid, task);
    reply = { ok: true, result };
    // Each buffer is its own (slices and concatenations), so it can move without a copy.
    transfer = [result.stdout, result.stderr, ...result.outputs.values()].map((b) => b.buffer as ArrayBuffer);
    transfer = [...new Set(transfer)].filter((b) => b.byteLength > 0);
  } catch (err) {
    const error =
      err instanceof SandboxError ? err : new SandboxError('internal', `the run failed in the worker: ${(err as Error)?.message ?? err}`);
    reply = { ok: false, error: error.toJSON() };
  }
  parentPort!.postMessage(reply, transfer);
});
