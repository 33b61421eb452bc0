// `groundwork credits buy`: burn token for service credits (what consumers pay with, and what
// device registration fees are paid in).
import { buyCredits } from '@groundwork/agent';
import { flag, keySource, loadDeployment, loadPrivateKey, parseFlags, positiveBigint, required, url, type KeySource } from '../args.ts';
import { helpFlag, jsonFlag, type Command } from '../command.ts';
import { CliError, describeError, line, printJson, step, type Io } from '../io.ts';
import { connectChain } from '../remote.ts';
import { tokens } from './provider.ts';

const BUY_USAGE = `usage: groundwork credits buy --credits <n> --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [--json]

Burns token for at least <n> service credits (credits are pegged to the dollar; the token amount
follows the price feed, rounded up, with 1% slippage allowed).

options:
  --credits <n>           how many credits (a positive whole number)
  --deployment <file>     the deployment file
  --rpc <url>             JSON-RPC endpoint of the chain
  --key <hex>             the buyer's private key (0x + 64 hex digits); credits go to its account
  --key-file <file>       a file holding the buyer's private key instead
${jsonFlag(24)}
${helpFlag(24)}`;

export type BuyOptions = { credits: bigint; deploymentFile: string; rpc: string; key: KeySource; json: boolean };

export function parseBuy(argv: string[]): BuyOptions {
  const f = parseFlags(argv, {
    credits: { type: 'string' },
    deployment: { type: 'string' },
    rpc: { type: 'string' },
    key: { type: 'string' },
    'key-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  return {
    credits: positiveBigint('credits', required(f, 'credits')),
    deploymentFile: required(f, 'deployment'),
    rpc: url('rpc', required(f, 'rpc')),
    key: keySource(f, 'key'),
    json: flag(f, 'json'),
  };
}

export async function runBuy(o: BuyOptions, io: Io): Promise<number> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  const key = loadPrivateKey(o.key);
  step(io, `connecting to ${o.rpc}`);
  const session = await connectChain(o.rpc, deployment, key);
  step(io, `approving and burning token for ${o.credits} credits`);
  const r = await buyCredits(session, o.credits).catch((err) => {
    throw new CliError(`buying credits failed: ${describeError(err)}`);
  });
  if (o.json) {
    printJson(io, { account: session.account.address, credits: r.credits, tokens: r.tokens, tx: r.tx });
  } else {
    line(io.stdout, `bought ${r.credits} credits for ${tokens(r.tokens)} (burned) to ${session.account.address}`);
    line(io.stdout, `  tx  ${r.tx}`);
  }
  return 0;
}

export const CREDITS_USAGE = `usage: groundwork credits <command> [options]

commands:
  buy        burn token for service credits

Run \`groundwork credits buy --help\` for its options.`;

export const creditsCommands: Command[] = [
  { name: 'credits buy', summary: 'burn token for service credits', usage: BUY_USAGE, run: (argv, io) => runBuy(parseBuy(argv), io) },
];
