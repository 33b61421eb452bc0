// `groundwork devnet` (what `npm start` runs): a whole local network on embedded defaults: anvil,
// the contracts, the oracle with a 2-of-3 quorum and simulated providers. Every epoch is claimed
// and verified; one line per epoch is printed. State lives in the data directory (a restart resumes).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DevnetSummary } from '@groundwork/sim';
import { type Address, formatEther } from 'viem';
import { address, flag, integer, loadDeployment, optional, parseFlags, port, tokenAmount, url } from '../args.ts';
import { helpFlag, jsonFlag, type Command } from '../command.ts';
import { CliError, describeError, envOf, line, printJson, step, stopSignal, UsageError, type Io } from '../io.ts';
import { tokens } from './provider.ts';

const DEVNET_USAGE = `usage: groundwork devnet [options]
       groundwork devnet faucet <address> [options]   (token and gas for a newcomer; see --help)

Boots a whole local Groundwork network: anvil, every contract, the oracle (2-of-3 quorum),
simulated uptime providers, compute providers and a rendering consumer that renders the demo
scene's frames on the compute network, job after job (one line per job: frames, credits burned
and refunded, where the PNG files are), and storage providers with a consumer that stores an
encrypted 4-of-8 file each epoch and reads the one before back, and coverage hotspots in a
simulated city that beacon and witness each other and carry an IoT consumer's sensor frames
(\`groundwork coverage send --air <url>\` transmits one of yours). Each epoch is closed, its root posted, every provider
claims (the compute providers their usage rewards), and the epoch is verified; one line per
epoch is printed. Runs until Ctrl-C (or --epochs). State lives in the
data directory, so a restart resumes the same deployment. Exit code 1 if any epoch failed to verify.

options:
  --data-dir <dir>        chain state, deployment, keys, oracle database (default .data/devnet)
  --devices <n>           simulated uptime providers, one device each (default 20)
  --compute <n>           compute providers beside them (default 3; 0: uptime alone)
  --render-frames <n>     frames per job of the rendering consumer (default 6; 0: no consumer)
  --storage <n>           storage providers (default 8; the storage consumer needs 8; 0: none)
  --gateway-port <n>      the S3 gateway's port (default 9000; 0 picks a free one)
  --coverage <n>          coverage hotspots in the simulated city, with an IoT consumer (default 8; 0: none)
  --air-port <n>          the simulated air's port, for \`groundwork coverage send\` (default 0: a free one)
  --epoch-seconds <n>     epoch length for a new deployment (default 30)
  --epochs <n>            stop after this many epochs have closed (default: run until Ctrl-C)
  --rpc-port <n>          anvil's RPC port (default 8545; 0 picks a free one)
  --oracle-port <n>       the oracle's HTTP port (default 8787; 0 picks a free one)
  --database-url <url>    PostgreSQL for the oracle instead of PGlite (default $DATABASE_URL)
  --verbose               also print the oracle's and the providers' log lines
  --json                  progress on stderr; at the end one JSON summary on stdout
${helpFlag(24)}`;

export type DevnetCliOptions = {
  dataDir: string;
  devices: number;
  compute: number;
  renderFrames: number;
  storage: number;
  gatewayPort: number;
  coverage: number;
  airPort: number;
  epochSeconds: number;
  epochs?: number;
  rpcPort: number;
  oraclePort: number;
  databaseUrl?: string;
  verbose: boolean;
  json: boolean;
};

export function parseDevnet(argv: string[], env: Record<string, string | undefined> = {}): DevnetCliOptions {
  const f = parseFlags(argv, {
    'data-dir': { type: 'string' },
    devices: { type: 'string' },
    compute: { type: 'string' },
    'render-frames': { type: 'string' },
    storage: { type: 'string' },
    'gateway-port': { type: 'string' },
    coverage: { type: 'string' },
    'air-port': { type: 'string' },
    'epoch-seconds': { type: 'string' },
    epochs: { type: 'string' },
    'rpc-port': { type: 'string' },
    'oracle-port': { type: 'string' },
    'database-url': { type: 'string' },
    verbose: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const epochs = optional(f, 'epochs');
  const databaseUrl = optional(f, 'database-url') ?? (env.DATABASE_URL || undefined);
  if (databaseUrl !== undefined)
    url(optional(f, 'database-url') !== undefined ? 'database-url' : 'database-url (from DATABASE_URL)', databaseUrl, [
      'postgres:',
      'postgresql:',
    ]);
  return {
    dataDir: optional(f, 'data-dir') ?? path.join('.data', 'devnet'),
    devices: integer('devices', optional(f, 'devices') ?? '20', { min: 1, max: 1000 }),
    compute: integer('compute', optional(f, 'compute') ?? '3', { min: 0, max: 100 }),
    renderFrames: integer('render-frames', optional(f, 'render-frames') ?? '6', { min: 0, max: 24 }),
    storage: integer('storage', optional(f, 'storage') ?? '8', { min: 0, max: 100 }),
    gatewayPort: port('gateway-port', optional(f, 'gateway-port') ?? '9000'),
    coverage: integer('coverage', optional(f, 'coverage') ?? '8', { min: 0, max: 200 }),
    airPort: port('air-port', optional(f, 'air-port') ?? '0'),
    // Epochs shorter than a few seconds leave no room for the challenge window and the claims.
    epochSeconds: integer('epoch-seconds', optional(f, 'epoch-seconds') ?? '30', { min: 4 }),
    epochs: epochs === undefined ? undefined : integer('epochs', epochs, { min: 1 }),
    rpcPort: port('rpc-port', optional(f, 'rpc-port') ?? '8545'),
    oraclePort: port('oracle-port', optional(f, 'oracle-port') ?? '8787'),
    databaseUrl,
    verbose: flag(f, 'verbose'),
    json: flag(f, 'json'),
  };
}

/** The lines worth showing without --verbose: set-up milestones, the header and one per epoch. */
export function isSummaryLine(text: string): boolean {
  return /^(deployed Groundwork|\d+ providers registered|chain \S+ · oracle |epoch -?\d+\s+· |epochs close again|the chain |follower: the chain no longer|rendering consumer |render job |render consumer stopped|refreshing the price feed|storage consumer |storage file |S3 gateway |coverage |iot consumer )/.test(
    text,
  );
}

export async function runDevnetCommand(o: DevnetCliOptions, io: Io): Promise<number> {
  const { runDevnet, DevnetStoppedError } = await import('@groundwork/sim');
  const out = o.json ? io.stderr : io.stdout;
  const dataDir = path.resolve(o.dataDir);
  const deploymentFile = path.join(dataDir, 'deployment.json');
  const log = (text: string) => {
    if (!o.verbose && !isSummaryLine(text)) return;
    line(out, text);
    if (/^chain \S+ · oracle /.test(text) && existsSync(deploymentFile)) {
      // The header: where the chain and oracle are, and the contracts' addresses.
      try {
        const d = loadDeployment('data-dir', deploymentFile);
        line(out, `chain id ${d.chainId} · deployment file ${deploymentFile}`);
        for (const [name, at] of Object.entries(d.addresses)) line(out, `  ${name.padEnd(12)} ${at}`);
        line(out, 'Ctrl-C to stop');
      } catch {
        // the summary at the end has the addresses too
      }
    }
  };
  const { signal, dispose } = stopSignal(io);
  let summary: DevnetSummary;
  try {
    line(
      out,
      `starting the devnet in ${dataDir} (${o.devices} uptime, ${o.compute} compute and ${o.storage} storage providers, ${o.coverage} hotspots, ${o.epochSeconds} s epochs)`,
    );
    summary = await runDevnet({
      dataDir,
      devices: o.devices,
      compute: o.compute,
      renderFrames: o.renderFrames,
      storage: o.storage,
      gatewayPort: o.gatewayPort,
      coverage: o.coverage,
      airPort: o.airPort,
      epochSeconds: o.epochSeconds,
      epochs: o.epochs,
      rpcPort: o.rpcPort,
      oraclePort: o.oraclePort,
      databaseUrl: o.databaseUrl,
      log,
      signal,
    });
  } catch (err) {
    if (!(err instanceof DevnetStoppedError)) throw err;
    line(out, err.message);
    return 0;
  } finally {
    dispose();
  }
  const failed = summary.verify.filter((v) => !v.pass);
  if (o.json) {
    printJson(io, summary);
  } else {
    line(out);
    line(
      out,
      `${summary.epochs.length} epoch(s) · verify ${failed.length ? `FAIL in epoch ${failed.map((f) => f.epoch).join(', ')}` : 'PASS'}${summary.secondsToFirstClaim !== null ? ` · first claim ${summary.secondsToFirstClaim} s after start` : ''}`,
    );
    for (const f of failed) for (const r of f.failed) line(out, `  epoch ${f.epoch} ✗ ${r}`);
    const owners = Object.keys(summary.claimed);
    const total = (r: Record<string, string>) => Object.values(r).reduce((s, x) => s + BigInt(x), 0n);
    if (owners.length)
      line(out, `${owners.length} owners earned ${tokens(total(summary.rewards))}, claimed ${tokens(total(summary.claimed))}`);
    const c = summary.compute;
    if (c?.framesDir) {
      const frames = c.jobs.reduce((n, j) => n + j.frames, 0);
      const burned = c.jobs.reduce((n, j) => n + BigInt(j.burned), 0n);
      line(out, `${c.jobs.length} render job(s) · ${frames} frames in ${c.framesDir} · ${burned} credits burned for them`);
    }
    const st = summary.storage;
    if (st?.files.length) {
      const read = st.files.filter((f) => f.readBack === true).length;
      line(out, `${st.files.length} file(s) stored on ${st.owners.length} storage providers · ${read} read back byte-identical`);
    }
  }
  if (summary.stopped) line(out, `stopped · chain, keys and oracle state are saved in ${dataDir}; run the same command to resume`);
  return failed.length ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// devnet faucet

const FAUCET_USAGE = `usage: groundwork devnet faucet <address> [--tokens <n>] [--ether <n>] [--data-dir <dir>] [--rpc <url>] [--json]

Sends token (for the onboarding fee, bought as credits, and the stake) and gas to an owner account
on the running devnet, from the devnet deployer's genesis allocation. Refused on any chain but the
devnet's own: the node must be anvil, on the deployment's chain, deployed by the devnet deployer.

options:
  --tokens <n>            whole tokens to send, decimals allowed (default 1000)
  --ether <n>             top the account's gas up to this much ether (default 10)
  --data-dir <dir>        the devnet's data directory, for its deployment file (default .data/devnet)
  --deployment <file>     or the deployment file itself
  --rpc <url>             the devnet's chain (default http://127.0.0.1:8545)
${jsonFlag(24)}
${helpFlag(24)}`;

export type FaucetCliOptions = { to: Address; tokens: bigint; ether: bigint; deploymentFile: string; rpc: string; json: boolean };

export function parseFaucet(argv: string[]): FaucetCliOptions {
  const f = parseFlags(
    argv,
    {
      tokens: { type: 'string' },
      ether: { type: 'string' },
      'data-dir': { type: 'string' },
      deployment: { type: 'string' },
      rpc: { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  const to = f.positionals[0];
  if (to === undefined) throw new UsageError('missing <address> (the owner account to fund)');
  if (optional(f, 'data-dir') !== undefined && optional(f, 'deployment') !== undefined)
    throw new UsageError('give --data-dir or --deployment, not both');
  return {
    to: address('<address>', to),
    tokens: tokenAmount('tokens', optional(f, 'tokens') ?? '1000'),
    ether: tokenAmount('ether', optional(f, 'ether') ?? '10'),
    deploymentFile: optional(f, 'deployment') ?? path.join(optional(f, 'data-dir') ?? path.join('.data', 'devnet'), 'deployment.json'),
    rpc: url('rpc', optional(f, 'rpc') ?? 'http://127.0.0.1:8545'),
    json: flag(f, 'json'),
  };
}

export async function runFaucet(o: FaucetCliOptions, io: Io): Promise<number> {
  const { devnetFaucet, FaucetRefused } = await import('@groundwork/sim');
  const deployment = loadDeployment('deployment', o.deploymentFile);
  step(io, `sending ${tokens(o.tokens)} to ${o.to}`);
  const r = await devnetFaucet({ rpcUrl: o.rpc, deployment, to: o.to, tokens: o.tokens, ether: o.ether }).catch((err) => {
    if (err instanceof FaucetRefused) throw new CliError(err.message);
    throw new CliError(`the faucet could not pay: ${describeError(err)} (is the devnet running at --rpc ${o.rpc}?)`);
  });
  if (o.json) {
    printJson(io, r);
  } else {
    line(
      io.stdout,
      `sent ${tokens(r.tokens)} to ${r.to}${r.etherTx ? ` and ${formatEther(r.ether)} ether for gas` : ''}; it holds ${tokens(r.balance)}`,
    );
    line(io.stdout, `  tx  ${r.tokenTx}`);
  }
  return 0;
}

export const devnetCommands: Command[] = [
  {
    name: 'devnet',
    summary: 'run a whole local network',
    usage: DEVNET_USAGE,
    run: (argv, io) => runDevnetCommand(parseDevnet(argv, envOf(io)), io),
  },
  {
    name: 'devnet faucet',
    summary: 'token and gas for an account on the running devnet',
    usage: FAUCET_USAGE,
    run: (argv, io) => runFaucet(parseFaucet(argv), io),
  },
];
