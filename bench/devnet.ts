/**
 * Benchmark: how long a fresh devnet takes from start to the first claimed reward.
 *
 *   node --import tsx bench/devnet.ts [--devices N] [--epoch-seconds S] [--epochs E] [--json]
 *
 * Runs the command `npm start` runs, on a fresh temporary data directory and free ports:
 *
 *   node cli/bin/groundwork.mjs devnet --data-dir <tmp> --epochs 2 --json --rpc-port 0 --oracle-port 0
 *
 * (--devices and --epoch-seconds are passed on when given; the devnet's defaults are 20 devices
 * and 30 s epochs), forwards its progress lines (stderr), and reads the JSON summary it prints on
 * stdout at the end. Reports:
 *
 * - secondsToFirstClaim, from the summary: measured inside the devnet from the moment it starts
 *   booting (anvil, contracts, registrations, oracle, agents) to the first reward claimed on
 *   chain;
 * - the wall-clock seconds from spawning the command to its exit, and to the progress line of
 *   the first epoch that paid a claim (which is printed once that epoch's claims and its
 *   verification are done, so it is an upper bound of the first claim from spawn);
 * - the baseline: there is no external system to compare with, so the figure is put against
 *   the epoch length, time-to-first-claim / epoch length: how many epochs a new provider waits
 *   for its first reward. A reward earned in an epoch can be claimed only after that epoch has
 *   ended, the oracle's grace has passed (1 s, plus 1 s for requests in flight), the quorum has
 *   signed and posted the root, and the root's challenge window (epoch length / 6 on the
 *   devnet) has passed. The devnet's first epoch starts when the contracts are deployed (a
 *   second or two after the start) and the rest of the boot (registrations, oracle, agents)
 *   runs inside it, so the floor is about (epoch + 2 s + window) / epoch epochs, 1.23 for 30 s
 *   epochs; a ratio well above it means time lost booting, closing, posting or claiming.
 *
 * Exits 1 if the devnet fails, any epoch fails to verify, or nothing was claimed. --json prints
 * one JSON object instead of the lines.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'cli', 'bin', 'groundwork.mjs');
const DEFAULT_EPOCH_SECONDS = 30; // the devnet's own default (cli/src/commands/devnet.ts)
const DEFAULT_DEVICES = 20;

type Summary = {
  epochs: {
    epoch: number;
    state: string;
    root: string | null;
    claimedThisEpoch: string;
    verify: boolean;
    meanScore: number;
    connected: number;
    devices: number;
  }[];
  verify: { epoch: number; pass: boolean; failed: string[] }[];
  claimed: Record<string, string>;
  secondsToFirstClaim: number | null;
};

type Run = {
  code: number | null;
  signal: string | null;
  stdout: string;
  wallSeconds: number;
  firstClaimLineSeconds: number | null;
  epochSecondsSeen: number | null;
};

function runDevnet(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const seconds = () => Math.round((performance.now() - started) / 100) / 10;
    const child = spawn(process.execPath, [CLI, 'devnet', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let pending = '';
    let firstClaimLineSeconds: number | null = null;
    let epochSecondsSeen: number | null = null;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        process.stderr.write(`[devnet +${seconds().toFixed(1)} s] ${line}\n`);
        const epochs = / (\d+) s epochs/.exec(line);
        if (epochs) epochSecondsSeen = Number(epochs[1]);
        const claimed = /^epoch \d+\s+· .*claimed ([0-9.]+) GWK/.exec(line);
        if (claimed && Number(claimed[1]) > 0) firstClaimLineSeconds ??= seconds();
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (pending) process.stderr.write(`[devnet] ${pending}\n`);
      resolve({ code, signal, stdout, wallSeconds: seconds(), firstClaimLineSeconds, epochSecondsSeen });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string' },
      'epoch-seconds': { type: 'string' },
      epochs: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
    },
  });
  const epochSeconds = Number(values['epoch-seconds'] ?? DEFAULT_EPOCH_SECONDS);
  const devices = Number(values.devices ?? DEFAULT_DEVICES);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'groundwork-bench-devnet-'));
  const args = ['--data-dir', dataDir, '--epochs', values.epochs!, '--json', '--rpc-port', '0', '--oracle-port', '0'];
  if (values.devices !== undefined) args.push('--devices', values.devices);
  if (values['epoch-seconds'] !== undefined) args.push('--epoch-seconds', values['epoch-seconds']);

  console.error(`devnet: node cli/bin/groundwork.mjs devnet ${args.join(' ')}`);
  let run: Run;
  try {
    run = await runDevnet(args);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }

  let summary: Summary | null = null;
  try {
    summary = JSON.parse(run.stdout) as Summary;
  } catch {
    // reported below
  }
  const epochLength = run.epochSecondsSeen ?? epochSeconds;
  const first = summary?.secondsToFirstClaim ?? null;
  const ratio = first !== null ? first / epochLength : null;
  const verifyPass = summary !== null && summary.verify.length > 0 && summary.verify.every((v) => v.pass);
  const pass = run.code === 0 && summary !== null && first !== null && verifyPass;
  const windowSeconds = Math.max(1, Math.floor(epochLength / 6)); // sim/src/testnet.ts
  const floorEpochs = (epochLength + 2 + windowSeconds) / epochLength;

  const out = {
    devices,
    epochSeconds: epochLength,
    epochs: summary?.epochs.length ?? 0,
    secondsToFirstClaim: first,
    epochsToFirstClaim: ratio === null ? null : Math.round(ratio * 100) / 100,
    /** The least the protocol allows (see the header): one epoch, the oracle's grace and the challenge window. */
    floorEpochs: Math.round(floorEpochs * 100) / 100,
    wallSeconds: run.wallSeconds,
    firstClaimLineSeconds: run.firstClaimLineSeconds,
    verify: summary?.verify.map((v) => ({ epoch: v.epoch, pass: v.pass })) ?? [],
    perEpoch:
      summary?.epochs.map((e) => ({
        epoch: e.epoch,
        state: e.state,
        connected: e.connected,
        devices: e.devices,
        meanScore: e.meanScore,
        claimed: e.claimedThisEpoch,
      })) ?? [],
    exit: run.signal ?? run.code,
    pass,
  };

  if (values.json) console.log(JSON.stringify(out));
  else {
    console.log(`\ndevnet, ${devices} devices, ${epochLength} s epochs, ${out.epochs} epoch(s), fresh data directory`);
    if (first !== null) console.log(`seconds from start to first claimed reward: ${first} (epoch length ${epochLength} s)`);
    else console.log(`seconds from start to first claimed reward: none (nothing was claimed; epoch length ${epochLength} s)`);
    if (ratio !== null) {
      console.log(
        `epochs of waiting: ${ratio.toFixed(2)} (time to first claim / epoch length; the protocol's floor is about ${floorEpochs.toFixed(2)})`,
      );
    }
    console.log('  baseline: there is no external system to run here, so the time is put against the epoch length. A reward can be');
    console.log("  claimed only after its epoch has ended, the oracle's grace (2 s) has passed, the root is signed and posted, and");
    console.log(
      `  its challenge window (${windowSeconds} s = epoch / 6 on the devnet) has passed. Epoch 0 starts at deployment, a second or`,
    );
    console.log(
      `  two after the start, and the rest of the boot runs inside it: floor = (${epochLength} + 2 + ${windowSeconds}) / ${epochLength} = ${floorEpochs.toFixed(2)} epochs`,
    );
    console.log('  from deployment (epoch 0 begins at the last block time before it, to the second, so a run can come in a little under).');
    console.log(
      `wall clock: ${run.wallSeconds} s from spawn to exit${run.firstClaimLineSeconds !== null ? `; ${run.firstClaimLineSeconds} s from spawn to the line of the first epoch with a claim (after its claims and verification)` : ''}`,
    );
    for (const e of out.perEpoch)
      console.log(
        `  epoch ${e.epoch}: ${e.state}, ${e.connected}/${e.devices} devices connected, mean score ${e.meanScore}, claimed ${e.claimed} wei`,
      );
    console.log(`verify: ${verifyPass ? 'PASS' : 'FAIL'} · exit ${out.exit}`);
  }
  if (!pass) {
    if (!summary) console.error(`devnet printed no JSON summary (exit ${run.signal ?? run.code}): ${run.stdout.slice(-1000)}`);
    process.exitCode = 1;
  }
}

await main();
