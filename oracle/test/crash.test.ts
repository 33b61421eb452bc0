// Crash safety: the oracle runs in its own process and kills itself (SIGKILL) at each step of one
// epoch's close in turn: halfway through writing the artifact, then after artifact, signed and
// posted. A half-written artifact leaves nothing recorded; after every later restart the epoch's
// root is the one first recorded, the chain has it exactly once, and no acked report is lost.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RewardDistributorAbi, writeDeploymentFile } from '@groundwork/contracts';
import { startTestnet, type Testnet } from '@groundwork/sim';
import { openPglite } from '../src/index.ts';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'oracle-process.ts');
const STEPS = ['writing', 'artifact', 'signed', 'posted'] as const;

describe('oracle crash at each step of epoch close', () => {
  let net: Testnet;
  let dir: string;
  let config: string;
  let child: ChildProcess | null = null;
  const acked = new Set<string>();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gw-crash-'));
    net = await startTestnet({ devices: 2, epochSeconds: 6, startOracle: false });
    const deploymentFile = path.join(dir, 'deployment.json');
    writeDeploymentFile(deploymentFile, net.deployment);
    config = JSON.stringify({
      ...net.oracleConfig,
      deployment: undefined,
      log: undefined,
      deploymentFile,
      dataDir: path.join(dir, 'oracle'),
      // Any free port, a new one at each start: the agents follow the URL the process prints.
      port: 0,
    });
  });
  after(async () => {
    child?.kill('SIGKILL');
    await net?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the oracle process; resolves with its exit (signal) once it dies or is stopped. */
  function runOracle(crashAfter?: string): { ready: Promise<string>; exited: Promise<NodeJS.Signals | number | null> } {
    // The log goes to a file: a killed oracle's helper processes (tsx's esbuild) may hold an
    // inherited stderr open for a while, and a pipe would keep this test process waiting.
    const logFile = path.join(dir, `oracle-${crashAfter ?? 'clean'}.log`);
    const logFd = openSync(logFile, 'a');
    child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, config], {
      env: { ...process.env, GROUNDWORK_CRASH_AFTER: crashAfter ?? '' },
      stdio: ['ignore', 'pipe', logFd],
    });
    closeSync(logFd);
    const ready = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`oracle not ready within 60 s:\n${readFileSync(logFile, 'utf8')}`)), 60_000);
      child!.stdout!.on('data', (d) => {
        const m = /ready (\S+)/.exec(String(d));
        if (m) {
          clearTimeout(timer);
          child!.stdout!.destroy();
          resolve(m[1]!);
        }
      });
      child!.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`oracle exited before it was ready:\n${readFileSync(logFile, 'utf8')}`));
      });
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child!.once('exit', (code, signal) => resolve(signal ?? code)));
    return { ready, exited };
  }

  async function readState(): Promise<{
    root: string | null;
    state: string | null;
    epoch: number | null;
    digests: Set<string>;
    artifacts: number;
    latest: number | null;
  }> {
    const db = await openPglite(path.join(dir, 'oracle', 'pglite'));
    try {
      const rows = await db.query('select epoch, state, root from epochs where root is not null order by epoch limit 1');
      const digests = new Set((await db.query<{ digest: string }>('select digest from reports')).map((r) => r.digest));
      const [{ n }] = (await db.query('select count(*)::int as n from artifacts')) as [{ n: number }];
      const [{ latest }] = (await db.query('select max(epoch) as latest from epochs')) as [{ latest: number | null }];
      return { root: rows[0]?.root ?? null, state: rows[0]?.state ?? null, epoch: rows[0]?.epoch ?? null, digests, artifacts: n, latest };
    } finally {
      await db.close();
    }
  }

  const rememberAcks = () => {
    for (const p of net.providers) for (const d of p.agent?.stats.ackedDigests ?? []) acked.add(d);
  };

  test('kill after each step, restart, and the same root is posted once', async () => {
    let firstRoot: string | null = null;
    let epoch: number | null = null;
    for (const step of STEPS) {
      const run = runOracle(step);
      const url = await run.ready;
      rememberAcks();
      await net.startAgents(`${url.replace('http', 'ws')}/v1/connect`);
      let timer: NodeJS.Timeout | undefined;
      const signal = await Promise.race([run.exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 60_000)))]);
      clearTimeout(timer);
      assert.equal(signal, 'SIGKILL', `the oracle killed itself after "${step}"`);
      rememberAcks();
      const s = await readState();
      for (const d of acked) assert.ok(s.digests.has(d), `acked report ${d} survived the crash at "${step}"`);
      if (step === 'writing') {
        // Killed with half an artifact written: nothing of that epoch is recorded, and no file
        // but the temporary one exists for it; the next start closes it from scratch.
        assert.equal(s.state, null, 'no epoch with a root is recorded');
        const files = readdirSync(path.join(dir, 'oracle', 'artifacts'));
        assert.ok(
          files.some((f) => f.endsWith('.json.tmp')),
          `a partial temporary file: ${files.join(', ')}`,
        );
        const named = files.filter((f) => f.endsWith('.json')).length;
        assert.equal(named, s.artifacts, `every artifact file is recorded: ${files.join(', ')}`);
        continue;
      }
      assert.equal(s.state, step, `the epoch's persisted state after the crash is "${step}"`);
      firstRoot ??= s.root;
      epoch ??= s.epoch;
      assert.equal(s.root, firstRoot, `root unchanged after the crash at "${step}"`);
      assert.equal(s.epoch, epoch);
    }
    assert.ok(acked.size > 0, 'agents had reports acked');

    // A clean restart finishes the close: it finds the root on chain and does not post again.
    const run = runOracle();
    const url = await run.ready;
    rememberAcks();
    await net.startAgents(`${url.replace('http', 'ws')}/v1/connect`);
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${url}/v1/epochs/${epoch}`);
      if (res.ok && ((await res.json()) as { state: string }).state === 'posted') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const posted = await net.client.getContractEvents({
      address: net.deployment.addresses.distributor,
      abi: RewardDistributorAbi,
      eventName: 'RootPosted',
      args: { epoch: BigInt(epoch!) },
      fromBlock: 0n,
    });
    assert.equal(posted.length, 1, 'posted exactly once');
    assert.equal((posted[0]!.args as { root: string }).root, firstRoot);
    child!.kill('SIGTERM');
    await run.exited;
    rememberAcks();
    const s = await readState();
    assert.equal(s.state, 'posted');
    for (const d of acked) assert.ok(s.digests.has(d), `acked report ${d} survived`);
  });
});
