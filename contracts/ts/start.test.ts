// `npm start` (bin/start.ts): deploys on a fresh data directory, resumes on the second run, and
// refuses bad flags with a clear message and exit code 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

const start = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bin', 'start.ts');
const dir = mkdtempSync(path.join(tmpdir(), 'groundwork-start-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', start, ...args], { encoding: 'utf8', timeout: 120_000 });

test('deploys, writes the deployment file, then resumes from the data directory', () => {
  const first = run('--once', '--port', '0', '--data-dir', dir, '--json');
  assert.equal(first.status, 0, first.stderr);
  const printed = JSON.parse(first.stdout);
  const saved = JSON.parse(readFileSync(path.join(dir, 'deployment.json'), 'utf8'));
  assert.deepEqual(printed.addresses, saved.addresses);
  assert.match(saved.addresses.distributor, /^0x[0-9a-fA-F]{40}$/);

  const second = run('--once', '--port', '0', '--data-dir', dir);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /resuming the deployment/);
  assert.match(second.stdout, new RegExp(`distributor\\s+${saved.addresses.distributor}`));
});

test('bad flags get a clear error and exit code 2', () => {
  const bad = run('--port', '70000', '--data-dir', dir);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--port must be at most 65535, got 70000/);
  const unknown = run('--frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Unknown option '--frobnicate'/);
  const zeroEpoch = run('--epoch-seconds', '0');
  assert.equal(zeroEpoch.status, 2);
  assert.match(zeroEpoch.stderr, /--epoch-seconds must be a positive integer, got "0"/);
});
