// `npm start` is `groundwork devnet`: with --epochs N --json it runs N epochs on a fresh data
// directory and prints one JSON summary; a second run resumes the same chain; bad flags exit 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'groundwork-start-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The build already ran in `npm test`; call the same command `npm start` runs after it.
const devnet = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'cli', 'bin', 'groundwork.mjs'), 'devnet', ...args], {
    encoding: 'utf8',
    timeout: 180_000,
    cwd: root,
  });

type Summary = {
  chainId: number;
  addresses: Record<string, string>;
  epochs: { epoch: number; state: string; root: string | null; verify: boolean }[];
  rewards: Record<string, string>;
  claimed: Record<string, string>;
  verify: { epoch: number; pass: boolean }[];
  secondsToFirstClaim: number | null;
};

test('npm start runs epochs, claims, verifies, and resumes', () => {
  const args = ['--data-dir', dir, '--devices', '4', '--epoch-seconds', '5', '--rpc-port', '0', '--oracle-port', '0', '--json'];
  const first = devnet(...args, '--epochs', '3');
  assert.equal(first.status, 0, first.stderr.slice(-2000));
  const s = JSON.parse(first.stdout) as Summary;
  assert.equal(s.epochs.length, 3);
  assert.ok(
    s.verify.every((v) => v.pass),
    JSON.stringify(s.verify),
  );
  assert.ok(
    s.epochs.some((e) => e.root),
    'at least one epoch paid rewards',
  );
  assert.ok(s.secondsToFirstClaim !== null && s.secondsToFirstClaim > 0);
  // Everything earned is claimed by the end: claimed per account equals cumulative rewards.
  assert.ok(Object.keys(s.rewards).length === 4, JSON.stringify(s.rewards));
  for (const [account, amount] of Object.entries(s.rewards)) assert.equal(s.claimed[account], amount, account);
  assert.ok(existsSync(path.join(dir, 'deployment.json')));

  const second = devnet(...args, '--epochs', '1');
  assert.equal(second.status, 0, second.stderr.slice(-2000));
  const t = JSON.parse(second.stdout) as Summary;
  assert.deepEqual(t.addresses, s.addresses, 'same contracts after a restart');
  assert.ok(t.epochs[0]!.epoch > s.epochs.at(-1)!.epoch, 'epochs continue where they stopped');
  assert.ok(t.verify.every((v) => v.pass));
});

test('bad flags get a clear error and exit code 2', () => {
  const bad = devnet('--rpc-port', '70000');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--rpc-port must be at most 65535/);
  const unknown = devnet('--frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /frobnicate/);
});
