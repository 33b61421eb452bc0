// `groundwork epoch verify <n>`: recompute an epoch from its artifact and compare with the chain.
// Trusts neither the oracle nor its database.
import { createPublicClient, type Hex, http, type PublicClient } from 'viem';
import { type Deployment, RewardDistributorAbi } from '@groundwork/contracts';
import { verifyEpoch, type VerifyResult } from '@groundwork/agent';
import { existingFile, flag, integer, loadDeployment, optional, parseFlags, required, url } from '../args.ts';
import { helpFlag, jsonFlag, type Command } from '../command.ts';
import { CliError, UsageError, line, printJson, type Io } from '../io.ts';
import { checkChain, withOracle } from '../remote.ts';

const VERIFY_USAGE = `usage: groundwork epoch verify (<epoch> | latest) --deployment <file> --rpc <url> (--oracle <url> | --artifact <file>) [--json]

Fetches the epoch's artifact (from the oracle, or a local file), recomputes scores, rewards and the
Merkle root with the same code the oracle ran, and checks them against the chain: the posted root,
total and artifact hash, the budgets Emissions released, and the slash orders: each fraud
finding's evidence hashes to its evidenceHash and has its order on chain (SlashOrders, with that
evidence hash and this artifact's hash), and no order of the epoch lacks a finding. Prints each
check, then PASS or FAIL.
Exit code 0 on PASS, 1 on FAIL. \`latest\` is the latest epoch whose root the chain has.

options:
  --deployment <file>     the deployment file
  --rpc <url>             JSON-RPC endpoint of the chain
  --oracle <url>          fetch the artifact from this oracle
  --artifact <file>       or read it from a file (with --oracle too, the previous epoch's artifact
                          is fetched to check the prior cumulative amounts; without, that is skipped)
${jsonFlag(24)}
${helpFlag(24)}`;

export type VerifyOptions = {
  epoch: number | 'latest';
  deploymentFile: string;
  rpc: string;
  oracle?: string;
  artifactFile?: string;
  json: boolean;
};

export function parseVerify(argv: string[]): VerifyOptions {
  const f = parseFlags(
    argv,
    {
      deployment: { type: 'string' },
      rpc: { type: 'string' },
      oracle: { type: 'string' },
      artifact: { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  const n = f.positionals[0];
  if (n === undefined) throw new UsageError('missing <epoch> (the epoch number to verify, or latest)');
  if (n !== 'latest' && (!/^\d+$/.test(n) || !Number.isSafeInteger(Number(n))))
    throw new UsageError(`<epoch> must be a whole number or latest, got ${JSON.stringify(n)}`);
  const oracle = optional(f, 'oracle');
  const artifactFile = optional(f, 'artifact');
  if (oracle === undefined && artifactFile === undefined) throw new UsageError('missing --oracle (or --artifact)');
  return {
    epoch: n === 'latest' ? 'latest' : integer('epoch', n),
    deploymentFile: required(f, 'deployment'),
    rpc: url('rpc', required(f, 'rpc')),
    oracle: oracle === undefined ? undefined : url('oracle', oracle),
    artifactFile,
    json: flag(f, 'json'),
  };
}

export function formatVerify(v: VerifyResult): string[] {
  const out: string[] = [
    `epoch ${v.epoch}${v.root ? ` · root ${v.root}` : ''}${v.artifactHash ? ` · artifact sha256 ${v.artifactHash}` : ''}`,
  ];
  for (const c of v.checks) {
    const [first, ...rest] = c.detail.split('\n');
    out.push(`  ${c.ok ? '✓' : '✗'} ${c.name}: ${first}`);
    for (const r of rest) out.push(`      ${r}`);
  }
  out.push(v.pass ? 'PASS' : 'FAIL');
  return out;
}

export async function runVerify(o: VerifyOptions, io: Io): Promise<number> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  if (o.artifactFile !== undefined) existingFile('artifact', o.artifactFile);
  const client = createPublicClient({ transport: http(o.rpc) });
  await checkChain(client, o.rpc, deployment);
  const epoch = o.epoch === 'latest' ? await latestPostedEpoch(client, deployment) : o.epoch;
  const { NETWORK_PLUGINS } = await import('@groundwork/oracle');
  const run = () =>
    verifyEpoch({
      epoch,
      deployment,
      rpcUrl: o.rpc,
      plugins: NETWORK_PLUGINS,
      oracleUrl: o.oracle,
      artifactFile: o.artifactFile,
      checkPrior: o.oracle !== undefined,
    });
  const v = o.oracle ? await withOracle(o.oracle, run) : await run();
  if (o.json) printJson(io, v);
  else for (const l of formatVerify(v)) line(io.stdout, l);
  return v.pass ? 0 : 1;
}

async function latestPostedEpoch(client: PublicClient, deployment: Deployment): Promise<number> {
  const latest = (await client.readContract({
    address: deployment.addresses.distributor,
    abi: RewardDistributorAbi,
    functionName: 'latestRoot',
  })) as {
    root: Hex;
    epoch: bigint;
  };
  if (/^0x0{64}$/.test(latest.root)) throw new CliError('the chain has no posted root yet: wait for the first epoch to close');
  return Number(latest.epoch);
}

export const EPOCH_USAGE = `usage: groundwork epoch <command> [options]

commands:
  verify     recompute an epoch from its artifact and check it against the chain

Run \`groundwork epoch verify --help\` for its options.`;

export const epochCommands: Command[] = [
  {
    name: 'epoch verify',
    summary: 'verify an epoch against the chain',
    usage: VERIFY_USAGE,
    run: (argv, io) => runVerify(parseVerify(argv), io),
  },
];
