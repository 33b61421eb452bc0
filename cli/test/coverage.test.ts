// `groundwork coverage ...` through main(argv, io), without a devnet: bad command lines exit 2
// with one error line naming the flag or argument and change nothing (the sensor file is left as
// it was); an oracle that is not there is a clear error (exit 1). The commands against a running
// network are exercised by the devnet (sim/test/start.test.ts runs the coverage city).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { devnetAccounts } from '@groundwork/contracts';
import { run, writeFakeDeployment } from './helpers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gw-cli-coverage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const deployment = path.join(dir, 'deployment.json');
const chain = [
  '--oracle',
  'http://127.0.0.1:9',
  '--deployment',
  deployment,
  '--rpc',
  'http://127.0.0.1:9',
  '--key',
  devnetAccounts(5).privateKey,
];
const sensorFile = path.join(dir, 'sensor.json');
const send = (...extra: string[]) =>
  run(['coverage', 'send', 'hi', '--sensor', sensorFile, '--air', 'http://127.0.0.1:9', '--at', '37.77,-122.41', ...chain, ...extra]);

test('the group and its commands', async () => {
  const r = await run(['coverage']);
  assert.equal(r.code, 2);
  assert.match(r.err, /missing coverage command/);
  const help = await run(['coverage', 'send', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /1 credit per 24 bytes/);
});

test('bad command lines exit 2 naming what is wrong', async () => {
  const cases: [string[], RegExp][] = [
    [['coverage', 'hex', '--oracle', 'http://127.0.0.1:9'], /missing <cell>/],
    [['coverage', 'hex', 'nothex', '--oracle', 'http://127.0.0.1:9'], /<cell> must be an H3 cell index/],
    [['coverage', 'hex', '872830828ffffff'], /--oracle/],
    [['coverage', 'hotspots', '--oracle', 'ftp://x'], /--oracle/],
    [['coverage', 'send', 'hi', '--air', 'http://127.0.0.1:9', '--at', '1,1', ...chain], /--sensor/],
    [['coverage', 'send', 'x'.repeat(256), '--sensor', sensorFile, '--air', 'http://127.0.0.1:9', '--at', '1,1', ...chain], /at most 255/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
  }
  for (const at of ['91,0', '1;2', 'north']) {
    const r = await send('--at', at);
    assert.equal(r.code, 2);
    assert.match(r.err, /--at must be <lat>,<lng>/);
  }
});

test('a deployment without the network is named; a damaged sensor file is refused and left as it was', async () => {
  writeFakeDeployment(deployment, ['uptime']);

  const r = await send();
  assert.equal(r.code, 2);
  assert.match(r.err, /has no coverage network/);
  writeFakeDeployment(deployment, ['coverage']);
  for (const [content, message] of [
    ['{not json', /not JSON/],
    ['{"sensor":"xyz","key":"00","fcnt":0,"allowance":"0x"}', /"sensor" must be 16 hex digits/],
    [
      `{"sensor":"${'a'.repeat(16)}","key":"${'0'.repeat(32)}","fcnt":-1,"allowance":"0x${'1'.repeat(64)}"}`,
      /"fcnt" must be a whole number/,
    ],
  ] as const) {
    writeFileSync(sensorFile, content);
    const s = await send();
    assert.equal(s.code, 2, s.err);
    assert.match(s.err, message);
    assert.equal(readFileSync(sensorFile, 'utf8'), content, 'the sensor file is untouched');
  }
});

test('an oracle that is not there: exit 1 with the flag to fix', async () => {
  const r = await run(['coverage', 'hotspots', '--oracle', 'http://127.0.0.1:9']);
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot reach the oracle at --oracle http:\/\/127\.0\.0\.1:9/);
});
