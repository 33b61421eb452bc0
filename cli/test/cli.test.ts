// The `groundwork` command, in-process through main(argv, io): every command's help and its
// refusals of bad command lines (exit 2, naming the flag, nothing done), device key files, and
// one run against a real testnet: a new provider buys credits, registers, shows up in the
// oracle, runs its agent, and an epoch verifies (and a tampered artifact does not).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseEther } from 'viem';
import { GroundworkTokenAbi, devnetAccounts, writeDeploymentFile } from '@groundwork/contracts';
import { chainSession } from '@groundwork/agent';
import { canonicalJson, type EpochArtifact } from '@groundwork/protocol';
import { startTestnet, type Testnet } from '@groundwork/sim';
import { COMMANDS } from '../src/index.ts';
import { parseDevnet } from '../src/commands/devnet.ts';
import { parseOracle } from '../src/commands/oracle.ts';
import { parseRegister, socketUrl, whyUnpaid } from '../src/commands/provider.ts';
import { parseVerify } from '../src/commands/epoch.ts';
import { type Run, run, writeFakeDeployment } from './helpers.ts';

function json<T = any>(r: Run): T {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as T;
}

const dir = mkdtempSync(path.join(tmpdir(), 'gw-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY = devnetAccounts(5).privateKey;
const fakeDeploymentFile = path.join(dir, 'fake-deployment.json');
const garbageFile = path.join(dir, 'garbage.json');
const deviceKeyFile = path.join(dir, 'device-for-parse.pem');

before(async () => {
  // A well-formed deployment file for a chain that does not exist (argument checks only).
  writeFakeDeployment(fakeDeploymentFile, ['uptime'], { escrow: false });
  writeFileSync(garbageFile, '{ not json');
  assert.equal((await run(['provider', 'init', '--key-file', deviceKeyFile])).code, 0);
});

describe('help and version', () => {
  test('groundwork --help, --version', async () => {
    const h = await run(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /^usage: groundwork <command>/);
    for (const c of COMMANDS) assert.ok(h.out.includes(c.name), `top-level help lists ${c.name}`);
    const v = await run(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.out, /^groundwork \d+\.\d+\.\d+/);
  });

  for (const c of COMMANDS) {
    test(`groundwork ${c.name} --help`, async () => {
      const r = await run([...c.name.split(' '), '--help']);
      assert.equal(r.code, 0);
      assert.ok(r.out.startsWith(`usage: groundwork ${c.name}`), r.out.slice(0, 80));
      assert.equal(r.err, '');
      // -h too, even after other flags
      assert.equal((await run([...c.name.split(' '), '--json', '-h'])).code, 0);
    });
  }

  test('command groups', async () => {
    assert.equal((await run(['provider', '--help'])).code, 0);
    const missing = await run(['provider']);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /^error: missing provider command/);
    const unknown = await run(['provider', 'fly']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown provider command "fly"/);
    const top = await run(['launch']);
    assert.equal(top.code, 2);
    assert.match(top.err, /unknown command "launch"/);
    assert.equal((await run([])).code, 2);
  });
});

describe('bad command lines: exit 2, one error line naming the flag, then the usage', () => {
  const D = ['--deployment', fakeDeploymentFile];
  const RPC = ['--rpc', 'http://127.0.0.1:1'];
  const ORACLE = ['--oracle', 'http://127.0.0.1:1'];
  const cases: [string, string[], RegExp][] = [
    ['provider init', ['--bogus'], /unknown flag --bogus/],
    ['provider init', ['--key-file'], /--key-file needs a value/],
    ['provider init', ['--json=yes'], /--json takes no value/],
    ['provider init', ['stray'], /unexpected argument "stray"/],
    [
      'provider init',
      ['--key-file', path.join(dir, 'never.pem'), '--import', path.join(dir, 'missing.pem')],
      /--import .*missing\.pem: no such file/,
    ],
    ['provider register', [...D, ...RPC, '--owner-key', KEY], /missing --key-file/],
    ['provider register', ['--key-file', deviceKeyFile, ...D, '--rpc', 'localhost:8545', '--owner-key', KEY], /--rpc must be/],
    [
      'provider register',
      ['--key-file', deviceKeyFile, ...D, ...RPC, '--owner-key', '0x1234'],
      /--owner-key must be 0x followed by 64 hex digits/,
    ],
    [
      'provider register',
      ['--key-file', deviceKeyFile, ...D, ...RPC, '--owner-key', `0x${'zz'.repeat(32)}`],
      /--owner-key must be 0x followed by 64 hex digits/,
    ],
    ['provider register', ['--key-file', deviceKeyFile, ...D, ...RPC], /missing --owner-key \(or --owner-key-file\)/],
    [
      'provider register',
      ['--key-file', deviceKeyFile, ...D, ...RPC, '--owner-key', KEY, '--owner-key-file', 'x'],
      /give --owner-key or --owner-key-file, not both/,
    ],
    [
      'provider register',
      ['--key-file', deviceKeyFile, ...D, ...RPC, '--owner-key', KEY, '--stake', 'ten'],
      /--stake must be an amount of tokens/,
    ],
    [
      'provider register',
      ['--key-file', deviceKeyFile, ...D, ...RPC, '--owner-key', KEY, '--stake', '0'],
      /--stake must be more than zero/,
    ],
    [
      'provider register',
      ['--key-file', deviceKeyFile, ...D, ...RPC, '--owner-key', KEY, '--location', 'paris'],
      /--location must be an H3 cell index/,
    ],
    [
      'provider register',
      ['--key-file', deviceKeyFile, ...D, ...RPC, '--owner-key', KEY, '--network', 'storage'],
      /--network "storage" is not a network of this deployment/,
    ],
    [
      'provider register',
      ['--key-file', deviceKeyFile, '--deployment', path.join(dir, 'nope.json'), ...RPC, '--owner-key', KEY],
      /--deployment .*nope\.json: no such file/,
    ],
    [
      'provider register',
      ['--key-file', deviceKeyFile, '--deployment', garbageFile, ...RPC, '--owner-key', KEY],
      /--deployment: cannot read deployment file/,
    ],
    [
      'provider register',
      ['--key-file', path.join(dir, 'nokey.pem'), ...D, ...RPC, '--owner-key', KEY],
      /--key-file .*nokey\.pem: no such file/,
    ],
    [
      'provider register',
      ['--key-file', deviceKeyFile, ...D, ...RPC, '--owner-key-file', path.join(dir, 'nokey.hex')],
      /--owner-key-file .*nokey\.hex: no such file/,
    ],
    ['provider start', ['--key-file', deviceKeyFile, ...D], /missing --oracle/],
    ['provider start', ['--key-file', deviceKeyFile, ...D, '--oracle', 'ftp://oracle'], /--oracle must be an http\/https URL/],
    ['provider start', ['--key-file', deviceKeyFile, '--deployment', garbageFile, ...ORACLE], /--deployment: cannot read deployment file/],
    ['provider status', [...ORACLE], /missing --key-file \(or --device\)/],
    ['provider status', ['--device', '0x12', ...ORACLE], /--device must be 0x followed by 64 hex digits/],
    [
      'provider status',
      ['--key-file', deviceKeyFile, '--device', `0x${'1'.repeat(64)}`, ...ORACLE],
      /give --key-file or --device, not both/,
    ],
    ['provider rewards', [...ORACLE], /missing --owner/],
    ['provider rewards', ['--owner', '0x1234', ...ORACLE], /--owner must be a 0x-prefixed 20-byte address/],
    ['provider rewards', ['--owner', '0xF39fd6e51aad88F6F4ce6aB8827279cffFb92266', ...ORACLE], /--owner .* has a bad checksum/],
    ['provider rewards', ['--owner', devnetAccounts(5).address], /missing --oracle/],
    ['provider claim', [...D, ...RPC, '--owner-key', KEY], /missing --oracle/],
    ['provider claim', [...D, ...RPC, ...ORACLE, '--owner-key', 'abc'], /--owner-key must be 0x/],
    ['credits buy', [...D, ...RPC, '--key', KEY], /missing --credits/],
    ['credits buy', ['--credits', '1.5', ...D, ...RPC, '--key', KEY], /--credits must be a positive whole number/],
    ['credits buy', ['--credits', '0', ...D, ...RPC, '--key', KEY], /--credits must be a positive whole number/],
    ['credits buy', ['--credits', '10', ...D, ...RPC, '--key', `0x${'0'.repeat(64)}`], /--key is not a valid secp256k1 private key/],
    ['credits buy', ['--credits', '10', ...D, ...RPC, '--key', KEY, '--owner-key', KEY], /unknown flag --owner-key/],
    ['epoch verify', [...D, ...RPC, ...ORACLE], /missing <epoch>/],
    ['epoch verify', ['three', ...D, ...RPC, ...ORACLE], /<epoch> must be a whole number or latest, got "three"/],
    ['epoch verify', ['3', '4', ...D, ...RPC, ...ORACLE], /unexpected argument "4"/],
    ['epoch verify', ['3', ...D, ...RPC], /missing --oracle \(or --artifact\)/],
    ['epoch verify', ['3', ...D, ...RPC, '--artifact', path.join(dir, 'no-artifact.json')], /--artifact .*no-artifact\.json: no such file/],
    ['oracle', [...D, ...RPC, '--quorum', '1'], /missing --signer-key/],
    ['oracle', [...D, ...RPC, '--signer-key', KEY, '--quorum', '2'], /--quorum 2 needs at least 2 --signer-key flags, got 1/],
    ['oracle', [...D, ...RPC, '--signer-key', KEY, '--quorum', 'two'], /--quorum must be a whole number, got "two"/],
    [
      'oracle',
      [...D, ...RPC, '--signer-key', KEY, '--signer-key', '0xbad', '--quorum', '1'],
      /--signer-key must be 0x followed by 64 hex digits/,
    ],
    ['oracle', [...D, ...RPC, '--signer-key', KEY, '--quorum', '1', '--port', '70000'], /--port must be at most 65535, got 70000/],
    [
      'oracle',
      [...D, ...RPC, '--signer-key', KEY, '--quorum', '1', '--database-url', 'mysql://x'],
      /--database-url must be an postgres\/postgresql URL/,
    ],
    ['devnet', ['--devices', 'many'], /--devices must be a whole number, got "many"/],
    ['devnet', ['--epochs', '0'], /--epochs must be at least 1, got 0/],
    ['devnet', ['--epoch-seconds', '1'], /--epoch-seconds must be at least 4, got 1/],
    ['devnet', ['--rpc-port', '99999'], /--rpc-port must be at most 65535/],
    ['devnet', ['--oracle-port', '-1'], /--oracle-port needs a value/],
    ['devnet', ['--database-url', 'http://db'], /--database-url must be an postgres\/postgresql URL/],
  ];
  for (const [name, args, expected] of cases) {
    test(`${name} ${args.join(' ')}`.slice(0, 160), async () => {
      const r = await run([...name.split(' '), ...args]);
      assert.equal(r.code, 2, `exit code (stderr: ${r.err})`);
      const [first, blank, usage] = r.err.split('\n');
      assert.match(first!, /^error: /);
      assert.match(first!, expected);
      assert.equal(blank, '');
      assert.ok(usage!.startsWith(`usage: groundwork ${name}`), usage);
      assert.equal(r.out, '', 'nothing on stdout');
      assert.equal(existsSync(path.join(dir, 'never.pem')), false, 'no key file written');
    });
  }

  test('GROUNDWORK_CRASH_AFTER is checked', async () => {
    const r = await run(
      ['oracle', '--deployment', fakeDeploymentFile, '--rpc', 'http://127.0.0.1:1', '--signer-key', KEY, '--quorum', '1'],
      { env: { GROUNDWORK_CRASH_AFTER: 'lunch' } },
    );
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: GROUNDWORK_CRASH_AFTER must be one of writing, artifact, signed, posted, got "lunch"/);
    assert.equal(
      parseOracle(['--deployment', 'd', '--rpc', 'http://x', '--signer-key', KEY, '--quorum', '1'], { GROUNDWORK_CRASH_AFTER: 'signed' })
        .crashAfter,
      'signed',
    );
  });

  test('parsers: defaults and conversions', () => {
    const reg = parseRegister([
      '--key-file',
      'k',
      '--deployment',
      'd',
      '--rpc',
      'http://h:8545/',
      '--owner-key',
      KEY,
      '--stake',
      '2.5',
      '--location',
      '8a2a1072b59ffff',
    ]);
    assert.equal(reg.stake, 2_500_000_000_000_000_000n);
    assert.equal(reg.location, 0x8a2a1072b59ffffn);
    assert.equal(reg.network, 'uptime');
    assert.equal(reg.rpc, 'http://h:8545');
    const dn = parseDevnet([], { DATABASE_URL: 'postgres://u@h/db' });
    assert.deepEqual(
      { ...dn, dataDir: path.normalize(dn.dataDir) },
      {
        dataDir: path.join('.data', 'devnet'),
        devices: 20,
        compute: 3,
        renderFrames: 6,
        storage: 8,
        gatewayPort: 9000,
        coverage: 8,
        airPort: 0,
        epochSeconds: 30,
        epochs: undefined,
        rpcPort: 8545,
        oraclePort: 8787,
        databaseUrl: 'postgres://u@h/db',
        verbose: false,
        json: false,
      },
    );
    assert.equal(parseVerify(['7', '--deployment', 'd', '--rpc', 'http://h', '--artifact', 'a.json']).epoch, 7);
    assert.equal(socketUrl('https://oracle.example/'), 'wss://oracle.example/v1/connect');
    assert.equal(socketUrl('http://127.0.0.1:8787'), 'ws://127.0.0.1:8787/v1/connect');
    assert.match(whyUnpaid({ epoch: 1, score: null, reward: '0', rejections: [] })!, /not scored/);
    assert.match(
      whyUnpaid({
        epoch: 1,
        score: { score: '0', detail: {} },
        reward: '0',
        rejections: [
          { device: '0x', digest: null, reason: 'late', detail: 'x' },
          { device: '0x', digest: null, reason: 'late', detail: 'y' },
        ],
      })!,
      /late ×2/,
    );
    assert.equal(whyUnpaid({ epoch: 1, score: { score: '1000000', detail: {} }, reward: '5', rejections: [] }), null);
  });
});

describe('runtime failures: exit 1, one line, no stack', () => {
  test('an unreachable chain', async () => {
    const r = await run([
      'credits',
      'buy',
      '--credits',
      '10',
      '--deployment',
      fakeDeploymentFile,
      '--rpc',
      'http://127.0.0.1:1',
      '--key',
      KEY,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: cannot reach the chain at --rpc http:\/\/127\.0\.0\.1:1/);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  });
  test('an unreachable oracle', async () => {
    const r = await run(['provider', 'status', '--key-file', deviceKeyFile, '--oracle', 'http://127.0.0.1:1']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: cannot reach the oracle at --oracle http:\/\/127\.0\.0\.1:1/);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    const debug = await run(['provider', 'rewards', '--owner', devnetAccounts(5).address, '--oracle', 'http://127.0.0.1:1'], {
      env: { GROUNDWORK_DEBUG: '1' },
    });
    assert.equal(debug.code, 1);
    assert.ok(debug.err.trim().split('\n').length > 1, 'GROUNDWORK_DEBUG=1 adds the stack');
  });
});

describe('provider init', () => {
  test('writes a 0600 key file and refuses to overwrite it', async () => {
    const file = path.join(dir, 'keys', 'device.pem');
    const r = json(await run(['provider', 'init', '--key-file', file, '--json']));
    assert.match(r.device, /^0x[0-9a-f]{64}$/);
    assert.match(r.publicKey.x, /^0x[0-9a-f]{64}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const before = readFileSync(file, 'utf8');
    const again = await run(['provider', 'init', '--key-file', file]);
    assert.equal(again.code, 1);
    assert.match(again.err, /already exists; refusing to overwrite/);
    assert.equal(readFileSync(file, 'utf8'), before);
    const text = await run(['provider', 'init', '--key-file', path.join(dir, 'keys', 'other.pem')]);
    assert.equal(text.code, 0);
    assert.match(text.out, /device {2}0x[0-9a-f]{64}/);
  });

  test('imports a P-256 PEM and rejects other keys', async () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' }).toString();
    const pemFile = path.join(dir, 'p256.pem');
    writeFileSync(pemFile, p256);
    const out = path.join(dir, 'imported.pem');
    const r = json(await run(['provider', 'init', '--key-file', out, '--import', pemFile, '--json']));
    assert.equal(r.imported, true);
    assert.equal(statSync(out).mode & 0o777, 0o600);

    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const edFile = path.join(dir, 'ed25519.pem');
    writeFileSync(edFile, ed);
    const target = path.join(dir, 'from-ed.pem');
    const bad = await run(['provider', 'init', '--key-file', target, '--import', edFile]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^error: --import .*ed25519\.pem: device keys must be P-256/);
    assert.equal(existsSync(target), false);

    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    writeFileSync(path.join(dir, 'k1.pem'), k1);
    assert.equal((await run(['provider', 'init', '--key-file', target, '--import', path.join(dir, 'k1.pem')])).code, 2);
    writeFileSync(path.join(dir, 'junk.pem'), 'hello');
    const junk = await run(['provider', 'init', '--key-file', target, '--import', path.join(dir, 'junk.pem')]);
    assert.equal(junk.code, 2);
    assert.match(junk.err, /not a PEM private key/);
    assert.equal(existsSync(target), false);
  });
});

describe('against a testnet', () => {
  let net: Testnet;
  const deploymentFile = path.join(dir, 'deployment.json');
  const ownerKeyFile = path.join(dir, 'owner.key');
  const keyFile = path.join(dir, 'new-device.pem');
  const owner = devnetAccounts(5);

  before(async () => {
    net = await startTestnet({ devices: 2, epochSeconds: 6 });
    writeDeploymentFile(deploymentFile, net.deployment);
    writeFileSync(ownerKeyFile, `${owner.privateKey}\n`, { mode: 0o600 });
    // anvil gives account 5 ether; the token comes from the deployer's genesis allocation.
    const deployer = chainSession(net.rpcUrl, net.deployment, devnetAccounts(0).privateKey);
    const hash = await deployer.wallet.writeContract({
      account: deployer.account,
      chain: null,
      address: net.deployment.addresses.token,
      abi: GroundworkTokenAbi,
      functionName: 'transfer',
      args: [owner.address, parseEther('1000')],
    });
    await deployer.client.waitForTransactionReceipt({ hash });
  });
  after(async () => {
    await net?.stop();
  });

  test('a new provider: init, buy credits, register, status, start; an epoch verifies, a tampered artifact does not', async () => {
    const chain = ['--deployment', deploymentFile, '--rpc', net.rpcUrl];
    const oracle = ['--oracle', net.oracle!.url];
    const init = json(await run(['provider', 'init', '--key-file', keyFile, '--json']));

    const buy = json(await run(['credits', 'buy', '--credits', '100', ...chain, '--key', owner.privateKey, '--json']));
    assert.ok(BigInt(buy.credits) >= 100n, `bought ${buy.credits}`);
    assert.match(buy.tx, /^0x[0-9a-f]{64}$/);

    const reg = json(
      await run(['provider', 'register', '--key-file', keyFile, ...chain, '--owner-key-file', ownerKeyFile, '--stake', '12.5', '--json']),
    );
    assert.equal(reg.device, init.device);
    assert.equal(reg.stake, '12500000000000000000');
    assert.equal(reg.owner, owner.address);
    assert.ok(BigInt(reg.fee) > 0n);
    const twice = await run(['provider', 'register', '--key-file', keyFile, ...chain, '--owner-key', owner.privateKey]);
    assert.equal(twice.code, 1);
    assert.match(twice.err, /^error: registration failed: device 0x[0-9a-f]{64} is already registered/);

    // The oracle's follower picks the registration up within a few seconds.
    let status: any;
    for (let i = 0; i < 50; i++) {
      status = json(await run(['provider', 'status', '--key-file', keyFile, ...oracle, '--json']));
      if (status.registered) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status.registered, true, 'the oracle has the registration');
    assert.equal(status.registration.owner, owner.address.toLowerCase());
    assert.equal(status.connected, false);

    // Run the agent in-process until it is connected, then stop it.
    const stop = new AbortController();
    const agent = run(['provider', 'start', '--key-file', keyFile, '--deployment', deploymentFile, ...oracle, '--json'], {
      signal: stop.signal,
    });
    let connected = false;
    for (let i = 0; i < 50 && !connected; i++) {
      await new Promise((r) => setTimeout(r, 200));
      connected = json(await run(['provider', 'status', '--key-file', keyFile, ...oracle, '--json'])).connected;
    }
    const text = await run(['provider', 'status', '--key-file', keyFile, ...oracle]);
    assert.match(text.out, /registered {2}yes/);
    stop.abort();
    const started = await agent;
    assert.equal(started.code, 0, started.err);
    assert.ok(connected, `the agent connected: ${started.out}`);
    const events = started.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string });
    assert.ok(events.some((e) => e.event === 'connected'));
    assert.equal(events.at(-1)!.event, 'stopped');

    // An epoch with a root: verify passes.
    let epoch = net.oracle!.closer.firstEpoch + 1;
    let root = null;
    for (; epoch < net.oracle!.closer.firstEpoch + 4 && !root; epoch++) {
      await net.waitForEpoch(epoch, 30_000);
      root = ((await (await fetch(`${net.oracle!.url}/v1/epochs/${epoch}`)).json()) as { root: string | null }).root;
      if (root) break;
    }
    assert.ok(root, 'an epoch with a root closed');
    const v = await run(['epoch', 'verify', String(epoch), ...chain, ...oracle, '--json']);
    assert.equal(v.code, 0, v.out + v.err);
    const verified = JSON.parse(v.out);
    assert.equal(verified.pass, true);
    assert.equal(verified.root, root);
    const plain = await run(['epoch', 'verify', String(epoch), ...chain, ...oracle]);
    assert.equal(plain.code, 0);
    assert.match(plain.out, /✓ chain root equals the artifact root/);
    assert.match(plain.out, /\nPASS\n$/);

    // A tampered copy of the artifact: one device's reward changed.
    const artifact = JSON.parse(await (await fetch(`${net.oracle!.url}/v1/epochs/${epoch}/artifact`)).text()) as EpochArtifact;
    const victim = artifact.result.devices[0]!;
    victim.total = (BigInt(victim.total) + 1n).toString();
    const tampered = path.join(dir, 'tampered.json');
    writeFileSync(tampered, canonicalJson(artifact));
    const bad = await run(['epoch', 'verify', String(epoch), ...chain, '--artifact', tampered]);
    assert.equal(bad.code, 1, bad.err);
    assert.match(bad.out, /✗ recomputed result matches the artifact: result\.devices\[0\]\.total: artifact says/);
    assert.match(bad.out, /✗ chain artifact hash equals sha256 of the artifact/);
    assert.match(bad.out, /\nFAIL\n$/);
    const badJson = await run(['epoch', 'verify', String(epoch), ...chain, '--artifact', tampered, ...oracle, '--json']);
    assert.equal(badJson.code, 1);
    const failed = (JSON.parse(badJson.out) as { pass: boolean; checks: { name: string; ok: boolean; detail: string }[] }).checks.filter(
      (c) => !c.ok,
    );
    assert.ok(
      failed.some((c) => c.detail.includes('result.devices[0].total')),
      JSON.stringify(failed),
    );

    // Rewards and claims for one of the testnet's providers.
    const p = net.providers[0]!;
    const rewards = json(await run(['provider', 'rewards', '--owner', p.owner, ...oracle, '--json']));
    assert.ok(BigInt(rewards.latestCumulative) > 0n, 'the provider earned something');
    let claim: any = null;
    for (let i = 0; i < 50 && !claim?.claimed; i++) {
      claim = json(await run(['provider', 'claim', ...chain, ...oracle, '--owner-key', p.ownerKey, '--json']));
      if (!claim.claimed) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(claim.claimed, true, 'claimed once the root left its challenge window');
    assert.ok(BigInt(claim.amount) > 0n);
    // An account that never had a device.
    const nothing = await run(['provider', 'claim', ...chain, ...oracle, '--owner-key', devnetAccounts(6).privateKey]);
    assert.equal(nothing.code, 0, nothing.err);
    assert.match(nothing.out, /^nothing to claim for /);
  });
});

describe('devnet', () => {
  test('--epochs 1 --json: progress on stderr, one JSON summary on stdout', async () => {
    const dataDir = path.join(dir, 'devnet');
    const r = await run([
      'devnet',
      '--data-dir',
      dataDir,
      '--devices',
      '2',
      '--coverage',
      '0',
      '--epoch-seconds',
      '6',
      '--epochs',
      '1',
      '--rpc-port',
      '0',
      '--oracle-port',
      '0',
      '--json',
    ]);
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out) as {
      chainId: number;
      epochs: { epoch: number; verify: boolean }[];
      verify: { pass: boolean }[];
      addresses: Record<string, string>;
    };
    assert.equal(summary.chainId, 31337);
    assert.equal(summary.epochs.length, 1);
    assert.equal(summary.verify[0]!.pass, true);
    assert.match(r.err, /^starting the devnet/);
    assert.match(r.err, /chain http:\/\/127\.0\.0\.1:\d+ · oracle http:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.err, /\n {2}registry {5}0x[0-9a-fA-F]{40}\n/);
    assert.match(r.err, new RegExp(`\\nepoch ${summary.epochs[0]!.epoch} +· .* verify PASS\\n`));
    assert.ok(existsSync(path.join(dataDir, 'deployment.json')));
  });
});
