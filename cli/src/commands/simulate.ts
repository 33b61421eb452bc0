// `groundwork simulate`: the tokenomics simulator (@groundwork/tokenomics) on a scenario file or a
// shipped preset: one run with its report, a seeded Monte Carlo, parameter sweeps with a
// sensitivity table, or an A/B comparison of two scenarios under the same seeds.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { flag, integer, list, optional, parseFlags } from '../args.ts';
import { helpFlag, jsonFlag, type Command } from '../command.ts';
import { CliError, line, printJson, UsageError, type Io } from '../io.ts';

type Tokenomics = typeof import('@groundwork/tokenomics');

export const SIMULATE_USAGE = `usage: groundwork simulate <scenario.yaml | preset> [--out <dir>] [--runs <n>] [--sweep <path>=<v1>,<v2>…]… [--compare <scenario | preset>] [--json]

Runs a network's epochs under the real emission schedule (the Emissions contract's integers), the
oracle's reward split and burn-and-mint, with providers entering and leaving by profit, demand
regimes and a price model (docs/tokenomics.md has the file format). One run prints its verdict
(flywheel, equilibrium or death spiral, with the epoch it tipped) and its figures; --runs gives a
seeded Monte Carlo; --sweep varies one parameter at a time and ranks them by effect; --compare
runs a second scenario under the same seeds.

options:
  --out <dir>             write series.csv, the charts (*.svg), report.html and result.json there
  --runs <n>              Monte Carlo: n runs with seeds seed, seed + 1, … (default 1; 20 with --compare or --sweep)
  --seed <n>              the first seed (default: the scenario's)
  --epochs <n>            run this many epochs instead of the scenario's
  --sweep <path>=<values> vary a field (dot path, e.g. mechanism.mintPerEpoch=10000,25000) over
                          comma-separated values; repeat for more fields
  --metric <name>         what the sweep ranks by: finalPrice (default), finalProviders, meanBurnMint, finalSupply
  --compare <scenario>    a second scenario (or preset) to run under the same seeds
  --workers <n>           worker threads for many runs (default: one per core)
  --presets               list the shipped presets and exit
${jsonFlag(24)}
${helpFlag(24)}`;

type Options = {
  scenario: string | null;
  out: string | null;
  runs: number | null;
  seed: number | null;
  epochs: number | null;
  sweeps: { path: string; values: unknown[] }[];
  metric: 'finalPrice' | 'finalProviders' | 'meanBurnMint' | 'finalSupply';
  compare: string | null;
  workers: number | null;
  presets: boolean;
  json: boolean;
};

const METRICS = ['finalPrice', 'finalProviders', 'meanBurnMint', 'finalSupply'] as const;

function parse(argv: string[]): Options {
  const f = parseFlags(
    argv,
    {
      out: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      epochs: { type: 'string' },
      sweep: { type: 'string', multiple: true },
      metric: { type: 'string' },
      compare: { type: 'string' },
      workers: { type: 'string' },
      presets: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    1,
  );
  const num = (name: string, o: { min?: number; max?: number }) => {
    const v = optional(f, name);
    return v === undefined ? null : integer(name, v, o);
  };
  const metric = optional(f, 'metric') ?? 'finalPrice';
  if (!(METRICS as readonly string[]).includes(metric))
    throw new UsageError(`--metric must be one of ${METRICS.join(', ')}, got ${JSON.stringify(metric)}`);
  const presets = flag(f, 'presets');
  const scenario = f.positionals[0] ?? null;
  if (!scenario && !presets) throw new UsageError('missing <scenario.yaml | preset>');
  return {
    scenario,
    out: optional(f, 'out') ?? null,
    runs: num('runs', { min: 1, max: 1_000_000 }),
    seed: num('seed', { min: 0, max: 0xffffffff }),
    epochs: num('epochs', { min: 1, max: 100_000 }),
    sweeps: list(f, 'sweep').map(sweepArg),
    metric: metric as Options['metric'],
    compare: optional(f, 'compare') ?? null,
    workers: num('workers', { min: 0, max: 256 }),
    presets,
    json: flag(f, 'json'),
  };
}

function sweepArg(v: string): { path: string; values: unknown[] } {
  const m = /^([A-Za-z][\w.]*)=(.+)$/.exec(v);
  if (!m) throw new UsageError(`--sweep must be <path>=<v1>,<v2>…, got ${JSON.stringify(v)}`);
  const values = m[2]!.split(',').map((x) => {
    try {
      return JSON.parse(x) as unknown;
    } catch {
      return x;
    }
  });
  if (values.length < 2) throw new UsageError(`--sweep ${m[1]}: give at least two values, comma-separated`);
  return { path: m[1]!, values };
}

function resolve(t: Tokenomics, ref: string): string {
  if (existsSync(ref)) return ref;
  if (/^[a-z0-9-]+$/.test(ref) && t.presetNames().includes(ref)) return path.join(t.PRESETS_DIR, `${ref}.yaml`);
  throw new UsageError(
    `no scenario file ${ref}${/^[a-z0-9-]+$/.test(ref) ? ` and no preset of that name (presets: ${t.presetNames().join(', ')})` : ''}`,
  );
}

/** The scenario as written, with the command line's overrides, checked once (a ScenarioError names the field). */
function input(t: Tokenomics, ref: string, o: Options): { raw: unknown; name: string } {
  let raw = t.readScenarioInput(resolve(t, ref));
  if (o.epochs !== null) raw = t.withParameter(raw, 'epochs', o.epochs);
  if (o.seed !== null) raw = t.withParameter(raw, 'seed', o.seed);
  return { raw, name: t.parseScenario(raw, ref).name };
}

function write(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name);
    writeFileSync(`${file}.partial`, text);
    renameSync(`${file}.partial`, file);
  }
}

const fmt = (x: number) => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toPrecision(4));

async function run(o: Options, io: Io): Promise<number> {
  const t: Tokenomics = await import('@groundwork/tokenomics');
  if (o.presets) {
    for (const name of t.presetNames()) {
      const s = t.loadScenario(path.join(t.PRESETS_DIR, `${name}.yaml`));
      line(io.stdout, `${name.padEnd(24)} ${s.description}`);
    }
    return 0;
  }
  try {
    const a = input(t, o.scenario!, o);
    const experiment = o.sweeps.length || o.compare || (o.runs ?? 1) > 1;
    const runs = o.runs ?? (experiment ? 20 : 1);
    const ex = { runs, workers: o.workers ?? undefined, seed: o.seed ?? undefined };
    if (o.compare) {
      const b = input(t, o.compare, o);
      const r = await t.compare(a.raw, b.raw, ex);
      if (o.out) write(o.out, { 'compare.json': `${JSON.stringify({ names: { a: a.name, b: b.name }, ...r }, null, 2)}\n` });
      if (o.json) printJson(io, { a: { name: a.name, ...r.a }, b: { name: b.name, ...r.b } });
      else {
        line(io.stdout, `A/B over ${runs} seeds`);
        for (const [label, name, g] of [
          ['A', a.name, r.a],
          ['B', b.name, r.b],
        ] as const)
          line(io.stdout, `  ${label} ${name}: ${aggregateLine(g)}`);
      }
      return 0;
    }
    if (o.sweeps.length) {
      const r = await t.sweep(a.raw, o.sweeps, { ...ex, metric: o.metric });
      if (o.out)
        write(o.out, {
          'sweep.csv': `path,value,runs,flywheel,equilibrium,death-spiral,${o.metric}.p5,${o.metric}.p50,${o.metric}.p95\n${r.points
            .map((p) => {
              const g = p.aggregate;
              return [
                p.path,
                JSON.stringify(p.value),
                g.runs,
                g.verdicts.flywheel,
                g.verdicts.equilibrium,
                g.verdicts['death-spiral'],
                g[o.metric].p5,
                g[o.metric].p50,
                g[o.metric].p95,
              ].join(',');
            })
            .join('\n')}\n`,
          'sensitivity.json': `${JSON.stringify(r.sensitivity, null, 2)}\n`,
        });
      if (o.json) printJson(io, r);
      else {
        line(io.stdout, `sweep of ${a.name}, ${runs} seeds per point, ranked by the median ${o.metric}`);
        for (const p of r.points) line(io.stdout, `  ${p.path}=${JSON.stringify(p.value)}: ${aggregateLine(p.aggregate)}`);
        line(io.stdout, 'sensitivity (median range, largest first):');
        for (const s of r.sensitivity) line(io.stdout, `  ${s.path.padEnd(36)} ${fmt(s.low)} … ${fmt(s.high)}  (swing ${fmt(s.swing)})`);
      }
      return 0;
    }
    if (runs > 1) {
      const r = await t.monteCarlo(a.raw, ex);
      if (o.out)
        write(o.out, {
          'runs.csv': `seed,verdict,tippedAt,finalPrice,minPrice,finalProviders,peakProviders,meanBurnMint,finalSupply\n${r.runs
            .map((x) =>
              [
                x.seed,
                x.verdict,
                x.tippedAt ?? '',
                x.finalPrice,
                x.minPrice,
                x.finalProviders,
                x.peakProviders,
                x.meanBurnMint,
                x.finalSupply,
              ].join(','),
            )
            .join('\n')}\n`,
          'aggregate.json': `${JSON.stringify(r.aggregate, null, 2)}\n`,
        });
      if (o.json) printJson(io, r);
      else line(io.stdout, `${a.name}, ${runs} seeds: ${aggregateLine(r.aggregate)}`);
      return 0;
    }
    const scenario = t.parseScenario(a.raw, o.scenario!);
    const result = t.runScenario(scenario);
    if (o.out) {
      write(o.out, {
        'series.csv': t.seriesCsv(result),
        'report.html': t.htmlReport(result),
        'result.json': `${JSON.stringify(result)}\n`,
      });
      write(path.join(o.out, 'charts'), t.charts(result));
    }
    if (o.json) printJson(io, result);
    else {
      const first = result.series[0]!;
      const last = result.series.at(-1)!;
      line(
        io.stdout,
        `${scenario.name}: ${result.verdict.kind}${result.verdict.epoch === null ? '' : ` at epoch ${result.verdict.epoch}`} (${result.verdict.reason})`,
      );
      line(
        io.stdout,
        `  price       ${fmt(first.price)} → ${fmt(last.price)} USD (BME equilibrium now ${last.equilibriumPrice === null ? '-' : fmt(last.equilibriumPrice)})`,
      );
      line(io.stdout, `  supply      ${fmt(first.supply)} → ${fmt(last.supply)} tokens`);
      line(
        io.stdout,
        `  providers   ${first.providers} → ${last.providers} (${Object.entries(last.byCohort)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')})`,
      );
      line(
        io.stdout,
        `  burn/mint   ${first.burnMintRatio === null ? '-' : fmt(first.burnMintRatio)} → ${last.burnMintRatio === null ? '-' : fmt(last.burnMintRatio)}`,
      );
      if (o.out) line(io.stdout, `  report      ${path.join(o.out, 'report.html')}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof t.ScenarioError) throw new CliError(err.message);
    throw err;
  }
}

function aggregateLine(g: import('@groundwork/tokenomics').Aggregate): string {
  const v = g.verdicts;
  return `flywheel ${v.flywheel}, equilibrium ${v.equilibrium}, death spiral ${v['death-spiral']}; final price p5/p50/p95 ${fmt(g.finalPrice.p5)}/${fmt(g.finalPrice.p50)}/${fmt(g.finalPrice.p95)}; providers p50 ${g.finalProviders.p50}`;
}

export const simulateCommands: Command[] = [
  {
    name: 'simulate',
    summary: 'tokenomics: run a scenario on the real reward code',
    usage: SIMULATE_USAGE,
    run: (argv, io) => run(parse(argv), io),
  },
];
