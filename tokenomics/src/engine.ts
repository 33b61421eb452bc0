// One simulated run: epochs of one network under a scenario. Each epoch, in this order:
//   1. demand (USD) from the regimes, noise and elasticities; what capacity serves of it
//   2. burn: consumers turn the served USD into credits by burning tokens at the market
//      (buyback: providers are paid the USD and a share of it buys tokens and burns them)
//   3. mint: the mechanism's amount, the deployed schedule cut to the cap as Emissions.release
//   4. rewards: the oracle's reward split (rewards.ts: computeRewardColumns) over every provider,
//      scores by capacity (hex-density scaled), usage by the credits it served
//   5. providers: profit per provider, exits after k losing epochs (probabilistically), end of
//      life, depreciation; entries where a new provider would profit, after the build lag
//   6. price: the price model, moved by burns, sales of rewards, stakes and shocks
// Token amounts are bigint units (1e18 per token), so supply = initial + minted − burned exactly;
// USD and price are floats. All randomness comes from one seeded generator: same seed, same run.
import { releasedEmission, type EmissionSchedule } from './schedule.ts';
import { Rng } from './rng.ts';
import { epochRewards, scoresFromWeights, writeAccount } from './rewards.ts';
import { type Scenario, toUnits } from './scenario.ts';

const UNIT = 1e18;
/** ServiceCredits: 1 credit = $0.00001 (Helium's data credit). */
export const USD_PER_CREDIT = 1e-5;

export type EpochRow = {
  epoch: number;
  demandUsd: number;
  servedUsd: number;
  capacity: number;
  utilization: number;
  /** Tokens, as floats for charts; `supplyUnits` is exact. */
  supply: number;
  supplyUnits: string;
  circulating: number;
  staked: number;
  price: number;
  burned: number;
  minted: number;
  burnMintRatio: number | null;
  /** BME equilibrium P* = USD demand / tokens minted (Multicoin 2018), or null with no mint. */
  equilibriumPrice: number | null;
  marketCapUsd: number;
  providers: number;
  byCohort: Record<string, number>;
  entered: number;
  exited: number;
  /** Providers that left this epoch over those at its start. */
  churn: number;
  /** Share of this epoch's rewards the 10 best-paid providers took. */
  topTenShare: number;
  /** Per cohort: lifetime profit over capex spent (ROI), and capex over this epoch's operating profit (payback, epochs). */
  roi: Record<string, number | null>;
  paybackEpochs: Record<string, number | null>;
  undistributed: number;
};

export type Verdict = { kind: 'flywheel' | 'equilibrium' | 'death-spiral'; epoch: number | null; reason: string };

export type RunResult = {
  scenario: string;
  seed: number;
  mechanism: string;
  series: EpochRow[];
  verdict: Verdict;
  totals: {
    mintedUnits: string;
    burnedUnits: string;
    initialSupplyUnits: string;
    finalSupplyUnits: string;
    paidUnits: string;
    undistributedUnits: string;
  };
};

/** Providers in typed columns: 100,000 of them are a few arrays, not 100,000 objects. */
class Fleet {
  n = 0;
  id = new Float64Array(1024);
  cohort = new Uint8Array(1024);
  hex = new Uint32Array(1024);
  capacity = new Float64Array(1024);
  age = new Uint32Array(1024);
  streak = new Uint32Array(1024);
  nextId = 1;

  add(cohort: number, hex: number, capacity: number): void {
    if (this.n === this.id.length) this.grow();
    const i = this.n++;
    this.id[i] = this.nextId++;
    this.cohort[i] = cohort;
    this.hex[i] = hex;
    this.capacity[i] = capacity;
    this.age[i] = 0;
    this.streak[i] = 0;
  }

  /** Keeps the providers `keep` marks, in order. */
  compact(keep: Uint8Array): void {
    let w = 0;
    for (let r = 0; r < this.n; r++) {
      if (!keep[r]) continue;
      if (w !== r) {
        this.id[w] = this.id[r]!;
        this.cohort[w] = this.cohort[r]!;
        this.hex[w] = this.hex[r]!;
        this.capacity[w] = this.capacity[r]!;
        this.age[w] = this.age[r]!;
        this.streak[w] = this.streak[r]!;
      }
      w++;
    }
    this.n = w;
  }

  private grow(): void {
    const size = this.id.length * 2;
    const g = <T extends Float64Array | Uint8Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.id = g(this.id, (n) => new Float64Array(n));
    this.cohort = g(this.cohort, (n) => new Uint8Array(n));
    this.hex = g(this.hex, (n) => new Uint32Array(n));
    this.capacity = g(this.capacity, (n) => new Float64Array(n));
    this.age = g(this.age, (n) => new Uint32Array(n));
    this.streak = g(this.streak, (n) => new Uint32Array(n));
  }
}

const toTokens = (u: bigint): number => Number(u) / UNIT;
/** Float tokens to units, to a millionth of a token (floats carry no more). */
const fromTokens = (t: number): bigint => (t > 0 && Number.isFinite(t) ? BigInt(Math.floor(t * 1e6)) * 10n ** 12n : 0n);

export function runScenario(s: Scenario, seed = s.seed): RunResult {
  const rng = new Rng(seed);
  const schedule: EmissionSchedule = {
    initialEpochEmission: toUnits(s.emissions.initialEpochEmission),
    decayNumerator: BigInt(s.emissions.decayNumerator),
    decayDenominator: BigInt(s.emissions.decayDenominator),
    decayPeriodEpochs: BigInt(s.emissions.decayPeriodEpochs),
  };
  const cap = toUnits(s.token.cap);
  const initialSupply = toUnits(s.token.initialSupply);
  let supply = initialSupply;
  let staked = 0n;
  const stakeEach = toUnits(s.stakeTokens);
  let price = s.token.initialPrice;
  let previousPrice = price;
  let mintedTotal = 0n;
  let burnedTotal = 0n;
  let paidTotal = 0n;
  let undistributed = 0n;
  const cohorts = s.providers.cohorts;
  const fleet = new Fleet();
  for (const [c, co] of cohorts.entries()) for (let k = 0; k < co.initial; k++) fleet.add(c, rng.below(co.hexes), co.capacity);
  const initialCapacity = cohorts.reduce((a, c) => a + c.initial * c.capacity, 0);
  // The providers there at the start hold their stakes too (out of the initial supply).
  staked = min(stakeEach * BigInt(fleet.n), supply);
  // Building: per cohort, how many start serving at each epoch.
  const building = cohorts.map(() => new Map<number, number>());
  const lifetimeProfit = cohorts.map(() => 0);
  const lifetimeCapex = cohorts.map((c) => c.initial * (c.capexUsd + toTokens(stakeEach) * s.token.initialPrice));
  // The AMM's pool, if the price model is one.
  let poolUsd = s.price.model === 'amm' ? s.price.usdDepth : 0;
  let poolTokens = s.price.model === 'amm' ? s.price.usdDepth / s.token.initialPrice : 0;
  const swapUsdIn = (usd: number): number => {
    const out = poolTokens - (poolTokens * poolUsd) / (poolUsd + usd);
    poolUsd += usd;
    poolTokens -= out;
    return out;
  };
  const swapTokensIn = (t: number): number => {
    const out = poolUsd - (poolTokens * poolUsd) / (poolTokens + t);
    poolTokens += t;
    poolUsd -= out;
    return out;
  };
  let demandLevel = s.demand.initialUsdPerEpoch;
  // The fundamental models' holding period: given, or the one at which the start is priced right.
  const servedAtStart = Math.min(s.demand.initialUsdPerEpoch, initialCapacity * s.demand.usdPerUnit);
  const holding = s.price.holdingEpochs ?? (servedAtStart > 0 ? (s.token.initialPrice * toTokens(initialSupply)) / servedAtStart : 30);
  let netPool = 0n; // net emissions: burned tokens waiting to be re-minted
  const burnHistory: bigint[] = [];
  let prior: { accounts: Uint8Array; amounts: bigint[] } = { accounts: new Uint8Array(0), amounts: [] };
  const series: EpochRow[] = [];

  for (let e = 0; e < s.epochs; e++) {
    const startCount = fleet.n;
    // ---- 1. demand
    for (const r of s.demand.regimes) {
      if (r.kind === 'growth' && e >= r.from && (r.to === undefined || e < r.to)) demandLevel *= 1 + r.ratePerEpoch;
      else if (r.kind === 'decay' && e >= r.from && (r.to === undefined || e < r.to)) demandLevel *= 1 - r.ratePerEpoch;
      else if (r.kind === 'shock' && e === r.at) demandLevel *= r.multiplier;
    }
    let demand = demandLevel;
    for (const r of s.demand.regimes)
      if (r.kind === 'seasonal') demand *= 1 + r.amplitude * Math.sin((2 * Math.PI * (e + r.phase)) / r.periodEpochs);
    if (s.demand.noise > 0) demand *= Math.exp(s.demand.noise * rng.normal() - (s.demand.noise * s.demand.noise) / 2);
    let capacity = 0;
    for (let i = 0; i < fleet.n; i++) capacity += fleet.capacity[i]!;
    // Elasticities bounded to a factor of 10⁹ either way: a price near zero raised to a negative
    // power would otherwise make demand infinite (and 0 × ∞ a NaN).
    const bounded = (x: number) => Math.min(1e9, Math.max(1e-9, x));
    if (s.demand.priceElasticity) demand *= bounded((price / s.token.initialPrice) ** s.demand.priceElasticity);
    if (s.demand.capacityElasticity && initialCapacity > 0 && capacity > 0)
      demand *= bounded((capacity / initialCapacity) ** s.demand.capacityElasticity);
    if (!(demand >= 0) || !Number.isFinite(demand)) throw new Error(`epoch ${e}: demand came out as ${demand}`);
    const servedUnits = Math.min(demand / s.demand.usdPerUnit, capacity);
    const servedUsd = servedUnits * s.demand.usdPerUnit;

    // ---- 2. burn
    const mech = s.mechanism;
    const burnUsd = mech.kind === 'buyback' ? servedUsd * mech.shareOfFees : servedUsd;
    const revenueUsd = mech.kind === 'buyback' ? servedUsd - burnUsd : 0;
    let burned = fromTokens(s.price.model === 'amm' ? swapUsdIn(burnUsd) : burnUsd / price);
    const circulatingBefore = supply - staked - undistributed;
    if (burned > circulatingBefore) burned = circulatingBefore > 0n ? circulatingBefore : 0n;
    supply -= burned;
    burnedTotal += burned;
    burnHistory.push(burned);

    // ---- 3. mint
    let minted: bigint;
    const room = cap > supply ? cap - supply : 0n;
    const scheduled = releasedEmission(schedule, e, cap, supply);
    if (mech.kind === 'bme') minted = min(toUnits(mech.mintPerEpoch), room);
    else if (mech.kind === 'net-emissions') {
      netPool += min(fromTokens(toTokens(burned) * mech.remintShare), toUnits(mech.capPerEpoch));
      const release = netPool / BigInt(mech.smoothingEpochs);
      netPool -= release;
      minted = min(scheduled + release, room);
    } else if (mech.kind === 'burn-indexed' && e >= mech.fromEpoch) {
      const window = burnHistory.slice(-mech.windowEpochs - 1, -1);
      const mean = window.length ? window.reduce((a, b) => a + b, 0n) / BigInt(window.length) : 0n;
      minted = min(fromTokens(toTokens(mean) * mech.factor), room);
    } else minted = scheduled;
    supply += minted;
    mintedTotal += minted;

    // ---- 4. rewards, through the oracle's code path
    const n = fleet.n;
    const weights = new Float64Array(n);
    const perHex = new Map<number, number>();
    if (s.hexDensity) for (let i = 0; i < n; i++) perHex.set(fleet.hex[i]!, (perHex.get(fleet.hex[i]!) ?? 0) + 1);
    for (let i = 0; i < n; i++) {
      const crowd = s.hexDensity ? (perHex.get(fleet.hex[i]!) ?? 1) : 0;
      weights[i] = fleet.capacity[i]! * (s.hexDensity && crowd > s.hexDensity.targetPerHex ? s.hexDensity.targetPerHex / crowd : 1);
    }
    const owners = new Uint8Array(20 * n);
    const ownerOf = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      writeAccount(owners, 20 * i, fleet.id[i]!);
      ownerOf[i] = i;
    }
    // Served credits spread by capacity (a matcher fills the network evenly).
    const totalCredits = BigInt(Math.floor(burnUsd / USD_PER_CREDIT));
    const usageIndex: number[] = [];
    const usageCredits: bigint[] = [];
    if (mech.kind !== 'buyback' && totalCredits > 0n && capacity > 0) {
      for (let i = 0; i < n; i++) {
        const c = BigInt(Math.floor((Number(totalCredits) * fleet.capacity[i]!) / capacity));
        if (c > 0n) {
          usageIndex.push(i);
          usageCredits.push(c);
        }
      }
    }
    const r = epochRewards({
      kind: 'simulated',
      budget: minted,
      usageShareBps: s.usageShareBps,
      owners,
      ownerOf,
      scores: scoresFromWeights(weights, n),
      usage: { index: Uint32Array.from(usageIndex), credits: usageCredits },
      prior,
    });
    prior = { accounts: r.cumulative.accounts, amounts: r.cumulative.amounts };
    paidTotal += r.paid;
    undistributed += r.undistributed;

    // ---- 5. providers
    const keep = new Uint8Array(n).fill(1);
    let exited = 0;
    let sold = 0;
    let unstaked = 0n;
    const cohortProfit = cohorts.map(() => 0);
    const cohortCount = cohorts.map(() => 0);
    const rewardList: number[] = [];
    for (let i = 0; i < n; i++) {
      const tokens = toTokens(r.earned[i]!);
      rewardList.push(tokens);
      const co = cohorts[fleet.cohort[i]!]!;
      const income = tokens * price + (capacity > 0 ? (revenueUsd * fleet.capacity[i]!) / capacity : 0);
      const operating = income - co.opexUsdPerEpoch;
      const profit = operating - (co.capexUsd + toTokens(stakeEach) * price) / co.lifetimeEpochs;
      lifetimeProfit[fleet.cohort[i]!]! += operating;
      cohortProfit[fleet.cohort[i]!]! += operating;
      cohortCount[fleet.cohort[i]!]!++;
      sold += tokens * co.sellShare;
      fleet.streak[i] = profit < 0 ? fleet.streak[i]! + 1 : 0;
      fleet.age[i] = fleet.age[i]! + 1;
      fleet.capacity[i] = fleet.capacity[i]! * (1 - co.depreciationPerEpoch);
      const worn = fleet.age[i]! >= co.lifetimeEpochs;
      const quits = fleet.streak[i]! >= co.exitAfterUnprofitable && rng.next() < co.exitProbability;
      if (worn || quits) {
        keep[i] = 0;
        exited++;
        unstaked += stakeEach;
      }
    }
    fleet.compact(keep);
    // Entries: what a new provider of each cohort would earn now, against what it costs.
    const paidNow = toTokens(r.paid);
    let entered = 0;
    let newStake = 0n;
    for (const [c, co] of cohorts.entries()) {
      const arriving = building[c]!.get(e) ?? 0;
      building[c]!.delete(e);
      for (let k = 0; k < arriving; k++) fleet.add(c, rng.below(co.hexes), co.capacity);
      entered += arriving;
      newStake += stakeEach * BigInt(arriving);
      const expectedTokens = (paidNow * co.capacity) / (capacity + co.capacity);
      const expectedRevenue = (revenueUsd * co.capacity) / (capacity + co.capacity);
      // The stake is bought at today's price and may be worth anything at exit: counted as capex.
      const cost = co.opexUsdPerEpoch + (co.capexUsd + toTokens(stakeEach) * price) / co.lifetimeEpochs;
      const margin = cost > 0 ? (expectedTokens * price + expectedRevenue - cost) / cost : expectedTokens > 0 ? 1 : -1;
      if (margin <= 0) continue;
      const size = cohortCount[c]! + [...building[c]!.values()].reduce((a, b) => a + b, 0);
      const wanted = co.entryRate * Math.min(1, margin) * size;
      let starts = Math.max(size === 0 ? co.entryFloor : 0, Math.floor(wanted) + (rng.next() < wanted % 1 ? 1 : 0));
      // Stakes come out of what circulates: at most half of it is bought for stakes in an epoch.
      if (stakeEach > 0n) {
        const free = (supply - staked - newStake) / 2n;
        starts = Math.min(starts, Number(free / stakeEach));
      }
      if (starts > 0) {
        const at = e + 1 + co.buildLagEpochs;
        building[c]!.set(at, (building[c]!.get(at) ?? 0) + starts);
        lifetimeCapex[c]! += starts * (co.capexUsd + toTokens(stakeEach) * price);
      }
    }
    staked = staked - unstaked + newStake;
    if (staked < 0n) staked = 0n; // only where a stake was cut to the supply before
    if (staked > supply) staked = supply;

    // ---- 6. price
    const shocks = s.shocks.filter((x) => x.at === e);
    const shockSell = shocks.reduce((a, x) => a + toTokens(toUnits(x.sellTokens)) + toTokens(toUnits(x.unlockTokens)), 0);
    const stakeSell = toTokens(unstaked);
    // What the distributor holds undistributed is not on the market.
    const circulating = toTokens(supply - staked - undistributed);
    previousPrice = price;
    const fundamental = circulating > 0 ? (servedUsd * holding) / circulating : 0;
    if (s.price.model === 'amm') {
      // Stakes are bought as tokens out of the pool, at most 2% of it an epoch (the rest from holders).
      const stakeOut = Math.min(toTokens(newStake), poolTokens * 0.02);
      if (stakeOut > 0) {
        const k = poolUsd * poolTokens;
        poolTokens -= stakeOut;
        poolUsd = k / poolTokens;
      }
      swapTokensIn(sold + stakeSell + shockSell);
      // Arbitrage moves the pool part of the way to the fundamental price: x = √(k/p), y = √(k·p).
      const pool = poolUsd / poolTokens;
      if (fundamental > 0 && pool > 0) {
        const target = pool * (fundamental / pool) ** s.price.arbitrage;
        const k = poolUsd * poolTokens;
        poolTokens = Math.sqrt(k / target);
        poolUsd = Math.sqrt(k * target);
      }
      price = poolUsd / poolTokens;
    } else {
      const sellPressure = sold + stakeSell + shockSell;
      // Sales beyond what holders absorb in an epoch weigh on the price for that epoch.
      const impact = circulating > 0 ? circulating / (circulating + sellPressure) : 1;
      if (s.price.model === 'fundamental') price = fundamental * impact;
      else {
        // Last epoch's return, P₋₁ / P₋₂ − 1, clipped to ±50%.
        const before = series.at(-2)?.price;
        const momentum = before ? Math.max(-0.5, Math.min(0.5, previousPrice / before - 1)) : 0;
        price = ((1 - s.price.lambda) * fundamental + s.price.lambda * previousPrice * (1 + momentum)) * impact;
      }
    }
    if (!(price > s.token.floorPrice)) price = Math.max(s.token.floorPrice, Number.MIN_VALUE);

    // ---- the epoch's row
    rewardList.sort((a, b) => b - a);
    const epochPaid = rewardList.reduce((a, b) => a + b, 0);
    const topTen = rewardList.slice(0, 10).reduce((a, b) => a + b, 0);
    const byCohort: Record<string, number> = {};
    const roi: Record<string, number | null> = {};
    const payback: Record<string, number | null> = {};
    const counts = cohorts.map(() => 0);
    for (let i = 0; i < fleet.n; i++) counts[fleet.cohort[i]!]!++;
    for (const [c, co] of cohorts.entries()) {
      byCohort[co.name] = counts[c]!;
      roi[co.name] = lifetimeCapex[c]! > 0 ? lifetimeProfit[c]! / lifetimeCapex[c]! : null;
      const perProvider = cohortCount[c]! > 0 ? cohortProfit[c]! / cohortCount[c]! : 0;
      payback[co.name] = perProvider > 0 ? (co.capexUsd + toTokens(stakeEach) * price) / perProvider : null;
    }
    const mintedTokens = toTokens(minted);
    series.push({
      epoch: e,
      demandUsd: demand,
      servedUsd,
      capacity,
      utilization: capacity > 0 ? servedUnits / capacity : 0,
      supply: toTokens(supply),
      supplyUnits: supply.toString(),
      circulating: toTokens(supply - staked - undistributed),
      staked: toTokens(staked),
      price,
      burned: toTokens(burned),
      minted: mintedTokens,
      burnMintRatio: minted > 0n ? toTokens(burned) / mintedTokens : null,
      equilibriumPrice: minted > 0n ? servedUsd / mintedTokens : null,
      marketCapUsd: toTokens(supply - staked - undistributed) * price,
      providers: fleet.n,
      byCohort,
      entered,
      exited,
      churn: startCount > 0 ? exited / startCount : 0,
      topTenShare: epochPaid > 0 ? topTen / epochPaid : 0,
      roi,
      paybackEpochs: payback,
      undistributed: toTokens(undistributed),
    });
  }
  return {
    scenario: s.name,
    seed,
    mechanism: s.mechanism.kind,
    series,
    verdict: verdictOf(series),
    totals: {
      mintedUnits: mintedTotal.toString(),
      burnedUnits: burnedTotal.toString(),
      initialSupplyUnits: initialSupply.toString(),
      finalSupplyUnits: supply.toString(),
      paidUnits: paidTotal.toString(),
      undistributedUnits: undistributed.toString(),
    },
  };
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/**
 * The run's verdict:
 * - death spiral: the price falls to half its running peak while the providers fall to 70% of
 *   theirs, both lower than 10 epochs before (the epoch that first holds);
 * - flywheel: by the end, providers are at least 20% above the start and the price not below its
 *   start, with burns covering more of the mint in the last quarter than in the first (the epoch
 *   from which providers stay above the start);
 * - equilibrium: neither.
 */
export function verdictOf(series: readonly EpochRow[]): Verdict {
  if (!series.length) return { kind: 'equilibrium', epoch: null, reason: 'no epochs' };
  let peakPrice = 0;
  let peakProviders = 0;
  for (const [i, row] of series.entries()) {
    peakPrice = Math.max(peakPrice, row.price);
    peakProviders = Math.max(peakProviders, row.providers);
    const back = series[i - 10];
    if (
      back &&
      row.price <= peakPrice / 2 &&
      row.providers <= peakProviders * 0.7 &&
      row.price < back.price &&
      row.providers < back.providers
    )
      return {
        kind: 'death-spiral',
        epoch: row.epoch,
        reason: `at epoch ${row.epoch} the price was ${pct(row.price / peakPrice)} of its peak and providers ${pct(row.providers / peakProviders)} of theirs, both falling`,
      };
  }
  const first = series[0]!;
  const last = series.at(-1)!;
  const quarter = Math.max(1, Math.floor(series.length / 4));
  const ratio = (rows: readonly EpochRow[]) => rows.reduce((a, r) => a + (r.burnMintRatio ?? 0), 0) / rows.length;
  const early = ratio(series.slice(0, quarter));
  const late = ratio(series.slice(-quarter));
  if (last.providers >= first.providers * 1.2 && last.price >= first.price && late > early) {
    let from = series.length - 1;
    while (from > 0 && series[from - 1]!.providers > first.providers) from--;
    return {
      kind: 'flywheel',
      epoch: series[from]!.epoch,
      reason: `providers ${first.providers} → ${last.providers}, price ${first.price.toPrecision(3)} → ${last.price.toPrecision(3)}, burn/mint ${early.toFixed(2)} → ${late.toFixed(2)}`,
    };
  }
  return {
    kind: 'equilibrium',
    epoch: null,
    reason: `providers ${first.providers} → ${last.providers}, price ${first.price.toPrecision(3)} → ${last.price.toPrecision(3)}, burn/mint ${early.toFixed(2)} → ${late.toFixed(2)}`,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
