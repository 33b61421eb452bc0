// The scenario file (YAML or JSON): what a run simulates. Every field is checked here, and a bad
// file gets an error naming the field by its path (`providers.cohorts.1.capexUsd: must be ≥ 0`),
// never a NaN deep inside a run. docs/tokenomics.md documents each field; presets/ has examples.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';

const nonneg = z.number().finite().nonnegative();
const positive = z.number().finite().positive();
const fraction = z.number().finite().min(0).max(1);
const epochIndex = z.number().int().nonnegative().max(10_000_000);
/** Whole tokens, as a number or a decimal string (large supplies exceed 2^53 in units, not in tokens). */
const tokens = z.union([
  nonneg.lt(1e21, 'must be below 1e21 as a number (write larger amounts as a decimal string)'),
  z.string().regex(/^\d+(\.\d{1,18})?$/, 'must be a decimal number of tokens'),
]);

const cohortSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be 1-32 of a-z, 0-9 and "-"'),
    /** Providers at the start. */
    initial: z.number().int().nonnegative().max(10_000_000),
    /** Service units one new provider delivers per epoch (GPU-hours, TB-epochs, coverage). */
    capacity: positive,
    /** USD to build one (hardware); with `stakeTokens`, the stake is bought on top at the price of the day. */
    capexUsd: nonneg,
    opexUsdPerEpoch: nonneg,
    /** Epochs the hardware lasts; the capex is amortized over it and the provider leaves at its end. */
    lifetimeEpochs: z.number().int().positive(),
    /** Share of capacity lost per epoch (wear). */
    depreciationPerEpoch: fraction.default(0),
    /** Epochs from the decision to build to the first reward. */
    buildLagEpochs: z.number().int().nonnegative().default(0),
    /** Largest share of the cohort's size that starts building in one epoch, reached at a 100% margin. */
    entryRate: fraction.default(0.02),
    /** Providers that may start when the cohort is empty (a new network still attracts a few). */
    entryFloor: z.number().int().nonnegative().default(1),
    /** From this many epochs in a row at a loss on, a provider may leave... */
    exitAfterUnprofitable: z.number().int().positive().default(30),
    /** ...with this probability in each such losing epoch. */
    exitProbability: fraction.default(0.1),
    /** Share of each epoch's reward the provider sells at once (the rest it holds). */
    sellShare: fraction.default(0.5),
    /** Hexes (regions) its providers are placed in, uniformly: the hex-density mechanism scales by them. */
    hexes: z.number().int().positive().max(1_000_000).default(1),
  })
  .strict();

const regimeSchema = z.discriminatedUnion('kind', [
  z
    .object({ kind: z.literal('growth'), from: epochIndex.default(0), to: epochIndex.optional(), ratePerEpoch: z.number().finite().gt(-1) })
    .strict(),
  z.object({ kind: z.literal('decay'), from: epochIndex.default(0), to: epochIndex.optional(), ratePerEpoch: fraction }).strict(),
  z
    .object({ kind: z.literal('seasonal'), amplitude: fraction, periodEpochs: z.number().int().positive(), phase: z.number().default(0) })
    .strict(),
  z.object({ kind: z.literal('shock'), at: epochIndex, multiplier: nonneg }).strict(),
]);

const mechanismSchema = z.discriminatedUnion('kind', [
  /** The deployed Emissions schedule (decay or halving), nothing else. */
  z.object({ kind: z.literal('schedule') }).strict(),
  /** Pure burn-and-mint: a fixed mint per epoch, independent of burns (Render, RNP-001). */
  z.object({ kind: z.literal('bme'), mintPerEpoch: tokens }).strict(),
  /** Helium HIP-20 net emissions: the schedule plus burned tokens re-minted up to a cap, through a pool. */
  z
    .object({
      kind: z.literal('net-emissions'),
      remintShare: fraction.default(1),
      capPerEpoch: tokens,
      /** The pool releases 1/smoothingEpochs of its balance each epoch (HIP-20: 336). */
      smoothingEpochs: z.number().int().positive().default(336),
    })
    .strict(),
  /** BitRobot: the schedule until `fromEpoch`, then `factor` × the mean burn of the last `windowEpochs`. */
  z
    .object({
      kind: z.literal('burn-indexed'),
      fromEpoch: epochIndex,
      factor: nonneg.default(0.9),
      windowEpochs: z.number().int().positive().default(12),
    })
    .strict(),
  /** The schedule, and a share of consumers' USD spend buys tokens on the market and burns them. */
  z.object({ kind: z.literal('buyback'), shareOfFees: fraction }).strict(),
]);

export const scenarioSchema = z
  .object({
    name: z.string().min(1).max(100),
    description: z.string().max(2000).default(''),
    seed: z.number().int().nonnegative().max(0xffffffff).default(1),
    epochs: z.number().int().positive().max(100_000),
    /** Seconds per epoch (a day by default): rates and calibrations read in epochs. */
    epochSeconds: z.number().int().positive().default(86_400),
    token: z
      .object({
        initialSupply: tokens,
        cap: tokens,
        initialPrice: positive,
        /** Price below which the market does not go (0: none). */
        floorPrice: nonneg.default(0),
      })
      .strict(),
    /** The Emissions contract's constructor arguments. */
    emissions: z
      .object({
        initialEpochEmission: tokens,
        decayNumerator: z.number().int().nonnegative(),
        decayDenominator: z.number().int().positive(),
        decayPeriodEpochs: z.number().int().positive(),
      })
      .strict(),
    mechanism: mechanismSchema.default({ kind: 'schedule' }),
    /** Share of a network's budget paid for usage (the rest by proof scores), as the plug-in's usageShareBps. */
    usageShareBps: z.number().int().min(0).max(10_000).default(5_000),
    /** Stake each provider locks while it serves (bought at entry, sold at exit). */
    stakeTokens: tokens.default(0),
    /** HIP-17-style density scaling: a hex with more than `targetPerHex` providers scales their scores by target/count. */
    hexDensity: z.object({ targetPerHex: z.number().int().positive() }).strict().optional(),
    providers: z.object({ cohorts: z.array(cohortSchema).min(1).max(32) }).strict(),
    demand: z
      .object({
        /** Consumers' USD spend per epoch at the start, before regimes and noise. */
        initialUsdPerEpoch: nonneg,
        /** What one service unit costs the consumer, in USD: spend beyond capacity × price goes unserved. */
        usdPerUnit: positive,
        /** Log-normal noise on each epoch's demand (σ). */
        noise: nonneg.default(0),
        regimes: z.array(regimeSchema).max(64).default([]),
        /** Demand × (price / initial price)^price: a rising token draws attention (0: none). */
        priceElasticity: z.number().finite().default(0),
        /** Demand × (capacity / initial capacity)^capacity: a bigger network draws users (0: none). */
        capacityElasticity: z.number().finite().default(0),
      })
      .strict(),
    price: z
      .discriminatedUnion('model', [
        /**
         * Equation of exchange: holders keep `holdingEpochs` of served demand in tokens,
         * P = D × H / circulating. Without it, H is the one that makes the first epoch's price the
         * initial price (H = P₀ × circulating₀ / D₀).
         */
        z.object({ model: z.literal('fundamental'), holdingEpochs: positive.optional() }).strict(),
        /** The fundamental price blended with momentum: P = (1 − λ)·P_f + λ·P₋₁·(1 + r₋₁). */
        z.object({ model: z.literal('momentum'), holdingEpochs: positive.optional(), lambda: fraction.default(0.3) }).strict(),
        /**
         * A constant-product pool (x·y = k) of `usdDepth` USD and as many tokens at the initial
         * price; burns buy from it, sales sell into it, and each epoch arbitrageurs close
         * `arbitrage` of the (log) gap between the pool's price and the fundamental one.
         */
        z
          .object({ model: z.literal('amm'), usdDepth: positive, arbitrage: fraction.default(0.2), holdingEpochs: positive.optional() })
          .strict(),
      ])
      .default({ model: 'fundamental' }),
    /** Unlocks sold on the market, and other sell (or buy) shocks, in tokens. */
    shocks: z
      .array(z.object({ at: epochIndex, sellTokens: tokens.default(0), unlockTokens: tokens.default(0) }).strict())
      .max(256)
      .default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (toUnits(s.token.initialSupply) > toUnits(s.token.cap))
      ctx.addIssue({ code: 'custom', path: ['token', 'initialSupply'], message: 'must not be above token.cap' });
    if (s.emissions.decayNumerator > s.emissions.decayDenominator)
      ctx.addIssue({ code: 'custom', path: ['emissions', 'decayNumerator'], message: 'must not be above decayDenominator' });
    const names = new Set<string>();
    s.providers.cohorts.forEach((c, i) => {
      if (names.has(c.name))
        ctx.addIssue({ code: 'custom', path: ['providers', 'cohorts', i, 'name'], message: `${c.name} is used twice` });
      names.add(c.name);
    });
  });

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Cohort = Scenario['providers']['cohorts'][number];
export type Mechanism = Scenario['mechanism'];

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

/** Token amounts in units (1e18 per token), exactly, from a number or a decimal string. */
export function toUnits(t: number | string): bigint {
  // toFixed writes 1e21 and above in exponent form; whole numbers go through BigInt directly.
  if (typeof t === 'number' && Number.isInteger(t)) return BigInt(t) * 10n ** 18n;
  const text = typeof t === 'number' ? t.toFixed(18) : t;
  const [whole, frac = ''] = text.split('.');
  return BigInt(whole!) * 10n ** 18n + BigInt((frac + '0'.repeat(18)).slice(0, 18));
}

/** A checked scenario from parsed YAML/JSON, or a ScenarioError naming the first wrong field. */
export function parseScenario(raw: unknown, source = 'scenario'): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ScenarioError(`${source}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return parsed.data;
}

/** Reads a scenario file (YAML, of which JSON is a subset), checked. */
export function loadScenario(file: string): Scenario {
  return parseScenario(readScenarioInput(file), file);
}

/** A scenario file as written, before checks and defaults: what sweeps and overrides change. */
export function readScenarioInput(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ScenarioError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseScenarioYaml(text, file);
}

export function parseScenarioYaml(text: string, source = 'scenario'): unknown {
  try {
    return parseYaml(text, { prettyErrors: true, maxAliasCount: 100 });
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message.split('\n')[0] : (err as Error).message;
    throw new ScenarioError(`${source}: not YAML: ${detail}`);
  }
}

export function parseScenarioText(text: string, source = 'scenario'): Scenario {
  return parseScenario(parseScenarioYaml(text, source), source);
}

/** The shipped presets (presets/*.yaml), by name. */
export const PRESETS_DIR = fileURLToPath(new URL('../presets/', import.meta.url));
export function presetNames(): string[] {
  return readdirSync(PRESETS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Sets `path` (dot-separated, numbers index arrays) in a copy of the scenario's input: what sweeps vary. */
export function withParameter(input: unknown, path: string, value: unknown): unknown {
  const copy = structuredClone(input) as Record<string, unknown>;
  const keys = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const [i, k] of keys.entries()) {
    if (i === keys.length - 1) {
      at[k] = value;
      break;
    }
    const next = at[k];
    if (typeof next !== 'object' || next === null)
      throw new ScenarioError(`sweep: ${keys.slice(0, i + 1).join('.')} is not in the scenario`);
    at = next as Record<string, unknown>;
  }
  return copy;
}
