// Experiments over many runs: seeded Monte Carlo (run i has seed base + i), parameter sweeps with a
// sensitivity table, and A/B comparisons of two scenarios (two mechanisms) under the same seeds.
// Runs are spread over worker threads (one per core by default); each returns a summary, and
// summaries come back in seed order, so an experiment is as reproducible as a run.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { runScenario, type RunResult, type Verdict } from './engine.ts';
import { parseScenario, withParameter } from './scenario.ts';

export type RunSummary = {
  seed: number;
  verdict: Verdict['kind'];
  tippedAt: number | null;
  finalPrice: number;
  minPrice: number;
  finalProviders: number;
  peakProviders: number;
  meanBurnMint: number;
  finalSupply: number;
  mintedUnits: string;
  burnedUnits: string;
};

export type Quantiles = { p5: number; p50: number; p95: number; mean: number };
export type Aggregate = {
  runs: number;
  verdicts: Record<Verdict['kind'], number>;
  finalPrice: Quantiles;
  finalProviders: Quantiles;
  meanBurnMint: Quantiles;
  finalSupply: Quantiles;
};

export function summarize(r: RunResult): RunSummary {
  const s = r.series;
  const ratios = s.map((x) => x.burnMintRatio).filter((x): x is number => x !== null);
  return {
    seed: r.seed,
    verdict: r.verdict.kind,
    tippedAt: r.verdict.epoch,
    finalPrice: s.at(-1)?.price ?? 0,
    minPrice: Math.min(...s.map((x) => x.price)),
    finalProviders: s.at(-1)?.providers ?? 0,
    peakProviders: Math.max(0, ...s.map((x) => x.providers)),
    meanBurnMint: ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : 0,
    finalSupply: s.at(-1)?.supply ?? 0,
    mintedUnits: r.totals.mintedUnits,
    burnedUnits: r.totals.burnedUnits,
  };
}

/** Runs `input` (a scenario as parsed from its file, before defaults) for each seed, here. */
export function runSeeds(input: unknown, seeds: readonly number[]): RunSummary[] {
  const scenario = parseScenario(input);
  return seeds.map((seed) => summarize(runScenario(scenario, seed)));
}

function quantiles(values: number[]): Quantiles {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => v[Math.min(v.length - 1, Math.max(0, Math.round(q * (v.length - 1))))] ?? 0;
  return { p5: at(0.05), p50: at(0.5), p95: at(0.95), mean: v.reduce((a, b) => a + b, 0) / Math.max(1, v.length) };
}

export function aggregate(runs: readonly RunSummary[]): Aggregate {
  const verdicts = { flywheel: 0, equilibrium: 0, 'death-spiral': 0 };
  for (const r of runs) verdicts[r.verdict]++;
  return {
    runs: runs.length,
    verdicts,
    finalPrice: quantiles(runs.map((r) => r.finalPrice)),
    finalProviders: quantiles(runs.map((r) => r.finalProviders)),
    meanBurnMint: quantiles(runs.map((r) => r.meanBurnMint)),
    finalSupply: quantiles(runs.map((r) => r.finalSupply)),
  };
}

export type ExperimentOptions = { runs: number; seed?: number; workers?: number };

/** Seeded Monte Carlo: `runs` runs of `input` with seeds seed, seed + 1, … */
export async function monteCarlo(input: unknown, o: ExperimentOptions): Promise<{ runs: RunSummary[]; aggregate: Aggregate }> {
  parseScenario(input); // a bad scenario fails here, once, not in every worker
  const base = o.seed ?? (input as { seed?: number }).seed ?? 1;
  const seeds = Array.from({ length: o.runs }, (_, i) => (base + i) >>> 0);
  const workers = Math.max(0, Math.min(o.workers ?? availableParallelism(), seeds.length));
  const runs = workers <= 1 ? runSeeds(input, seeds) : await inWorkers(input, seeds, workers);
  return { runs, aggregate: aggregate(runs) };
}

async function inWorkers(input: unknown, seeds: number[], workers: number): Promise<RunSummary[]> {
  // Seeds dealt round-robin, so long and short runs spread evenly.
  const chunks = Array.from({ length: workers }, (_, w) => seeds.filter((_, i) => i % workers === w));
  const results = await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise<RunSummary[]>((resolve, reject) => {
          const worker = new Worker(new URL('./run-worker.mjs', import.meta.url), { workerData: { input, seeds: chunk } });
          worker.once('message', (m: { ok: true; runs: RunSummary[] } | { ok: false; error: string }) =>
            m.ok ? resolve(m.runs) : reject(new Error(m.error)),
          );
          worker.once('error', reject);
          worker.once('exit', (code) => code !== 0 && reject(new Error(`a simulation worker exited with code ${code}`)));
        }),
    ),
  );
  const bySeed = new Map(results.flat().map((r) => [r.seed, r]));
  return seeds.map((s) => bySeed.get(s)!);
}

export type SweepParameter = { path: string; values: unknown[] };
export type SweepPoint = { path: string; value: unknown; aggregate: Aggregate };
export type Sensitivity = { path: string; low: number; high: number; swing: number };

/**
 * Varies each parameter alone over its values (the others as in the scenario), `runs` seeded runs
 * per point, and ranks the parameters by how far they move the median of `metric` (a tornado).
 */
export async function sweep(
  input: unknown,
  parameters: readonly SweepParameter[],
  o: ExperimentOptions & { metric?: 'finalPrice' | 'finalProviders' | 'meanBurnMint' | 'finalSupply' },
): Promise<{ points: SweepPoint[]; sensitivity: Sensitivity[] }> {
  const metric = o.metric ?? 'finalPrice';
  const points: SweepPoint[] = [];
  for (const p of parameters)
    for (const value of p.values) {
      const varied = withParameter(input, p.path, value);
      points.push({ path: p.path, value, aggregate: (await monteCarlo(varied, o)).aggregate });
    }
  const sensitivity = parameters
    .map((p) => {
      const medians = points.filter((x) => x.path === p.path).map((x) => x.aggregate[metric].p50);
      const low = Math.min(...medians);
      const high = Math.max(...medians);
      return { path: p.path, low, high, swing: high - low };
    })
    .sort((a, b) => b.swing - a.swing);
  return { points, sensitivity };
}

/** A against B under the same seeds (and so the same demand noise and exits where the runs agree). */
export async function compare(a: unknown, b: unknown, o: ExperimentOptions): Promise<{ a: Aggregate; b: Aggregate }> {
  return { a: (await monteCarlo(a, o)).aggregate, b: (await monteCarlo(b, o)).aggregate };
}
