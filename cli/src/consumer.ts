// What the consumer commands of every market network share: the chain and oracle flags, the
// positional arguments, and turning a client's or the chain's failure into a one-line CliError
// that names the flag to fix.
import { statSync } from 'node:fs';
import { keySource, required, url, type Flags, type KeySource } from './args.ts';
import { CliError, UsageError, describeError, oneLine } from './io.ts';

export const CHAIN_OPTIONS = `  --oracle <url>          the oracle's base URL, e.g. http://127.0.0.1:8787
  --deployment <file>     the deployment file (addresses, chain id)
  --rpc <url>             JSON-RPC endpoint of the chain
  --key <hex>             the consumer's private key (0x + 64 hex digits); pays the credits and gas
  --key-file <file>       a file holding the consumer's private key instead`;

export type ChainFlags = { oracle: string; deploymentFile: string; rpc: string; key: KeySource };

export const CHAIN_SPEC = {
  oracle: { type: 'string' },
  deployment: { type: 'string' },
  rpc: { type: 'string' },
  key: { type: 'string' },
  'key-file': { type: 'string' },
  json: { type: 'boolean' },
} as const;

export function chainFlags(f: Flags): ChainFlags {
  return {
    oracle: url('oracle', required(f, 'oracle')),
    deploymentFile: required(f, 'deployment'),
    rpc: url('rpc', required(f, 'rpc')),
    key: keySource(f, 'key'),
  };
}

/** The positional `<name>`; UsageError naming it when missing. */
export function positional(f: Flags, name: string, what: string): string {
  const v = f.positionals[0];
  if (v === undefined) throw new UsageError(`missing <${name}> (${what})`);
  return v;
}

/** An existing file given as positional `<name>`. */
export function positionalFile(name: string, file: string): string {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new UsageError(`<${name}> ${file}: no such file`);
  }
  if (!isFile) throw new UsageError(`<${name}> ${file}: not a file`);
  return file;
}

/** Turns the client's and the chain's failures into one-line CliErrors that name the flag. */
export function failure(err: unknown, o: { oracle?: string; rpc?: string }): Error {
  if (err instanceof UsageError || err instanceof CliError) return err;
  const code = (err as { code?: unknown })?.code;
  const rest = (prefix: RegExp) => oneLine((err as Error).message).replace(prefix, '');
  if (code === 'unreachable' && o.oracle)
    return new CliError(`cannot reach the oracle at --oracle ${o.oracle}${rest(/^cannot reach the oracle at \S+?(?=: )/)}`);
  if (code === 'chain-unreachable' && o.rpc)
    return new CliError(`cannot reach the chain at --rpc ${o.rpc}${rest(/^cannot reach the chain at \S+?(?=: )/)}`);
  if (code === 'wrong-chain' && o.rpc) return new CliError(`--rpc ${o.rpc}${rest(/^\S+/)}`);
  return new CliError(describeError(err));
}

export async function withClient<T>(o: { oracle?: string; rpc?: string }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw failure(err, o);
  }
}
