// A simulation worker: runs its seeds of the scenario and posts their summaries back.
import { parentPort, workerData } from 'node:worker_threads';
import { runSeeds } from './experiments.ts';

const { input, seeds } = workerData as { input: unknown; seeds: number[] };
try {
  parentPort!.postMessage({ ok: true, runs: runSeeds(input, seeds) });
} catch (err) {
  parentPort!.postMessage({ ok: false, error: (err as Error).message });
}
