// `groundwork simulate` through main(argv, io): a preset's run and its files, --json as only JSON,
// a Monte Carlo and a sweep, and bad input (a wrong field, no such file, a bad flag).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { run } from './helpers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gw-cli-simulate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a preset runs, prints its verdict and writes the CSV, charts, report and result', async () => {
  const out = path.join(dir, 'run');
  const r = await run(['simulate', 'death-spiral', '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^death-spiral: death-spiral at epoch \d+/);
  assert.match(r.out, /providers +2000 → \d+/);
  for (const f of ['series.csv', 'report.html', 'result.json', 'charts/price.svg', 'charts/providers.svg'])
    assert.ok(existsSync(path.join(out, f)), f);
  assert.equal(readFileSync(path.join(out, 'series.csv'), 'utf8').trimEnd().split('\n').length, 366);
});

test('--json prints one JSON document and nothing else', async () => {
  const r = await run(['simulate', 'render-bme', '--epochs', '20', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as { series: unknown[]; verdict: { kind: string } };
  assert.equal(j.series.length, 20);
  const mc = await run(['simulate', 'death-spiral', '--epochs', '60', '--runs', '4', '--workers', '0', '--json']);
  assert.equal(mc.code, 0, mc.err);
  assert.equal((JSON.parse(mc.out) as { runs: unknown[] }).runs.length, 4);
});

test('a sweep prints each point and the sensitivity ranking', async () => {
  const r = await run([
    'simulate',
    'render-bme',
    '--epochs',
    '30',
    '--runs',
    '2',
    '--workers',
    '0',
    '--sweep',
    'mechanism.mintPerEpoch=1000,50000',
    '--metric',
    'finalSupply',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /mechanism\.mintPerEpoch=1000: flywheel/);
  assert.match(r.out, /sensitivity[^\n]*\n {2}mechanism\.mintPerEpoch +/);
});

test('bad input: the wrong field is named, a missing file or bad flag is a usage error', async () => {
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    readFileSync(new URL('../../tokenomics/presets/death-spiral.yaml', import.meta.url), 'utf8').replace('capexUsd: 1500', 'capexUsd: -5'),
  );
  const r = await run(['simulate', bad]);
  assert.equal(r.code, 1);
  assert.equal(r.err.trim(), `error: ${bad}: providers.cohorts.0.capexUsd: Too small: expected number to be >=0`);
  const missing = await run(['simulate', 'no-such-preset']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /no scenario file no-such-preset and no preset of that name \(presets: .*render-bme/);
  const sweep = await run(['simulate', 'render-bme', '--sweep', 'epochs']);
  assert.equal(sweep.code, 2);
  assert.match(sweep.err, /--sweep must be <path>=<v1>,<v2>…/);
  const metric = await run(['simulate', 'render-bme', '--metric', 'vibes']);
  assert.equal(metric.code, 2);
  const list = await run(['simulate', '--presets']);
  assert.equal(list.code, 0);
  assert.match(list.out, /^burn-indexed +Monthly epochs/m);
});
