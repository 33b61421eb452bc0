// A devnet killed with SIGKILL (its whole process group: the devnet and its anvil, as `kill -9`
// of a terminal's job does) at seeded random moments, some of them in the middle of an epoch's
// close and some right after a root was posted (before the chain's state was saved, so the chain
// comes back without it), is restarted each time on the same data directory. Afterwards every
// epoch verifies, no epoch's root is on chain twice, and what each provider claimed is the sum of
// its rewards in the artifacts.
//
//   KILL_SEED=7 KILL_COUNT=12 node --import tsx --test sim/test/kill.test.ts
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPublicClient, http, type Hex, type PublicClient } from 'viem';
import { RewardDistributorAbi, readDeploymentFile } from '@groundwork/contracts';
import { verifyEpoch } from '@groundwork/agent';
import { type EpochArtifact, seededUnit } from '@groundwork/protocol';
import { NETWORK_PLUGINS } from '@groundwork/oracle';

const SEED = Number(process.env.KILL_SEED ?? 20261201);
// Four by default (the three planned moments and one random one: npm test's time is bounded);
// KILL_COUNT raises the random ones.
const KILLS = Math.max(3, Number(process.env.KILL_COUNT ?? 4));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'groundwork-kill-'));
const live: ChildProcess[] = [];
after(() => {
  for (const c of live) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // that group is gone already
    }
  }
  if (process.env.KILL_KEEP) console.log(`# data directory kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
});

type Devnet = {
  child: ChildProcess;
  output: () => string;
  up: Promise<{ rpcUrl: string; oracleUrl: string }>;
  exited: Promise<number | null>;
};

function startDevnet(): Devnet {
  const cli = path.join(root, 'cli', 'bin', 'groundwork.mjs');
  const args = [
    'devnet',
    '--data-dir',
    dir,
    '--devices',
    '3',
    '--storage',
    '0',
    '--coverage',
    '0',
    '--epoch-seconds',
    '5',
    '--rpc-port',
    '0',
    '--oracle-port',
    '0',
    '--verbose',
  ];
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.push(child);
  let out = '';
  const logFile = path.join(dir, `devnet-${live.length}.log`); // kept with KILL_KEEP=1, for a failure's story
  const collect = (d: string) => {
    out += d;
    appendFileSync(logFile, d);
  };
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  const up = new Promise<{ rpcUrl: string; oracleUrl: string }>((resolve, reject) => {
    const check = () => {
      const m = /^chain (\S+) · oracle (\S+) · /m.exec(out);
      if (m) resolve({ rpcUrl: m[1]!, oracleUrl: m[2]! });
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`the devnet exited (${code}) before it was up:\n${out.slice(-3000)}`)));
  });
  up.catch(() => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, up, exited };
}

/** Resolves true when `pattern` appears `times` times in the output after `from` characters; false after `ms`. */
async function waitFor(d: Devnet, pattern: RegExp, from: number, ms: number, times = 1): Promise<boolean> {
  const global = new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((d.output().slice(from).match(global) ?? []).length >= times) return true;
    if (d.child.exitCode !== null) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** After a restored snapshot: the follower rewinds its mirror and the closer posts the lost roots again. */
async function caughtUp(d: Devnet): Promise<true> {
  const reposted = /^the chain has no root after epoch -?\d+: posting epochs [\d, ]+ again$/m;
  assert.ok(await waitFor(d, reposted, 0, 60_000), `the closer posts the lost roots again:\n${d.output().slice(-3000)}`);
  const rewound = /^follower: the chain no longer has block \d+ as mirrored; rewound to block \d+/m;
  assert.ok(await waitFor(d, rewound, 0, 60_000), `the follower rewinds:\n${d.output().slice(-3000)}`);
  return true;
}

async function kill(d: Devnet): Promise<void> {
  if (d.child.exitCode !== null) return;
  process.kill(-d.child.pid!, 'SIGKILL');
  await d.exited;
}

test(`a devnet killed ${KILLS} times (SIGKILL, seed ${SEED}) comes back each time and goes on paying`, { timeout: 600_000 }, async () => {
  const random = seededUnit(SEED);
  // The moments: right after an epoch's artifact is recorded (mid-close, before it is signed and
  // posted), right after a root is posted (the chain may lose it: its state is saved each
  // second), at random times, and once with the chain's state file replaced afterwards by a copy
  // taken two posted epochs earlier (a restored snapshot: the chain is behind the oracle).
  const moments = ['after-artifact', 'after-post', 'restore-snapshot', ...Array.from({ length: KILLS - 3 }, () => 'random')];
  for (let i = moments.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [moments[i], moments[j]] = [moments[j]!, moments[i]!];
  }
  const log: string[] = [];
  const stateFile = path.join(dir, 'anvil-state.json');
  let restored = false;
  for (const moment of moments) {
    const d = startDevnet();
    await d.up;
    const from = d.output().length;
    if (restored) restored = !(await caughtUp(d));
    if (moment === 'after-artifact') await waitFor(d, /^epoch \d+: \d+ devices, paid [1-9]\d*, root 0x/m, from, 60_000);
    else if (moment === 'after-post') await waitFor(d, /^epoch \d+: root 0x[0-9a-f]+ posted in /m, from, 60_000);
    else if (moment === 'restore-snapshot') {
      // The copy is of a chain state the oracle then moves past: its follower mirrors blocks
      // beyond the copy's and two more epochs are closed and posted before the kill, so the
      // restored chain lacks both what the mirror holds and roots the oracle posted.
      assert.ok(await waitFor(d, /^epoch \d+: root 0x[0-9a-f]+ posted in /m, from, 60_000));
      await new Promise((r) => setTimeout(r, 1500)); // the post is in the saved state
      const snapshot = readFileSync(stateFile);
      const state = JSON.parse(snapshot.toString('utf8')) as { best_block_number?: unknown; block?: { number?: unknown } };
      const snapshotBlock = Number(state.best_block_number ?? state.block?.number);
      assert.ok(Number.isSafeInteger(snapshotBlock), 'the state file names its block');
      const at = d.output().length;
      const closedLine = /^epoch (\d+): \d+ devices, paid \d+, root 0x[0-9a-f]+, artifact /gm;
      assert.ok(await waitFor(d, closedLine, at, 60_000, 2));
      const second = [...d.output().slice(at).matchAll(closedLine)][1]![1]!;
      assert.ok(await waitFor(d, new RegExp(`^epoch ${second}: root 0x[0-9a-f]+ posted in `, 'm'), at, 60_000));
      const { oracleUrl } = await d.up;
      for (let i = 0; ; i++) {
        const status = (await (await fetch(`${oracleUrl}/v1/status`)).json()) as { follower: { block: string } };
        if (Number(status.follower.block) > snapshotBlock) break;
        assert.ok(i < 300, `the follower passes block ${snapshotBlock}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await kill(d);
      writeFileSync(stateFile, snapshot);
      rmSync(path.join(dir, 'anvil-exit-state.json'), { force: true });
      restored = true;
    } else await new Promise((r) => setTimeout(r, Math.floor(500 + random() * 9000)));
    await kill(d);
    log.push(`${moment}: ${(d.output().match(/^epoch \d+ +· .*$/gm) ?? []).length} epoch lines`);
  }

  // The last start runs until a few more epochs are settled, with the devnet's own checks.
  const d = startDevnet();
  const { rpcUrl, oracleUrl } = await d.up;
  const from = d.output().length;
  if (restored) await caughtUp(d);
  assert.ok(
    await waitFor(d, /^epoch \d+ +· posted/m, from, 180_000, 3),
    `epochs are posted again after the kills:\n${d.output().slice(-4000)}`,
  );
  const output = d.output();
  assert.doesNotMatch(output.slice(from), /verify FAIL/, 'every epoch the devnet settled verified');

  const deployment = readDeploymentFile(path.join(dir, 'deployment.json'));
  const client = createPublicClient({ transport: http(rpcUrl) }) as PublicClient;
  const distributor = deployment.addresses.distributor;
  const epochs = ((await (await fetch(`${oracleUrl}/v1/epochs?limit=1000`)).json()) as { epochs: { epoch: number; state: string }[] })
    .epochs;
  const closed = epochs
    .filter((e) => e.state === 'posted' || e.state === 'empty')
    .map((e) => e.epoch)
    .sort((x, y) => x - y);
  assert.ok(closed.length >= 3, `closed epochs: ${closed.join(', ')}`);

  // Every closed epoch verifies against the chain, and no root is on chain twice.
  for (const epoch of closed) {
    const v = await verifyEpoch({ epoch, deployment, rpcUrl, plugins: NETWORK_PLUGINS, oracleUrl });
    assert.ok(v.pass, `epoch ${epoch} verifies: ${JSON.stringify(v.checks.filter((c) => !c.ok))}`);
  }
  const posted = await client.getContractEvents({
    address: distributor,
    abi: RewardDistributorAbi,
    eventName: 'RootPosted',
    fromBlock: deployment.startBlock,
  });
  const perEpoch = new Map<bigint, number>();
  for (const p of posted) perEpoch.set(p.args.epoch!, (perEpoch.get(p.args.epoch!) ?? 0) + 1);
  for (const [epoch, n] of perEpoch) assert.equal(n, 1, `epoch ${epoch}'s root is on chain ${n} times`);

  // Each artifact's cumulative amounts are the running sum of its owners' rewards (nothing paid
  // twice across the restarts), and what each provider has claimed on chain, read at one block,
  // is that sum through an epoch whose root the distributor paid against at that block.
  const running = new Map<string, bigint>();
  const sumsThrough = new Map<number, Map<string, bigint>>();
  const addEpoch = async (epoch: number) => {
    const a = JSON.parse(await (await fetch(`${oracleUrl}/v1/epochs/${epoch}/artifact`)).text()) as EpochArtifact;
    for (const o of a.result.owners) running.set(o.account, (running.get(o.account) ?? 0n) + BigInt(o.amount));
    const cumulative = new Map<string, bigint>(a.result.cumulative.map((c) => [c.account, BigInt(c.amount)]));
    for (const [account, sum] of running) assert.equal(cumulative.get(account) ?? 0n, sum, `epoch ${epoch}: ${account}'s cumulative`);
    sumsThrough.set(epoch, new Map(running));
  };
  for (const epoch of closed) await addEpoch(epoch);
  /**
   * The devnet runs on while the epochs above are verified: by the block read below it may have
   * posted and claimed a later epoch, which the oracle lists as posted once it has the receipt.
   * Those epochs are added (in order, each checked like the others) until the list catches up.
   */
  const catchUp = async () => {
    const listed = ((await (await fetch(`${oracleUrl}/v1/epochs?limit=1000`)).json()) as { epochs: { epoch: number; state: string }[] })
      .epochs;
    const next = listed
      .filter((e) => (e.state === 'posted' || e.state === 'empty') && e.epoch > closed.at(-1)!)
      .map((e) => e.epoch)
      .sort((x, y) => x - y);
    for (const epoch of next) {
      if (epoch !== closed.at(-1)! + 1) break; // a gap: the one before is not listed yet
      await addEpoch(epoch);
      closed.push(epoch);
    }
  };
  assert.ok(running.size > 0, 'providers earned');
  const block = await client.getBlockNumber();
  const claimable = (await client.readContract({
    address: distributor,
    abi: RewardDistributorAbi,
    functionName: 'claimableRoot',
    blockNumber: block,
  })) as { epoch: bigint };
  let claimedAny = false;
  for (const account of running.keys()) {
    const claimed = (await client.readContract({
      address: distributor,
      abi: RewardDistributorAbi,
      functionName: 'claimed',
      args: [account as Hex],
      blockNumber: block,
    })) as bigint;
    if (claimed === 0n) continue;
    claimedAny = true;
    let through: number[] = [];
    for (let attempt = 0; attempt < 100; attempt++) {
      through = closed.filter((e) => e <= Number(claimable.epoch) && sumsThrough.get(e)!.get(account) === claimed);
      if (through.length > 0 || closed.at(-1)! >= Number(claimable.epoch)) break;
      await new Promise((r) => setTimeout(r, 200));
      await catchUp();
    }
    assert.ok(
      through.length > 0,
      `${account} claimed ${claimed} by block ${block}; its artifact rewards sum to ${closed.map((e) => `${sumsThrough.get(e)!.get(account) ?? 0n} through ${e}`).join(', ')} (claimable: epoch ${claimable.epoch})`,
    );
  }
  assert.ok(claimedAny, 'providers claimed');
  process.kill(d.child.pid!, 'SIGTERM');
  assert.equal(await d.exited, 0);
  console.log(`# ${log.join('; ')}; then ${closed.length} closed epochs, all verified`);
});
