// `groundwork oracle`: runs the oracle (layer 2) until SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createPublicClient, http, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { existingFile, integer, list, loadDeployment, optional, parseFlags, port, privateKey, required, url } from '../args.ts';
import { helpFlag, type Command } from '../command.ts';
import { UsageError, aborted, envOf, line, stopSignal, type Io } from '../io.ts';
import { checkChain } from '../remote.ts';

/** The epoch-close steps GROUNDWORK_CRASH_AFTER may name (oracle's CLOSE_STEPS). */
export const CRASH_STEPS = ['writing', 'artifact', 'signed', 'posted'] as const;
export type CrashStep = (typeof CRASH_STEPS)[number];

const ORACLE_USAGE = `usage: groundwork oracle --deployment <file> --rpc <url> --signer-key <hex> [--signer-key <hex> ...]
         --quorum <n> [--data-dir <dir>] [--database-url <url>] [--port <n>] [--host <host>]

Runs the oracle: follows the chain's device registry, challenges connected devices, ingests their
signed reports, closes each epoch (scores, rewards, Merkle root, artifact), has the quorum sign the
root and posts it, and serves the public API. Runs until Ctrl-C (SIGINT) or SIGTERM.

options:
  --deployment <file>       the deployment file
  --rpc <url>               JSON-RPC endpoint of the chain
  --signer-key <hex>        an oracle quorum key (repeat the flag for each); the first sends transactions
  --signer-key-file <file>  a file with one quorum key per line (instead of, or besides, --signer-key)
  --quorum <n>              how many of the signer keys sign each root
  --data-dir <dir>          PGlite database and artifact files (default .data/oracle)
  --database-url <url>      PostgreSQL instead of PGlite (default $DATABASE_URL)
  --port <n>                HTTP port (default 8787; 0 picks a free one)
  --host <host>             address to listen on (default 127.0.0.1)
${helpFlag(26)}

environment:
  DATABASE_URL              as --database-url
  GROUNDWORK_CRASH_AFTER    test hook: writing | artifact | signed | posted kills the process
                            (SIGKILL) right after that epoch-close step (writing: with half
                            of the artifact on disk), for crash-recovery tests`;

export type OracleOptions = {
  deploymentFile: string;
  rpc: string;
  signerKeys: Hex[];
  signerKeyFiles: string[];
  quorum: number;
  dataDir: string;
  databaseUrl?: string;
  port: number;
  host: string;
  crashAfter?: CrashStep;
};

export function parseOracle(argv: string[], env: Record<string, string | undefined> = {}): OracleOptions {
  const f = parseFlags(argv, {
    deployment: { type: 'string' },
    rpc: { type: 'string' },
    'signer-key': { type: 'string', multiple: true },
    'signer-key-file': { type: 'string', multiple: true },
    quorum: { type: 'string' },
    'data-dir': { type: 'string' },
    'database-url': { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
  });
  const signerKeys = list(f, 'signer-key').map((k) => privateKey('signer-key', k));
  const signerKeyFiles = list(f, 'signer-key-file');
  if (signerKeys.length === 0 && signerKeyFiles.length === 0)
    throw new UsageError('missing --signer-key (give one per quorum key, or --signer-key-file)');
  const quorum = integer('quorum', required(f, 'quorum'), { min: 1 });
  if (signerKeyFiles.length === 0 && quorum > signerKeys.length)
    throw new UsageError(`--quorum ${quorum} needs at least ${quorum} --signer-key flags, got ${signerKeys.length}`);
  const databaseUrl = optional(f, 'database-url') ?? (env.DATABASE_URL || undefined);
  if (databaseUrl !== undefined)
    url(optional(f, 'database-url') !== undefined ? 'database-url' : 'database-url (from DATABASE_URL)', databaseUrl, [
      'postgres:',
      'postgresql:',
    ]);
  const crash = env.GROUNDWORK_CRASH_AFTER;
  if (crash && !(CRASH_STEPS as readonly string[]).includes(crash))
    throw new UsageError(`GROUNDWORK_CRASH_AFTER must be one of ${CRASH_STEPS.join(', ')}, got ${JSON.stringify(crash)}`);
  const host = optional(f, 'host') ?? '127.0.0.1';
  if (host === '') throw new UsageError('--host must not be empty');
  return {
    deploymentFile: required(f, 'deployment'),
    rpc: url('rpc', required(f, 'rpc')),
    signerKeys,
    signerKeyFiles,
    quorum,
    dataDir: optional(f, 'data-dir') ?? path.join('.data', 'oracle'),
    databaseUrl,
    port: port('port', optional(f, 'port') ?? '8787'),
    host,
    crashAfter: crash ? (crash as CrashStep) : undefined,
  };
}

export async function runOracle(o: OracleOptions, io: Io): Promise<number> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  const signerKeys = [...o.signerKeys];
  for (const file of o.signerKeyFiles) {
    existingFile('signer-key-file', file);
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((raw, i) => {
        const k = raw.trim();
        if (k && !k.startsWith('#')) signerKeys.push(privateKey(`signer-key-file ${file} line ${i + 1}:`, k));
      });
  }
  if (o.quorum > signerKeys.length)
    throw new UsageError(`--quorum ${o.quorum} needs at least ${o.quorum} signer keys, got ${signerKeys.length}`);
  const log = (text: string) => line(io.stdout, `${new Date().toISOString().slice(11, 19)} ${text}`);
  const oracles = new Set(deployment.parameters.rewards.oracles.map((a) => a.toLowerCase()));
  for (const k of signerKeys) {
    const a = privateKeyToAccount(k).address;
    if (!oracles.has(a.toLowerCase())) log(`warning: signer ${a} is not among the deployment's initial oracles`);
  }
  if (o.quorum < deployment.parameters.rewards.quorum)
    log(
      `warning: --quorum ${o.quorum} is below the distributor's quorum (${deployment.parameters.rewards.quorum}) at deployment; roots may be refused`,
    );
  if (o.crashAfter) log(`test hook: GROUNDWORK_CRASH_AFTER=${o.crashAfter}; the process kills itself after that step`);
  await checkChain(createPublicClient({ transport: http(o.rpc) }), o.rpc, deployment);

  const { startOracle } = await import('@groundwork/oracle');
  const { signal, dispose } = stopSignal(io);
  try {
    const oracle = await startOracle({
      deployment,
      rpcUrl: o.rpc,
      signerKeys,
      quorum: o.quorum,
      dataDir: path.resolve(o.dataDir),
      databaseUrl: o.databaseUrl,
      port: o.port,
      host: o.host,
      crashAfter: o.crashAfter,
      log,
    });
    log(`serving ${oracle.url} (devices connect to ${oracle.wsUrl}); Ctrl-C to stop`);
    await aborted(signal);
    log('stopping the oracle');
    await oracle.stop();
    log('stopped');
  } finally {
    dispose();
  }
  return 0;
}

export const oracleCommands: Command[] = [
  { name: 'oracle', summary: 'run the oracle', usage: ORACLE_USAGE, run: (argv, io) => runOracle(parseOracle(argv, envOf(io)), io) },
];
