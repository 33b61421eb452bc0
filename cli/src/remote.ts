// Talking to the chain and the oracle with errors a person can act on.
import type { Hex } from 'viem';
import { chainSession, type ChainSession } from '@groundwork/agent';
import type { Deployment } from '@groundwork/contracts';
import { CliError, describeError } from './io.ts';

/** A session on `rpcUrl`, after checking the endpoint answers and is the deployment's chain. */
export async function connectChain(rpcUrl: string, deployment: Deployment, privateKey: Hex): Promise<ChainSession> {
  const session = chainSession(rpcUrl, deployment, privateKey);
  await checkChain(session.client, rpcUrl, deployment);
  return session;
}

export async function checkChain(client: { getChainId(): Promise<number> }, rpcUrl: string, deployment: Deployment): Promise<void> {
  let chainId: number;
  try {
    chainId = await client.getChainId();
  } catch (err) {
    throw new CliError(`cannot reach the chain at --rpc ${rpcUrl}: ${describeError(err)}`);
  }
  if (chainId !== deployment.chainId)
    throw new CliError(`--rpc ${rpcUrl} is chain ${chainId}, but the deployment file is for chain ${deployment.chainId}`);
}

export type OracleReply<T> = { status: number; body: T };

/** GET `${oracleUrl}${path}` as JSON; unreachable oracles and non-JSON answers become CliErrors. */
export async function oracleGet<T = unknown>(oracleUrl: string, path: string): Promise<OracleReply<T>> {
  let res: Response;
  try {
    res = await fetch(`${oracleUrl}${path}`, { signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new CliError(`cannot reach the oracle at --oracle ${oracleUrl}: ${describeError(err)}`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as T };
  } catch {
    throw new CliError(
      `the oracle at ${oracleUrl} answered ${res.status} to GET ${path} with something that is not JSON: ${text.slice(0, 120)}`,
    );
  }
}

/** Throws a CliError naming the oracle's error code and detail unless the reply is 2xx. */
export function expectOk<T>(reply: OracleReply<T>, path: string): T {
  if (reply.status >= 200 && reply.status < 300) return reply.body;
  const b = reply.body as { error?: string; detail?: string };
  throw new CliError(`the oracle answered ${reply.status} to GET ${path}: ${b?.error ?? 'error'}: ${b?.detail ?? ''}`.trim());
}

/** Runs `fn`, turning errors from the oracle or the chain into one-line CliErrors that say where. */
export async function withOracle<T>(oracleUrl: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CliError) throw err;
    const msg = describeError(err);
    if (/^fetch failed/.test(msg)) throw new CliError(`cannot reach the oracle at --oracle ${oracleUrl}: ${msg}`);
    throw new CliError(msg);
  }
}
