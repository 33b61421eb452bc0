// `groundwork storage ...` through main(argv, io), without a devnet: bad command lines exit 2 with
// one error line naming the flag or argument, and do nothing. The commands against a running
// network are covered by the devnet's storage test (sim/test/storage.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { devnetAccounts } from '@groundwork/contracts';
import { parseDuration, parseRedundancy } from '../src/commands/storage.ts';
import { run } from './helpers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gw-cli-storage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const file = path.join(dir, 'f.bin');
writeFileSync(file, 'hello');
const chain = [
  '--oracle',
  'http://127.0.0.1:9',
  '--deployment',
  path.join(dir, 'none.json'),
  '--rpc',
  'http://127.0.0.1:9',
  '--key',
  devnetAccounts(5).privateKey,
];

test('durations and redundancy', () => {
  assert.equal(parseDuration('30d'), 30 * 86_400);
  assert.equal(parseDuration('90m'), 5400);
  assert.equal(parseDuration('3600'), 3600);
  assert.throws(() => parseDuration('0d'), /--duration must be/);
  assert.throws(() => parseDuration('1w'), /--duration must be/);
  assert.deepEqual(parseRedundancy('4-of-8'), { k: 4, n: 8 });
  assert.throws(() => parseRedundancy('8-of-4'), /1 ≤ k < n ≤ 255/);
  assert.throws(() => parseRedundancy('4/8'), /k-of-n/);
});

test('bad command lines exit 2 naming what is wrong, before touching the network', async () => {
  const cases: [string[], RegExp][] = [
    [['storage', 'put', ...chain], /missing <file>/],
    [['storage', 'put', path.join(dir, 'nope'), ...chain], /<file> .*nope: no such file/],
    [['storage', 'put', file, ...chain, '--duration', 'soon'], /--duration must be/],
    [['storage', 'put', file, ...chain, '--redundancy', '5-of-5'], /--redundancy 5-of-5/],
    [['storage', 'put', file, ...chain.slice(0, 6)], /--key/],
    [['storage', 'get', 'not-a-cid', ...chain], /<cid\|deal> must be a CID/],
    [['storage', 'get', `0x${'1'.repeat(64)}`, ...chain, '--file-key', '0x12'], /--file-key must be/],
    [['storage', 'status', ...chain], /missing <cid\|deal>/],
    [['storage', 'put', file, ...chain], /none\.json/],
    [['storage', 'gateway', ...chain, '--access-key', 'a b'], /--access-key must be/],
    [['storage', 'gateway', ...chain, '--secret-key', 'short'], /--secret-key must be/],
    [['storage', 'gateway', ...chain, '--port', '70000'], /--port/],
  ];
  for (const [args, expected] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, expected, args.join(' '));
    assert.equal(r.out, '', 'nothing on stdout');
  }
});
