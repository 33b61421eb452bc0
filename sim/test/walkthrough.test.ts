// The README's "Join the running devnet as a provider" walkthrough, run as written: every
// `npx groundwork ...` line between its walkthrough markers, in order, against a running devnet.
// Only the devnet's address and files differ from the README (a test cannot own ports 8545 and
// 8787 or the repository's .data/), so those four strings are substituted and nothing else. The
// new device must earn, its owner must claim, and the latest epoch must verify.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPublicClient, http, type Address, type PublicClient } from 'viem';
import { RewardDistributorAbi, readDeploymentFile } from '@groundwork/contracts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(path.join(tmpdir(), 'groundwork-walkthrough-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) process.kill(-c.pid!, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** The walkthrough's commands, as the README has them. */
function walkthrough(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const block = /<!-- walkthrough:begin[^>]*-->([\s\S]*?)<!-- walkthrough:end -->/.exec(readme);
  assert.ok(block, 'README.md has the walkthrough markers');
  return block[1]!.split('\n').filter((l) => l.startsWith('npx groundwork '));
}

/** Splits a command line of plain words (the walkthrough uses no quotes or variables). */
function words(commandLine: string): string[] {
  assert.doesNotMatch(commandLine, /["'$`\\|&;<>]/, `a plain command line: ${commandLine}`);
  return commandLine.trim().split(/\s+/);
}

/** The devnet's stderr (its last 8,000 characters) and how it exited, for failure messages. */
const devnetLog = { err: '', exit: null as string | null };

function startDevnet(dataDir: string): Promise<{ rpcUrl: string; oracleUrl: string; output: () => string }> {
  const cli = path.join(root, 'cli', 'bin', 'groundwork.mjs');
  const args = [
    'devnet',
    '--data-dir',
    dataDir,
    '--devices',
    '2',
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
  ];
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    devnetLog.err = (devnetLog.err + d).slice(-8000);
  });
  child.once('exit', (code, signal) => {
    devnetLog.exit = `exit code ${code}, signal ${signal}`;
  });
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^chain (\S+) · oracle (\S+) · /m.exec(out);
      if (m) resolve({ rpcUrl: m[1]!, oracleUrl: m[2]!, output: () => out });
    });
    child.once('exit', (code) => reject(new Error(`the devnet exited (${code}) before it was up:\n${out}`)));
  });
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => null);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("the README's walkthrough joins a running devnet: the new device earns, claims and verifies", { timeout: 300_000 }, async () => {
  const dataDir = path.join(work, 'devnet');
  const devnet = await startDevnet(dataDir);
  const substitute = (commandLine: string) =>
    commandLine
      .replaceAll('http://127.0.0.1:8545', devnet.rpcUrl)
      .replaceAll('http://127.0.0.1:8787', devnet.oracleUrl)
      .replaceAll('.data/devnet', dataDir)
      .replaceAll('.data/newcomer', path.join(work, 'newcomer'));
  const commands = walkthrough().map(substitute);
  const byName = (sub: string) => {
    const found = commands.filter((c) => c.startsWith(`npx groundwork ${sub} `));
    assert.equal(found.length, 1, `the walkthrough has one \`groundwork ${sub}\``);
    return found[0]!;
  };
  assert.deepEqual(
    commands.map((c) => words(c).slice(2, 4).join(' ')),
    [
      'provider init',
      'devnet faucet',
      'provider register',
      'provider start',
      'provider status',
      'provider rewards',
      'provider claim',
      'epoch verify',
    ],
    'the walkthrough steps, in order',
  );
  // Asynchronous, not spawnSync: a blocked event loop would hold back the devnet's own output
  // and exit, and a failure message would then show a devnet "running" that had already died.
  const run = async (commandLine: string) => {
    const [cmd, ...args] = words(commandLine);
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const c = spawn(cmd!, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
      let stdout = '';
      let stderr = '';
      c.stdout!.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      c.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      c.once('error', reject);
      c.once('close', (status) => resolve({ status, stdout, stderr }));
    });
    assert.equal(
      r.status,
      0,
      `${commandLine}\nexit ${r.status}\n${r.stdout}\n${r.stderr}\nthe devnet: ${devnetLog.exit ?? 'running'}\n${devnet.output().slice(-4000)}\n${devnetLog.err}`,
    );
    return r.stdout;
  };

  const init = await run(byName('provider init'));
  const device = /device\s+(0x[0-9a-f]{64})/.exec(init)?.[1];
  assert.ok(device, init);
  assert.match(await run(byName('devnet faucet')), /^sent 1000(\.0)? GWK to 0xa0Ee7A142d267C1f36714E4a8F75612F20a79720/m);
  assert.match(await run(byName('provider register')), new RegExp(device.slice(0, 10)));

  const [cmd, ...args] = words(byName('provider start'));
  const agent = spawn(cmd!, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(agent);
  let agentOut = '';
  agent.stdout!.setEncoding('utf8').on('data', (d: string) => {
    agentOut += d;
  });
  agent.stderr!.resume();

  // The walkthrough says to wait for two more epoch lines; here: until an epoch paid the device.
  const paid = await until('an epoch that paid the new device', async () => {
    const res = await fetch(`${devnet.oracleUrl}/v1/devices/${device}/rejections`);
    const body = (await res.json()) as { epochs: { epoch: number; reward: string }[] };
    return body.epochs.find((e) => BigInt(e.reward) > 0n) ?? null;
  });
  assert.ok(BigInt(paid.reward) > 0n);
  assert.match(agentOut, /connected/i, `the agent connected:\n${agentOut}`);

  const status = await run(byName('provider status'));
  // The paid epoch with the score it was paid for (on a loaded machine an answer may miss its
  // deadline, so the score is any above zero, not always 1).
  assert.match(status, new RegExp(`epoch ${paid.epoch} +score (?!0\\.000)[01]\\.\\d{3}`), status);

  const owner = '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720' as Address;
  const deployment = readDeploymentFile(path.join(dataDir, 'deployment.json'));
  const client = createPublicClient({ transport: http(devnet.rpcUrl) }) as PublicClient;
  await until('a claimable root that pays the owner', async () => {
    const res = await fetch(`${devnet.oracleUrl}/v1/rewards/${owner}`);
    const body = (await res.json()) as { claim: { claimable: string } | null };
    return body.claim && BigInt(body.claim.claimable) > 0n ? body : null;
  });
  const rewards = await run(byName('provider rewards'));
  assert.match(rewards, /earned\s+[1-9]/, rewards);
  assert.match(await run(byName('provider claim')), /^claimed [0-9.]+ GWK for 0xa0Ee7A142d267C1f36714E4a8F75612F20a79720/im);
  const claimed = (await client.readContract({
    address: deployment.addresses.distributor,
    abi: RewardDistributorAbi,
    functionName: 'claimed',
    args: [owner],
  })) as bigint;
  assert.ok(claimed >= BigInt(paid.reward), `claimed ${claimed}, at least the paid epoch's ${paid.reward}`);

  const verify = await run(byName('epoch verify'));
  assert.match(verify, /^PASS$/m, verify);
  assert.match(devnet.output(), /^epoch \d+ +· /m, 'the devnet kept printing its epochs');
});
