// The artifact writer thread (artifact-file.ts): encodes the epoch's inputs from the shared
// tables while the main thread computes the result, then takes the result's chunks from it, and
// hashes and writes everything to the file in order.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { JsonWriter, type SharedTables, tablesFromShared, writeInputs } from '@groundwork/protocol';
import { HashedFile } from './hashed-file.ts';
import { NETWORK_PLUGINS } from './plugins.ts';

const { file, tables, control, results, sync, direct } = workerData as {
  file: string;
  direct: boolean;
  tables: SharedTables;
  control: SharedArrayBuffer;
  results: MessagePort;
  sync: boolean;
};
const state = new Int32Array(control);
let out: HashedFile | null = null;
let error: string | null = null;

function fail(why: string): void {
  if (error) return;
  error = why;
  try {
    out?.close();
  } catch {
    // the error already says what went wrong
  }
  results.postMessage({ error: why });
  Atomics.store(state, 2, 1);
  Atomics.notify(state, 0);
  Atomics.notify(state, 1);
}

function write(chunk: Uint8Array): void {
  if (!error) out!.write(chunk);
}

try {
  out = new HashedFile(file, { direct });
  const w = new JsonWriter(write);
  w.raw('{"inputs":');
  writeInputs(w, tablesFromShared(tables, NETWORK_PLUGINS));
  w.raw(',"result":');
  w.flush();
} catch (err) {
  fail(`writing the inputs of ${file}: ${(err as Error).message}`);
}

parentPort!.on('message', (m: { chunk?: ArrayBuffer; length?: number; end?: boolean }) => {
  if (m.chunk) {
    try {
      write(new Uint8Array(m.chunk, 0, m.length));
    } catch (err) {
      fail(`writing ${file}: ${(err as Error).message}`);
    }
    Atomics.sub(state, 0, m.length!);
    Atomics.notify(state, 0);
    return;
  }
  try {
    if (!error) results.postMessage(out!.finish(sync));
  } catch (err) {
    fail(`finishing ${file}: ${(err as Error).message}`);
  }
  Atomics.store(state, 1, 1);
  Atomics.notify(state, 1);
});
