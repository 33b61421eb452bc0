// The artifact writer thread (artifact-file.ts): encodes the epoch's inputs from the shared
// tables while the main thread computes the result, then takes the result's chunks from it, and
// hashes and writes everything to the file in order.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { JsonWriter, type SharedTables, tablesFromShared, writeInputs } from '@groundwork/protocol';
import { NETWORK_PLUGINS } from './plugins.ts';

const { file, tables, control, results, sync } = workerData as {
  file: string;
  tables: SharedTables;
  control: SharedArrayBuffer;
  results: MessagePort;
  sync: boolean;
};
const state = new Int32Array(control);
const sha = createHash('sha256');
let size = 0;
let fd = -1;
let error: string | null = null;

function fail(why: string): void {
  if (error) return;
  error = why;
  results.postMessage({ error: why });
  Atomics.store(state, 2, 1);
  Atomics.notify(state, 0);
  Atomics.notify(state, 1);
}

function write(chunk: Uint8Array): void {
  if (error) return;
  sha.update(chunk);
  for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
  size += chunk.length;
}

try {
  fd = openSync(file, 'w');
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
    if (!error) {
      if (sync) fsyncSync(fd);
      closeSync(fd);
      results.postMessage({ size, hash: `0x${sha.digest('hex')}` });
    }
  } catch (err) {
    fail(`finishing ${file}: ${(err as Error).message}`);
  }
  Atomics.store(state, 1, 1);
  Atomics.notify(state, 1);
});
