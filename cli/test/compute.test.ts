// `groundwork compute ...` through main(argv, io), without a devnet: bad command lines and bad
// inputs (a missing or malformed spec, a bad scene, bad flags) exit 2 with one error line naming
// the flag or the spec's field, then the usage, and do nothing; an unreachable oracle exits 1.
// The commands against a running network are covered by the devnet's compute test.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { devnetAccounts } from '@groundwork/contracts';
import { run, writeFakeDeployment } from './helpers.ts';
import { parseFrames, parseRender, parseSubmit } from '../src/commands/compute.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gw-cli-compute-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY = devnetAccounts(5).privateKey;
const JOB = `0x${'12'.repeat(32)}`;
const deploymentFile = path.join(dir, 'deployment.json');
const uptimeOnlyFile = path.join(dir, 'uptime-only.json');
const f = (name: string, text: string | Uint8Array) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
// The smallest WebAssembly module (magic and version): enough for the spec's checks.
const WASM = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
const SPEC = ['version: "groundwork/job@1"', 'program: ./p.wasm', 'resources: { fuel: 1e6 }', 'maxPrice: 0.5', ''].join('\n');
const SCENE = {
  width: 8,
  height: 8,
  frames: 4,
  camera: { position: [0, 1, 5], lookAt: [0, 0, 0] },
  objects: [{ type: 'sphere', center: [0, 0, 0], radius: 1, material: { type: 'diffuse', color: [1, 0, 0] } }],
};

before(() => {
  // Well-formed deployment files for a chain that does not exist (argument checks only).
  writeFakeDeployment(deploymentFile, ['uptime', 'compute']);
  writeFakeDeployment(uptimeOnlyFile, ['uptime']);
  f('p.wasm', WASM);
  f('good.yaml', SPEC);
  f('scene.json', JSON.stringify(SCENE));
});

describe('groundwork compute: bad command lines and inputs exit 2, naming the flag or the field', () => {
  const CHAIN = () => ['--oracle', 'http://127.0.0.1:1', '--deployment', deploymentFile, '--rpc', 'http://127.0.0.1:1', '--key', KEY];
  const cases: [string, () => string[], RegExp][] = [
    ['compute submit', () => CHAIN(), /missing <spec> \(the job spec, a job\.yaml file\)/],
    ['compute submit', () => [path.join(dir, 'nope.yaml'), ...CHAIN()], /<spec> .*nope\.yaml: no such file/],
    ['compute submit', () => [dir, ...CHAIN()], /<spec> .*: not a file/],
    [
      'compute submit',
      () => [f('fule.yaml', SPEC.replace('fuel: 1e6', 'fuel: 1e6, fule: 2')), ...CHAIN()],
      /fule\.yaml: resources\.fule: unknown field \(known here: memory, fuel, output\) \(line 3, column \d+\)/,
    ],
    ['compute submit', () => [f('noprice.yaml', SPEC.replace('maxPrice: 0.5\n', '')), ...CHAIN()], /maxPrice: is required/],
    ['compute submit', () => [f('syntax.yaml', `${SPEC}tasks: [1, 2\n`), ...CHAIN()], /syntax\.yaml: line \d+, column \d+: /],
    [
      'compute submit',
      () => [f('noprog.yaml', SPEC.replace('./p.wasm', './missing.wasm')), ...CHAIN()],
      /program: file \.\/missing\.wasm not found/,
    ],
    [
      'compute submit',
      () => [f('env.yaml', `${SPEC}env: { A: "1" }\n`), ...CHAIN()],
      /env\.yaml: env: the compute network does not pass environment variables/,
    ],
    ['compute submit', () => [path.join(dir, 'good.yaml'), ...CHAIN().slice(2)], /missing --oracle/],
    ['compute submit', () => [path.join(dir, 'good.yaml'), ...CHAIN(), '--timeout', '5'], /--timeout needs --wait/],
    ['compute submit', () => [path.join(dir, 'good.yaml'), ...CHAIN(), '--wait', '--timeout', 'soon'], /--timeout must be a whole number/],
    ['compute submit', () => [path.join(dir, 'good.yaml'), ...CHAIN().slice(0, -2)], /missing --key \(or --key-file\)/],
    [
      'compute submit',
      () => [path.join(dir, 'good.yaml'), ...CHAIN().slice(0, 2), '--deployment', uptimeOnlyFile, ...CHAIN().slice(4)],
      /--deployment .*uptime-only\.json has no compute network \(it has uptime\)/,
    ],
    ['compute submit', () => [path.join(dir, 'good.yaml'), 'extra.yaml', ...CHAIN()], /unexpected argument "extra\.yaml"/],
    ['compute status', () => ['--oracle', 'http://127.0.0.1:1'], /missing <job>/],
    ['compute status', () => ['0x12', '--oracle', 'http://127.0.0.1:1'], /<job> must be 0x followed by 64 hex digits, got "0x12"/],
    ['compute status', () => [JOB], /missing --oracle/],
    ['compute jobs', () => ['--oracle', 'http://127.0.0.1:1'], /missing --consumer \(or --key \/ --key-file\)/],
    ['compute jobs', () => ['--consumer', '0x1', '--oracle', 'http://127.0.0.1:1'], /--consumer must be a 0x-prefixed 20-byte address/],
    [
      'compute jobs',
      () => ['--consumer', devnetAccounts(5).address, '--key', KEY, '--oracle', 'http://x'],
      /give --consumer or --key, not both/,
    ],
    ['compute result', () => [JOB, '--oracle', 'http://127.0.0.1:1'], /missing --out/],
    ['compute result', () => [JOB, '--oracle', 'http://127.0.0.1:1', '--out', ''], /--out must not be empty/],
    ['compute cancel', () => [JOB, '--rpc', 'http://127.0.0.1:1', '--key', KEY], /missing --deployment/],
    [
      'compute cancel',
      () => [JOB, '--deployment', deploymentFile, '--rpc', 'http://127.0.0.1:1', '--key', '0x1'],
      /--key must be 0x followed by 64 hex digits/,
    ],
    ['compute reclaim', () => ['nope', '--deployment', deploymentFile, '--rpc', 'http://127.0.0.1:1', '--key', KEY], /<job> must be 0x/],
    ['compute reject', () => [JOB, '--oracle', 'http://127.0.0.1:1', '--deployment', deploymentFile, '--key', KEY], /missing --tasks/],
    [
      'compute reject',
      () => [JOB, '--tasks', '1,x', '--oracle', 'http://127.0.0.1:1', '--deployment', deploymentFile, '--key', KEY],
      /--tasks must be a whole number/,
    ],
    [
      'compute accept',
      () => [JOB, '--tasks', '-1', '--oracle', 'http://127.0.0.1:1', '--deployment', deploymentFile, '--key', KEY],
      /--tasks/,
    ],
    ['compute accept', () => [JOB, '--oracle', 'http://127.0.0.1:1', '--key', KEY], /missing --deployment/],
    ['compute accept', () => [JOB, '--deployment', deploymentFile, '--key', KEY], /missing --oracle/],
    ['compute render', () => [path.join(dir, 'scene.json'), ...CHAIN()], /missing --out/],
    ['compute render', () => [path.join(dir, 'nope.json'), '--out', dir, ...CHAIN()], /<scene> .*nope\.json: no such file/],
    [
      'compute render',
      () => [
        f('bad-scene.json', JSON.stringify({ ...SCENE, camera: { position: [0, 0, 0], lookAt: [0, 0, 0] } })),
        '--out',
        dir,
        ...CHAIN(),
      ],
      /<scene> .*bad-scene\.json: scene\.camera\.lookAt: must differ from camera\.position/,
    ],
    ['compute render', () => [f('not-json.json', '{'), '--out', dir, ...CHAIN()], /<scene> .*not-json\.json: scene: invalid JSON/],
    [
      'compute render',
      () => [path.join(dir, 'scene.json'), '--out', dir, ...CHAIN(), '--frames', '1-9'],
      /--frames 1-9 goes past the scene's last frame, 4/,
    ],
    [
      'compute render',
      () => [path.join(dir, 'scene.json'), '--out', dir, ...CHAIN(), '--frames', 'all'],
      /--frames must be frame numbers or ranges/,
    ],
    [
      'compute render',
      () => [path.join(dir, 'scene.json'), '--out', dir, ...CHAIN(), '--max-price', 'cheap'],
      /--max-price must be a number/,
    ],
    [
      'compute render',
      () => [path.join(dir, 'scene.json'), '--out', dir, ...CHAIN(), '--max-price', '0.0000001'],
      /--max-price "0\.0000001": .*more than 6 decimal places/,
    ],
    [
      'compute render',
      () => [path.join(dir, 'scene.json'), '--out', dir, ...CHAIN(), '--spot-check', '2'],
      /--spot-check "2": 2 is not between 0 and 1/,
    ],
    [
      'compute render',
      () => [path.join(dir, 'scene.json'), '--out', dir, ...CHAIN(), '--fuel', 'lots'],
      /--fuel "lots": "lots" is not a count/,
    ],
    [
      'compute render',
      () => [path.join(dir, 'scene.json'), '--out', dir, ...CHAIN(), '--memory', '5GiB'],
      /--memory "5GiB": 5GiB exceeds the 4GiB cap/,
    ],
    ['compute render', () => [path.join(dir, 'scene.json'), '--out', dir, ...CHAIN(), '--deadline', '10'], /--deadline "10": /],
  ];
  for (const [name, args, expected] of cases) {
    test(`${name} ${expected.source}`.slice(0, 160), async () => {
      const r = await run([...name.split(' '), ...args()]);
      assert.equal(r.code, 2, `exit code (stderr: ${r.err})`);
      const [first, blank, usage] = r.err.split('\n');
      assert.match(first!, /^error: /);
      assert.match(first!, expected);
      assert.equal(blank, '');
      assert.ok(usage!.startsWith(`usage: groundwork ${name}`), usage);
      assert.equal(r.out, '', 'nothing on stdout');
    });
  }

  test('the command group', async () => {
    const missing = await run(['compute']);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /^error: missing compute command/);
    const unknown = await run(['compute', 'fly']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /^error: unknown compute command "fly"/);
    assert.match(unknown.err, /usage: groundwork compute <command>/);
    const help = await run(['compute', '--help']);
    assert.equal(help.code, 0);
    for (const sub of ['submit', 'status', 'jobs', 'result', 'cancel', 'reclaim', 'render'])
      assert.match(help.out, new RegExp(`\\n  ${sub} `));
    const top = await run(['--help']);
    assert.match(top.out, /compute submit/);
  });

  test('parsers: defaults and conversions', () => {
    const s = parseSubmit([
      'job.yaml',
      '--oracle',
      'http://o/',
      '--deployment',
      'd',
      '--rpc',
      'http://r',
      '--key',
      KEY,
      '--wait',
      '--timeout',
      '90',
    ]);
    assert.deepEqual([s.spec, s.oracle, s.wait, s.timeoutMs, s.buyCredits], ['job.yaml', 'http://o', true, 90_000, false]);
    const r = parseRender([
      'scene.json',
      '--out',
      'frames',
      '--oracle',
      'http://o',
      '--deployment',
      'd',
      '--rpc',
      'http://r',
      '--key-file',
      'k',
    ]);
    assert.deepEqual(
      [r.maxPrice, r.spotCheck, r.fuel, r.memory, r.deadline, r.frames, r.key.file],
      ['1', '0.1', '2e9', '64MiB', '30m', undefined, 'k'],
    );
    assert.deepEqual(parseFrames('1-3,7', 10), [1, 2, 3, 7]);
    assert.deepEqual(parseFrames('5', 10), [5]);
    assert.throws(() => parseFrames('2,2', 10), /frame 2 twice/);
    assert.throws(() => parseFrames('0-3', 10), /1-based/);
    assert.throws(() => parseFrames('3-1', 10), /ends before it starts/);
  });
});

describe('groundwork compute: runtime failures exit 1 with one line', () => {
  test('an unreachable oracle names --oracle', async () => {
    const r = await run(['compute', 'status', JOB, '--oracle', 'http://127.0.0.1:1']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /^error: cannot reach the oracle at --oracle http:\/\/127\.0\.0\.1:1: /);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  });
});
