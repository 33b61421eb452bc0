// The simulator: invariants on random scenarios, reproducibility, calibration against published
// shapes, verdicts on the shipped stress presets, experiments, reports, and bad scenario files.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  compare,
  htmlReport,
  lineChartSvg,
  loadScenario,
  monteCarlo,
  parseScenario,
  parseScenarioText,
  PRESETS_DIR,
  presetNames,
  readScenarioInput,
  Rng,
  runScenario,
  type ScenarioInput,
  scheduledEmission,
  seriesCsv,
  sweep,
  toUnits,
} from '../src/index.ts';

const T = 10n ** 18n;

/** A small scenario drawn from `rng`: any mechanism, price model and one to three cohorts. */
function randomScenario(rng: Rng, i: number): ScenarioInput {
  const pick = <T>(xs: readonly T[]): T => xs[rng.below(xs.length)]!;
  const supply = 1e6 + rng.below(1e8);
  const mechanisms = [
    { kind: 'schedule' as const },
    { kind: 'bme' as const, mintPerEpoch: 1000 + rng.below(50_000) },
    { kind: 'net-emissions' as const, capPerEpoch: rng.below(1000), smoothingEpochs: 1 + rng.below(400) },
    { kind: 'burn-indexed' as const, fromEpoch: rng.below(60), factor: rng.next() * 1.5, windowEpochs: 1 + rng.below(20) },
    { kind: 'buyback' as const, shareOfFees: rng.next() },
  ];
  const prices = [
    { model: 'fundamental' as const },
    { model: 'momentum' as const, lambda: rng.next() },
    { model: 'amm' as const, usdDepth: 1e4 + rng.below(1e7), arbitrage: rng.next() },
  ];
  return {
    name: `random-${i}`,
    seed: rng.nextU32(),
    epochs: 20 + rng.below(60),
    token: { initialSupply: supply, cap: supply * (1 + rng.next() * 2), initialPrice: 0.01 + rng.next() * 10 },
    emissions: {
      initialEpochEmission: rng.below(100_000),
      decayNumerator: 1 + rng.below(9),
      decayDenominator: 10,
      decayPeriodEpochs: 1 + rng.below(50),
    },
    mechanism: pick(mechanisms),
    usageShareBps: rng.below(10_001),
    stakeTokens: rng.next() < 0.3 ? rng.below(1000) : 0,
    ...(rng.next() < 0.3 ? { hexDensity: { targetPerHex: 1 + rng.below(4) } } : {}),
    providers: {
      cohorts: Array.from({ length: 1 + rng.below(3) }, (_, c) => ({
        name: `c${c}`,
        initial: rng.below(300),
        capacity: 0.1 + rng.next() * 50,
        capexUsd: rng.next() * 5000,
        opexUsdPerEpoch: rng.next() * 10,
        lifetimeEpochs: 5 + rng.below(500),
        depreciationPerEpoch: rng.next() * 0.01,
        buildLagEpochs: rng.below(10),
        entryRate: rng.next() * 0.02,
        exitAfterUnprofitable: 1 + rng.below(20),
        exitProbability: rng.next(),
        sellShare: rng.next(),
        hexes: 1 + rng.below(50),
      })),
    },
    demand: {
      // One scenario in ten has no demand at all.
      initialUsdPerEpoch: rng.next() < 0.1 ? 0 : rng.next() * 1e5,
      usdPerUnit: 0.01 + rng.next() * 5,
      noise: rng.next() * 0.5,
      regimes: [
        { kind: 'growth', ratePerEpoch: rng.next() < 0.1 ? -0.99 : (rng.next() - 0.5) * 0.05 },
        { kind: 'seasonal', amplitude: rng.next() * 0.5, periodEpochs: 1 + rng.below(30) },
        { kind: 'shock', at: rng.below(50), multiplier: rng.next() * 2 },
      ],
      priceElasticity: (rng.next() - 0.5) * 4,
      capacityElasticity: rng.next(),
    },
    price: pick(prices),
    shocks: [{ at: rng.below(40), sellTokens: rng.below(1e6), unlockTokens: rng.below(1e6) }],
  };
}

describe('tokenomics simulator', () => {
  test('invariants on 40 random scenarios: tokens conserved, under the cap and the schedule, nothing negative', () => {
    const rng = new Rng(20261203);
    for (let i = 0; i < 40; i++) {
      const s = parseScenario(randomScenario(rng, i));
      const r = runScenario(s);
      const what = `${s.name} (${s.mechanism.kind}, ${s.price.model})`;
      const minted = BigInt(r.totals.mintedUnits);
      const burned = BigInt(r.totals.burnedUnits);
      assert.equal(
        BigInt(r.totals.finalSupplyUnits),
        BigInt(r.totals.initialSupplyUnits) + minted - burned,
        `${what}: supply = initial + minted − burned`,
      );
      assert.equal(BigInt(r.totals.paidUnits) + BigInt(r.totals.undistributedUnits), minted, `${what}: minted = paid + undistributed`);
      let scheduled = 0n;
      let prev = BigInt(r.totals.initialSupplyUnits);
      for (const row of r.series) {
        const supply = BigInt(row.supplyUnits);
        assert.ok(supply <= toUnits(s.token.cap), `${what}: epoch ${row.epoch} above the cap`);
        assert.ok(supply >= 0n && row.circulating >= 0 && row.staked >= 0, `${what}: epoch ${row.epoch} negative balance`);
        assert.ok(row.price > 0 && Number.isFinite(row.price), `${what}: epoch ${row.epoch} price ${row.price}`);
        assert.ok(row.providers >= 0 && row.burned >= 0 && row.minted >= 0 && row.undistributed >= 0, `${what}: epoch ${row.epoch}`);
        assert.ok(row.utilization >= 0 && row.utilization <= 1 + 1e-12, `${what}: utilization ${row.utilization}`);
        assert.ok(supply - prev <= BigInt(Math.ceil(row.minted * 1e6)) * 10n ** 12n, `${what}: supply grew by more than the mint`);
        prev = supply;
        scheduled += scheduledEmission(
          {
            initialEpochEmission: toUnits(s.emissions.initialEpochEmission),
            decayNumerator: BigInt(s.emissions.decayNumerator),
            decayDenominator: BigInt(s.emissions.decayDenominator),
            decayPeriodEpochs: BigInt(s.emissions.decayPeriodEpochs),
          },
          row.epoch,
        );
      }
      if (s.mechanism.kind === 'schedule' || s.mechanism.kind === 'buyback')
        assert.ok(minted <= scheduled, `${what}: minted within the schedule`);
    }
  });

  test('no demand and a price that falls to nothing under a negative price elasticity: the run stays finite', () => {
    const s = loadScenario(path.join(PRESETS_DIR, 'render-bme.yaml'));
    const r = runScenario({
      ...s,
      epochs: 60,
      price: { model: 'fundamental' },
      demand: { ...s.demand, initialUsdPerEpoch: 0, priceElasticity: -1 },
    });
    assert.ok(r.series.every((x) => Number.isFinite(x.price) && Number.isFinite(x.demandUsd) && x.demandUsd === 0));
  });

  test('the same seed gives the same run bit for bit; another seed another run', () => {
    const s = loadScenario(path.join(PRESETS_DIR, 'render-bme.yaml'));
    const short = { ...s, epochs: 120 };
    const a = JSON.stringify(runScenario(short, 42));
    assert.equal(JSON.stringify(runScenario(short, 42)), a);
    assert.notEqual(JSON.stringify(runScenario(short, 43)), a, 'the demand noise differs');
  });

  test('calibration: RNP-001’s burn-and-mint equilibrium, burns = mint at P* = D / M, within 1%', () => {
    // Render's worked example: a fixed mint of 10,000 tokens per period (RNP-001, field/compute.md)
    // against constant demand; the price starts at half of P* and supply adjusts until burns = mint.
    const demand = 50_000;
    const s = parseScenario({
      name: 'rnp-001',
      epochs: 2000,
      token: { initialSupply: 10_000_000, cap: 100_000_000, initialPrice: 2.5 },
      emissions: { initialEpochEmission: 0, decayNumerator: 1, decayDenominator: 1, decayPeriodEpochs: 1 },
      mechanism: { kind: 'bme', mintPerEpoch: 10_000 },
      providers: {
        cohorts: [
          {
            name: 'node',
            initial: 100,
            capacity: 1000,
            capexUsd: 0,
            opexUsdPerEpoch: 0,
            lifetimeEpochs: 100_000,
            entryRate: 0,
            sellShare: 0,
          },
        ],
      },
      demand: { initialUsdPerEpoch: demand, usdPerUnit: 0.5 },
      price: { model: 'fundamental', holdingEpochs: 200 },
    });
    const last = runScenario(s).series.at(-1)!;
    const pStar = demand / 10_000;
    assert.ok(Math.abs(last.price / pStar - 1) < 0.01, `price ${last.price} vs P* ${pStar}`);
    assert.ok(Math.abs(last.burned / 10_000 - 1) < 0.01, `burned ${last.burned} vs minted 10,000`);
    assert.ok(Math.abs(last.equilibriumPrice! / pStar - 1) < 1e-9);
  });

  test('calibration: a halving every two years mints 1/2, 1/4, 1/8 of the first period’s rate, and the supply approaches twice a period’s mint', () => {
    // Helium's HNT: halving every two years toward its cap (field/explorer-tokenomics.md, HIP 20).
    const s = loadScenario(path.join(PRESETS_DIR, 'helium-halving.yaml'));
    // Fifty hotspots that neither come nor go: the mint does not depend on them.
    const r = runScenario({
      ...s,
      epochs: 730 * 4,
      providers: { cohorts: s.providers.cohorts.map((c) => ({ ...c, initial: 50, entryRate: 0, lifetimeEpochs: 10_000 })) },
    });
    const at = (e: number) => r.series[e]!.minted;
    for (const [k, share] of [
      [1, 0.5],
      [2, 0.25],
      [3, 0.125],
    ] as const)
      assert.ok(Math.abs(at(730 * k) / at(0) - share) < 1e-9, `period ${k}: ${at(730 * k) / at(0)}`);
    const minted = Number(BigInt(r.totals.mintedUnits) / T);
    const firstPeriod = 68_493 * 730;
    // Four periods mint (1 + 1/2 + 1/4 + 1/8) of the first: 1.875, against the limit 2.
    assert.ok(Math.abs(minted / firstPeriod - 1.875) < 1e-6, `${minted / firstPeriod}`);
  });

  test('verdicts: the death-spiral preset spirals (with the epoch it tipped), render-bme turns the flywheel', () => {
    const spiral = runScenario(loadScenario(path.join(PRESETS_DIR, 'death-spiral.yaml')));
    assert.equal(spiral.verdict.kind, 'death-spiral', spiral.verdict.reason);
    assert.ok(spiral.verdict.epoch! > 30, 'after the demand shock');
    const row = spiral.series[spiral.verdict.epoch!]!;
    const peak = Math.max(...spiral.series.slice(0, spiral.verdict.epoch! + 1).map((x) => x.price));
    assert.ok(row.price <= peak / 2);
    const flywheel = runScenario(loadScenario(path.join(PRESETS_DIR, 'render-bme.yaml')));
    assert.equal(flywheel.verdict.kind, 'flywheel', flywheel.verdict.reason);
  });

  test('every preset parses and runs its first epochs', () => {
    assert.ok(presetNames().length >= 6);
    for (const name of presetNames()) {
      const s = loadScenario(path.join(PRESETS_DIR, `${name}.yaml`));
      const r = runScenario({ ...s, epochs: 30 });
      assert.equal(r.series.length, 30, name);
    }
  });

  test('Monte Carlo in worker threads gives the same runs as in this thread, in seed order', async () => {
    const input = { ...(readScenarioInput(path.join(PRESETS_DIR, 'death-spiral.yaml')) as object), epochs: 80 };
    const here = await monteCarlo(input, { runs: 6, seed: 100, workers: 0 });
    const threads = await monteCarlo(input, { runs: 6, seed: 100, workers: 2 });
    assert.deepEqual(threads, here);
    assert.deepEqual(
      here.runs.map((r) => r.seed),
      [100, 101, 102, 103, 104, 105],
    );
    assert.equal(
      Object.values(here.aggregate.verdicts).reduce((a, b) => a + b, 0),
      6,
    );
  });

  test('a sweep ranks a parameter that matters above one that does not', async () => {
    const input = { ...(readScenarioInput(path.join(PRESETS_DIR, 'render-bme.yaml')) as object), epochs: 60 };
    const r = await sweep(
      input,
      [
        { path: 'description', values: ['a', 'b'] },
        { path: 'mechanism.mintPerEpoch', values: [5000, 100_000] },
      ],
      { runs: 2, workers: 0, metric: 'finalSupply' },
    );
    assert.equal(r.points.length, 4);
    assert.deepEqual(
      r.sensitivity.map((x) => x.path),
      ['mechanism.mintPerEpoch', 'description'],
    );
    assert.equal(r.sensitivity[1]!.swing, 0, 'the description changes nothing');
    const ab = await compare(input, { ...input, mechanism: { kind: 'bme', mintPerEpoch: 100_000 } }, { runs: 2, workers: 0 });
    assert.ok(ab.b.finalSupply.p50 > ab.a.finalSupply.p50, 'A/B: the bigger mint ends with more supply');
  });

  test('reports: the CSV has a row per epoch, charts are SVG with one line each, the page has the verdict', () => {
    const r = runScenario({ ...loadScenario(path.join(PRESETS_DIR, 'render-bme.yaml')), epochs: 25 });
    const csv = seriesCsv(r).trimEnd().split('\n');
    assert.equal(csv.length, 26);
    assert.ok(csv[0]!.startsWith('epoch,demandUsd,servedUsd,'));
    assert.ok(csv[0]!.includes('providers.rtx-4090') && csv[0]!.includes('roi.datacenter-h100'));
    assert.equal(csv[1]!.split(',').length, csv[0]!.split(',').length);
    const svg = lineChartSvg('t', [
      { name: 'a', values: [1, 2, 3] },
      { name: 'b', values: [3, null, 1] },
    ]);
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((svg.match(/<path /g) ?? []).length, 2);
    assert.match(svg, /M[\d.]+ [\d.]+M[\d.]+ [\d.]+/, 'a null breaks the line');
    const html = htmlReport(r);
    assert.match(html, new RegExp(`verdict</th><td>${r.verdict.kind}`));
    assert.equal((html.match(/<svg /g) ?? []).length, 6);
  });

  test('bad scenario files get an error naming the field', () => {
    const good = readScenarioInput(path.join(PRESETS_DIR, 'render-bme.yaml')) as Record<string, unknown>;
    const bad = (change: (s: Record<string, any>) => void) => {
      const s = structuredClone(good) as Record<string, any>;
      change(s);
      return () => parseScenario(s, 'x.yaml');
    };
    assert.throws(
      bad((s) => (s.providers.cohorts[1].capexUsd = -1)),
      /^ScenarioError: x\.yaml: providers\.cohorts\.1\.capexUsd: /,
    );
    assert.throws(
      bad((s) => (s.mechanism = { kind: 'magic' })),
      /x\.yaml: mechanism\.kind: /,
    );
    assert.throws(
      bad((s) => (s.epochs = 0)),
      /x\.yaml: epochs: /,
    );
    assert.throws(
      bad((s) => (s.token.initialSupply = 1e12)),
      /x\.yaml: token\.initialSupply: must not be above token\.cap/,
    );
    assert.throws(
      bad((s) => (s.providers.cohorts[1].name = 'rtx-4090')),
      /providers\.cohorts\.1\.name: rtx-4090 is used twice/,
    );
    assert.throws(
      bad((s) => (s.demand.regimes[0].speed = 2)),
      /demand\.regimes\.0: .*speed/i,
    );
    assert.throws(
      bad((s) => (s.emissions.decayNumerator = 3)),
      /emissions\.decayNumerator: must not be above decayDenominator/,
    );
    assert.throws(
      bad((s) => (s.token.cap = 1e21)),
      /x\.yaml: token\.cap: must be below 1e21 as a number/,
    );
    assert.throws(
      bad((s) => (s.demand.regimes[0].ratePerEpoch = -1)),
      /x\.yaml: demand\.regimes\.0\.ratePerEpoch: /,
    );
    assert.throws(() => parseScenarioText('name: [unclosed', 'y.yaml'), /^ScenarioError: y\.yaml: not YAML: /);
    assert.throws(() => loadScenario('/nonexistent/scenario.yaml'), /cannot read \/nonexistent\/scenario\.yaml/);
  });
});
