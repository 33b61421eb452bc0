// Writes an epoch's artifact to a file with its sha256 while the epoch is computed.
//
// At a million devices the artifact is about 2.8 GB and the close does three things of a few
// seconds each: compute the result, encode the inputs, encode the result (with hashing and
// writing beside them). The inputs are known before the result, so a second thread encodes,
// hashes and writes them while this one computes; this one then encodes the result and hands its
// chunks to that thread, which writes them after the inputs. The tables are in shared memory
// (columns.ts), so nothing large is copied between the threads. Small epochs are written on this
// thread alone: starting a thread costs more than it saves there. Large ones are written with
// O_DIRECT (hashed-file.ts says why: through the page cache, writing was the close's largest cost).
//
// The call is synchronous: the encoder waits on a shared counter when more than `maxInFlight`
// bytes are still unwritten, and at the end for the writer's answer.
import { rmSync } from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { type EpochOutcome, type EpochTables, JsonWriter, shareTables, writeArtifact, writeResult } from '@groundwork/protocol';
import { HashedFile, type WrittenFile } from './hashed-file.ts';

export type { WrittenFile } from './hashed-file.ts';

export type ArtifactFileOptions = {
  /** fsync before returning (default true: a file recorded in the database must survive a power loss). */
  sync?: boolean;
  /** Write the inputs on a second thread (default: when the epoch has more than 100,000 rows). */
  parallel?: boolean;
  /**
   * Write the file with O_DIRECT where the file system allows it (hashed-file.ts; default: when
   * written on two threads, i.e. for large epochs).
   */
  direct?: boolean;
  /** Bytes handed to the writer thread and not yet written, at most (default 16 MiB). */
  maxInFlight?: number;
  /** Test hook: called once part of the artifact is in the file (the crash test kills the process there). */
  midWrite?: (outcome: EpochOutcome) => void;
};

export class ArtifactFileError extends Error {
  override name = 'ArtifactFileError';
}

/** Rows from which a second thread pays for itself. */
const PARALLEL_ROWS = 100_000;

function rowsOf(tables: EpochTables): number {
  return tables.networks.reduce((s, n) => s + n.devices.length + n.reports.length + n.oracleInputs.length, 0);
}

/**
 * Computes the epoch (`compute`, on this thread) and writes its artifact to `file` (created or
 * truncated): `{"inputs":…,"result":…}`, the same bytes as writeArtifact. Returns the outcome,
 * and the file's size and sha256. If `compute` throws, the file is removed and the error passed on.
 */
export function writeArtifactFile(
  file: string,
  tables: EpochTables,
  compute: () => EpochOutcome,
  options: ArtifactFileOptions = {},
): WrittenFile & { outcome: EpochOutcome } {
  const parallel = options.parallel ?? rowsOf(tables) > PARALLEL_ROWS;
  try {
    return parallel ? inTwoThreads(file, tables, compute, options) : inOneThread(file, tables, compute, options);
  } catch (err) {
    rmSync(file, { force: true });
    throw err;
  }
}

function inOneThread(
  file: string,
  tables: EpochTables,
  compute: () => EpochOutcome,
  options: ArtifactFileOptions,
): WrittenFile & { outcome: EpochOutcome } {
  const outcome = compute();
  const out = new HashedFile(file, { direct: options.direct ?? false });
  let first = true;
  try {
    writeArtifact(
      new JsonWriter((chunk) => {
        if (first && options.midWrite) {
          // Test hook: half of this chunk on disk, then the hook (which kills the process).
          out.write(chunk.subarray(0, chunk.length >> 1));
          options.midWrite(outcome);
          out.write(chunk.subarray(chunk.length >> 1));
        } else out.write(chunk);
        first = false;
      }),
      tables,
      outcome,
    );
    return { outcome, ...out.finish(options.sync ?? true) };
  } finally {
    out.close();
  }
}

/** Blocks until `done()`; `failed()` names what stopped the writer, if anything did. */
function waitUntil(done: () => boolean, wait: () => unknown, failed: () => string | null, file: string): void {
  const deadline = Date.now() + 10 * 60_000;
  while (!done()) {
    const why = failed();
    if (why) throw new ArtifactFileError(why);
    if (Date.now() > deadline) throw new ArtifactFileError(`the writer of ${file} made no progress for ten minutes`);
    wait();
  }
}

function inTwoThreads(
  file: string,
  tables: EpochTables,
  compute: () => EpochOutcome,
  options: ArtifactFileOptions,
): WrittenFile & { outcome: EpochOutcome } {
  // [bytes in flight, done, failed]
  const control = new SharedArrayBuffer(12);
  const state = new Int32Array(control);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./artifact-writer.mjs', import.meta.url), {
    workerData: { file, tables: shareTables(tables), control, results: port2, sync: options.sync ?? true, direct: options.direct ?? true },
    transferList: [port2],
  });
  let answer: (Partial<WrittenFile> & { error?: string }) | undefined;
  const failed = () => {
    if (Atomics.load(state, 2) === 0) return null;
    answer ??= receiveMessageOnPort(port1)?.message;
    return answer?.error ?? 'the artifact writer failed';
  };
  try {
    const outcome = compute();
    const limit = options.maxInFlight ?? 16 << 20;
    let first = true;
    const writer = new JsonWriter(
      (chunk) => {
        let pending = Atomics.add(state, 0, chunk.length) + chunk.length;
        worker.postMessage({ chunk: chunk.buffer, length: chunk.length }, [chunk.buffer as ArrayBuffer]);
        if (first) {
          first = false;
          options.midWrite?.(outcome);
        }
        waitUntil(
          () => {
            pending = Atomics.load(state, 0);
            return pending <= limit;
          },
          () => Atomics.wait(state, 0, pending, 1000),
          failed,
          file,
        );
      },
      1 << 20,
      true,
    );
    writeResult(writer, tables, outcome);
    writer.raw('}');
    writer.flush();
    worker.postMessage({ end: true });
    waitUntil(
      () => Atomics.load(state, 1) !== 0,
      () => Atomics.wait(state, 1, 0, 1000),
      failed,
      file,
    );
    answer ??= receiveMessageOnPort(port1)?.message;
    if (!answer) throw new ArtifactFileError(`the writer of ${file} stopped without an answer`);
    if (answer.error) throw new ArtifactFileError(answer.error);
    return { outcome, size: answer.size!, hash: answer.hash!, direct: answer.direct! };
  } finally {
    port1.close();
    void worker.terminate();
  }
}
