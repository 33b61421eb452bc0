/**
 * The tokenomics simulator's speed (issue 14):
 *
 *   node --import tsx bench/tokenomics.ts [--providers N] [--epochs E] [--runs R] [--json]
 *
 * 1. Epochs per second with N providers (default 100,000; no entries or exits, so every epoch
 *    has N), against the oracle's reward step alone on the same columns measured in the same run
 *    (the floor: the simulator cannot be faster than computeRewardColumns, which it calls).
 * 2. A seeded Monte Carlo of R runs (default 1,000) of the death-spiral preset cut to 120 epochs,
 *    on one worker thread per core (2 here) and on one thread: wall times and their ratio.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  epochRewards,
  monteCarlo,
  parseScenario,
  PRESETS_DIR,
  readScenarioInput,
  runScenario,
  scoresFromWeights,
  writeAccount,
} from '../tokenomics/src/index.ts';

const { values } = parseArgs({
  options: {
    providers: { type: 'string', default: '100000' },
    epochs: { type: 'string', default: '20' },
    runs: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.providers);
const E = Number(values.epochs);
const R = Number(values.runs);
const log = (s: string) => process.stderr.write(`${s}\n`);

// 1. Epochs per second at N providers.
const scenario = parseScenario({
  name: 'bench',
  epochs: E,
  token: { initialSupply: 1e9, cap: 2e9, initialPrice: 1 },
  emissions: { initialEpochEmission: 100_000, decayNumerator: 1, decayDenominator: 2, decayPeriodEpochs: 365 },
  hexDensity: { targetPerHex: 3 },
  providers: {
    cohorts: [
      {
        name: 'a',
        initial: Math.floor(N / 2),
        capacity: 1,
        capexUsd: 100,
        opexUsdPerEpoch: 0.01,
        lifetimeEpochs: 100_000,
        entryRate: 0,
        hexes: Math.max(1, N / 4),
      },
      {
        name: 'b',
        initial: N - Math.floor(N / 2),
        capacity: 3,
        capexUsd: 300,
        opexUsdPerEpoch: 0.02,
        lifetimeEpochs: 100_000,
        entryRate: 0,
        hexes: Math.max(1, N / 4),
      },
    ],
  },
  demand: { initialUsdPerEpoch: 50_000, usdPerUnit: 0.1, noise: 0.05 },
});
log(`simulating ${E} epochs with ${N.toLocaleString('en-US')} providers`);
let t = performance.now();
const run = runScenario(scenario);
const simMs = performance.now() - t;
if (run.series.some((r) => r.providers !== N)) throw new Error('the provider count moved');
// The floor: the reward step alone, E times, on columns of the same size (with a growing prior).
const owners = new Uint8Array(20 * N);
const ownerOf = new Uint32Array(N);
const weights = new Float64Array(N);
for (let i = 0; i < N; i++) {
  writeAccount(owners, 20 * i, i + 1);
  ownerOf[i] = i;
  weights[i] = 1 + (i % 3);
}
const usage = { index: Uint32Array.from({ length: N }, (_, i) => i), credits: Array.from({ length: N }, (_, i) => BigInt(1 + (i % 7))) };
let prior = { accounts: new Uint8Array(0) as Uint8Array, amounts: [] as bigint[] };
t = performance.now();
for (let e = 0; e < E; e++) {
  const r = epochRewards({
    kind: 'bench',
    budget: 10n ** 23n,
    usageShareBps: 5000,
    owners,
    ownerOf,
    scores: scoresFromWeights(weights, N),
    usage,
    prior,
  });
  prior = { accounts: r.cumulative.accounts, amounts: r.cumulative.amounts };
}
const floorMs = performance.now() - t;
const epochsPerSecond = (E * 1000) / simMs;
log(
  `  ${epochsPerSecond.toFixed(2)} epochs/s (${(simMs / E).toFixed(0)} ms an epoch); the reward step alone ${(floorMs / E).toFixed(0)} ms an epoch`,
);

// 2. Monte Carlo wall time.
const input = { ...(readScenarioInput(path.join(PRESETS_DIR, 'death-spiral.yaml')) as object), epochs: 120 };
const workers = availableParallelism();
log(`Monte Carlo: ${R} runs of death-spiral (120 epochs) on ${workers} worker threads`);
t = performance.now();
const mc = await monteCarlo(input, { runs: R, seed: 1, workers });
const parallelMs = performance.now() - t;
const single = Math.max(10, Math.floor(R / 10));
t = performance.now();
await monteCarlo(input, { runs: single, seed: 1, workers: 0 });
const singleMs = ((performance.now() - t) * R) / single;
log(
  `  ${(parallelMs / 1000).toFixed(1)} s on ${workers} threads; one thread would take ${(singleMs / 1000).toFixed(1)} s (from ${single} runs); verdicts ${JSON.stringify(mc.aggregate.verdicts)}`,
);

const result = {
  providers: N,
  epochs: E,
  epochsPerSecond,
  msPerEpoch: simMs / E,
  rewardStepMsPerEpoch: floorMs / E,
  ratio: floorMs / simMs,
  monteCarlo: {
    runs: R,
    epochs: 120,
    workers,
    seconds: parallelMs / 1000,
    oneThreadSeconds: singleMs / 1000,
    speedup: singleMs / parallelMs,
    verdicts: mc.aggregate.verdicts,
  },
};
if (values.json) console.log(JSON.stringify(result));
else console.log(result);
