import { spawn, type ChildProcess } from 'node:child_process';
import { foundryBinary } from '../tools/foundry.mjs';

export type StartAnvilParameters = {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Host to bind; loopback by default. */
  host?: string;
  chainId?: number;
  /** Seconds between blocks; omit for a block per transaction (automine). */
  blockTime?: number;
  /** Load state from this file at start and write it back at exit (a devnet that resumes). */
  stateFile?: string;
  /** EVM hardfork; anvil's default ("latest") includes the P-256 precompile (EIP-7951). */
  hardfork?: string;
  /** Milliseconds to wait for anvil to listen. */
  timeoutMs?: number;
};

export type Anvil = {
  rpcUrl: string;
  port: number;
  process: ChildProcess;
  /** Stops anvil and waits for it to exit (it writes `stateFile` on the way out). */
  stop: () => Promise<void>;
};

/** Error raised when anvil cannot be started. */
export class AnvilStartError extends Error {
  override name = 'AnvilStartError';
}

/**
 * Starts a local anvil from the npm `@foundry-rs/anvil` binary and resolves once it listens.
 *
 * @example
 * const anvil = await startAnvil();
 * // ... use anvil.rpcUrl ...
 * await anvil.stop();
 */
export async function startAnvil(params: StartAnvilParameters = {}): Promise<Anvil> {
  const host = params.host ?? '127.0.0.1';
  const args = ['--host', host, '--port', String(params.port ?? 0)];
  if (params.chainId !== undefined) args.push('--chain-id', String(params.chainId));
  if (params.blockTime !== undefined) args.push('--block-time', String(params.blockTime));
  if (params.stateFile !== undefined) args.push('--state', params.stateFile);
  if (params.hardfork !== undefined) args.push('--hardfork', params.hardfork);

  const child = spawn(foundryBinary('anvil'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new AnvilStartError(`anvil did not listen within ${params.timeoutMs ?? 30_000} ms:\n${output}`));
    }, params.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Listening on [^\s:]+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new AnvilStartError(`cannot start anvil: ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new AnvilStartError(`anvil exited with code ${code} before listening:\n${output}`));
    });
  });
  // Keep draining output so anvil never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.resume();

  // Never leave an orphaned chain holding the port when this process exits.
  const killOnExit = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else
      child.once('exit', () => {
        process.off('exit', killOnExit);
        resolve();
      });
  });
  return {
    rpcUrl: `http://${host}:${port}`,
    port,
    process: child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
