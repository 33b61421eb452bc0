// `npm start` is `groundwork devnet`: with --epochs N --json it runs N epochs on a fresh data
// directory and prints one JSON summary; a second run resumes the same chain; Ctrl-C or SIGTERM
// stops it cleanly (exit 0, no error line, state kept); bad flags exit 2. One test runs
// `npm start` itself from a clean copy of the repository, as a new user does (GROUNDWORK_CLEAN_COPY=1).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'groundwork-start-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CLI = path.join(root, 'cli', 'bin', 'groundwork.mjs');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const QUICK = ['--devices', '4', '--epoch-seconds', '5', '--rpc-port', '0', '--oracle-port', '0', '--gateway-port', '0'];
// Uptime alone, for the tests about starting and stopping.
const FAST = [...QUICK, '--compute', '0', '--storage', '0', '--coverage', '0'];

// The build already ran in `npm test`; call the same command `npm start` runs.
const devnet = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, 'devnet', ...args], { encoding: 'utf8', timeout: 180_000, cwd: root });

type Summary = {
  chainId: number;
  addresses: Record<string, string>;
  epochs: { epoch: number; state: string; root: string | null; verify: boolean }[];
  rewards: Record<string, string>;
  claimed: Record<string, string>;
  verify: { epoch: number; pass: boolean }[];
  secondsToFirstClaim: number | null;
  stopped: boolean;
  compute: {
    owners: string[];
    framesDir: string | null;
    jobs: { jobId: string; state: string; frames: number; dir: string; escrowed: string; burned: string; refunded: string }[];
  } | null;
  storage: {
    owners: string[];
    shardServers: string[];
    files: { cid: string; readBack: boolean | null }[];
    gateway: { url: string; accessKey: string; secretKey: string } | null;
  } | null;
  coverage: { owners: string[]; air: string | null; sensors: string[]; sent: number; delivered: number; credits: string } | null;
};

test('npm start runs epochs, renders frames on the compute network, stores files, runs the coverage city, claims, verifies, and resumes', () => {
  const args = ['--data-dir', path.join(dir, 'resume'), ...QUICK, '--compute', '3', '--json'];
  const first = devnet(...args, '--epochs', '7');
  assert.equal(first.status, 0, first.stderr.slice(-2000));
  const s = JSON.parse(first.stdout) as Summary;
  assert.equal(s.epochs.length, 7);
  assert.ok(
    s.verify.every((v) => v.pass),
    JSON.stringify(s.verify),
  );
  assert.ok(
    s.epochs.some((e) => e.root),
    'at least one epoch paid rewards',
  );
  assert.ok(s.secondsToFirstClaim !== null && s.secondsToFirstClaim > 0);
  assert.equal(s.stopped, false);
  // Everything earned is claimed by the end: claimed per account equals cumulative rewards.
  for (const [account, amount] of Object.entries(s.rewards)) assert.equal(s.claimed[account], amount, account);
  // The rendering consumer's jobs: frames on disk as PNG files, paid from escrow, the rest refunded.
  const c = s.compute!;
  assert.equal(c.owners.length, 3);
  assert.ok(c.jobs.length >= 1, 'a render job closed');
  for (const j of c.jobs) {
    assert.equal(j.state, 'done');
    assert.equal(BigInt(j.escrowed), BigInt(j.burned) + BigInt(j.refunded));
    assert.ok(BigInt(j.burned) > 0n);
    const pngs = readdirSync(j.dir).filter((f) => /^frame-\d{4}\.png$/.test(f));
    assert.equal(pngs.length, j.frames);
    assert.equal(j.frames, 6);
    for (const f of pngs) assert.ok(readFileSync(path.join(j.dir, f)).subarray(0, 8).equals(PNG_SIGNATURE), `${f} is a PNG`);
  }
  // The usage those jobs burned is paid to the compute providers' owners.
  const computeRewards = c.owners.reduce((sum, o) => sum + BigInt(s.rewards[o] ?? '0'), 0n);
  assert.ok(computeRewards > 0n, `compute owners earned ${computeRewards}`);
  assert.ok(Object.keys(s.rewards).length >= 5, JSON.stringify(s.rewards));
  // The storage consumer: a file an epoch on the eight storage providers, each read back intact.
  const st = s.storage!;
  assert.equal(st.owners.length, 8);
  assert.equal(st.shardServers.length, 8);
  assert.ok(st.files.length >= 2, `${st.files.length} files stored`);
  assert.ok(
    st.files.slice(1).every((f) => f.readBack === true),
    JSON.stringify(st.files),
  );
  // The S3 gateway's endpoint and access key are printed, and kept across the restart below.
  assert.match(st.gateway!.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(first.stderr, new RegExp(`S3 gateway ${st.gateway!.url} · access key ${st.gateway!.accessKey} · secret key `));
  assert.match(first.stderr, /storage file 2 · bafk\S+ · 262144 bytes in 8 shards .* file 1 read back byte-identical/);
  assert.ok(existsSync(path.join(dir, 'resume', 'deployment.json')));
  // The coverage hotspots in the simulated city earn, and carry the IoT consumer's sensor frames for credits.
  const cov = s.coverage!;
  assert.equal(cov.owners.length, 8);
  assert.match(first.stderr, new RegExp(`coverage 8 hotspots in the simulated city · the air ${cov.air}`));
  assert.ok(cov.sent > 0 && cov.delivered > 0 && BigInt(cov.credits) >= BigInt(cov.delivered), JSON.stringify(cov));
  const coverageRewards = cov.owners.reduce((sum, o) => sum + BigInt(s.rewards[o] ?? '0'), 0n);
  assert.ok(coverageRewards > 0n, `coverage owners earned ${coverageRewards}`);

  const second = devnet(...args, '--epochs', '1');
  assert.equal(second.status, 0, second.stderr.slice(-2000));
  const t = JSON.parse(second.stdout) as Summary;
  assert.deepEqual(t.addresses, s.addresses, 'same contracts after a restart');
  assert.equal(t.storage!.gateway!.accessKey, st.gateway!.accessKey, 'the same gateway key after a restart');
  assert.ok(t.epochs[0]!.epoch > s.epochs.at(-1)!.epoch, 'epochs continue where they stopped');
  assert.ok(t.verify.every((v) => v.pass));
});

/** Starts the devnet in its own process group; resolves with its exit once `stop` was sent after the first epoch line. */
function runUntilStopped(
  dataDir: string,
  stop: (pid: number) => void,
): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, 'devnet', '--data-dir', dataDir, ...FAST], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let sent = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (!sent && /^epoch \d+ +· /m.test(out)) {
      sent = true;
      stop(child.pid!);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    }),
  );
}

for (const [how, stop] of [
  // Ctrl-C in a terminal signals the whole foreground process group: the devnet and anvil.
  ['Ctrl-C (SIGINT to the process group)', (pid: number) => process.kill(-pid, 'SIGINT')],
  ['SIGTERM to the devnet process', (pid: number) => process.kill(pid, 'SIGTERM')],
] as const) {
  test(`${how} stops the devnet cleanly, and it resumes`, async () => {
    const dataDir = path.join(dir, how.split(' ')[0]!);
    const run = await runUntilStopped(dataDir, stop);
    assert.equal(run.code, 0, `exit code 0 (got ${run.code}, signal ${run.signal})\n${run.err}`);
    assert.doesNotMatch(run.err, /^error/im, 'no error line on a requested stop');
    assert.doesNotMatch(run.out, /^error/im);
    assert.match(run.out, /stopped · chain, keys and oracle state are saved/);
    // The chain was saved: the same command resumes the same deployment and goes on.
    const resumed = devnet('--data-dir', dataDir, ...FAST, '--json', '--epochs', '1');
    assert.equal(resumed.status, 0, resumed.stderr.slice(-2000));
    const summary = JSON.parse(resumed.stdout) as Summary;
    const firstEpoch = Number(/^epoch (\d+) +· /m.exec(run.out)![1]);
    assert.ok(summary.epochs[0]!.epoch > firstEpoch, `resumed after epoch ${firstEpoch}: ${summary.epochs[0]!.epoch}`);
    assert.ok(summary.verify.every((v) => v.pass));
  });
}

// A minute and a half of npm ci and compiling: behind a flag, so `npm test` keeps to its budget
// (CI runs from a fresh clone anyway). `npm run test:clean-copy` runs it.
const CLEAN_COPY = process.env.GROUNDWORK_CLEAN_COPY === '1';
test('npm start -- --json in a clean copy of the repository prints only JSON on stdout, and builds once', {
  skip: CLEAN_COPY ? false : 'set GROUNDWORK_CLEAN_COPY=1 to run it (about 90 s): npm run test:clean-copy',
}, () => {
  // A clean checkout: the files git knows (tracked, or new and not ignored), a fresh npm ci.
  const copy = path.join(dir, 'checkout');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    if (!existsSync(path.join(root, file))) continue; // deleted in the working tree
    mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
    copyFileSync(path.join(root, file), path.join(copy, file));
  }
  const npm = (args: string[]) => spawnSync('npm', args, { cwd: copy, encoding: 'utf8', timeout: 300_000 });
  const install = npm(['ci', '--prefer-offline', '--no-audit', '--no-fund']);
  assert.equal(install.status, 0, install.stderr.slice(-2000));

  // With the compute network on (the default): on a fresh clone its renderer is compiled on first use.
  const start = npm(['start', '--', '--epochs', '1', '--json', ...QUICK]);
  assert.equal(start.status, 0, start.stderr.slice(-3000));
  const summary = JSON.parse(start.stdout) as Summary; // throws unless stdout is one JSON document
  assert.equal(summary.epochs.length, 1);
  assert.ok(summary.verify.every((v) => v.pass));
  assert.match(start.stderr, /compiling the contracts/, 'a progress line while it compiles');
  assert.doesNotMatch(start.stderr, /Warning \(\d+\)/, 'no compiler warnings from dependencies');

  const again = npm(['start', '--', '--epochs', '1', '--json', ...FAST]);
  assert.equal(again.status, 0, again.stderr.slice(-3000));
  JSON.parse(again.stdout);
  assert.doesNotMatch(again.stderr, /compiling/, 'nothing changed: no recompile');
});

test('bad flags get a clear error and exit code 2', () => {
  const bad = devnet('--rpc-port', '70000');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--rpc-port must be at most 65535/);
  const unknown = devnet('--frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /frobnicate/);
});
