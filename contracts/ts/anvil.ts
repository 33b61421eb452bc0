import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { foundryBinary } from '../tools/foundry.mjs';

export type StartAnvilParameters = {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Host to bind; loopback by default. */
  host?: string;
  chainId?: number;
  /** Seconds between blocks; omit for a block per transaction (automine). */
  blockTime?: number;
  /**
   * Keeps the chain in this directory: loaded at start, written every `stateIntervalMs` while
   * anvil runs, and at exit (see `ANVIL_STATE_FILE`).
   */
  stateDir?: string;
  /** Milliseconds between state dumps (default 1000); a dump is skipped when no block was added. */
  stateIntervalMs?: number;
  /** EVM hardfork; anvil's default ("latest") includes the P-256 precompile (EIP-7951). */
  hardfork?: string;
  /** Milliseconds to wait for anvil to listen. */
  timeoutMs?: number;
  /** Where notes about the state files go (which one was loaded, an unreadable one skipped). */
  log?: (line: string) => void;
};

export type Anvil = {
  rpcUrl: string;
  port: number;
  process: ChildProcess;
  /** The state file the chain was loaded from and its head, if any. */
  loadedState: { file: string; block: number } | null;
  /** Writes the chain's state now (when it has a state directory); resolves once it is on disk. */
  saveState: () => Promise<void>;
  /** Saves the state, stops anvil and waits for it to exit. */
  stop: () => Promise<void>;
};

/**
 * The state file the devnet writes itself, every second, atomically (a temporary file, fsync,
 * then rename). Anvil's own periodic dump (`--state-interval`) is not used: it truncates and
 * rewrites the file in place, so a kill during a write leaves a file anvil refuses to load.
 */
export const ANVIL_STATE_FILE = 'anvil-state.json';
/** What anvil itself writes when it is stopped by a signal (Ctrl-C reaches it before us). */
export const ANVIL_EXIT_STATE_FILE = 'anvil-exit-state.json';

/** Error raised when anvil cannot be started. */
export class AnvilStartError extends Error {
  override name = 'AnvilStartError';
}

/**
 * Of the state files in `dir`, the one with the highest block that parses. Both files come from
 * one history (a later run always starts from the newer of them), so the higher block is the
 * later state; a file cut short by a kill does not parse and is skipped.
 */
export function chooseStateFile(dir: string, log: (line: string) => void = () => {}): { file: string; block: number } | null {
  let best: { file: string; block: number } | null = null;
  const unreadable: string[] = [];
  for (const name of [ANVIL_STATE_FILE, ANVIL_EXIT_STATE_FILE]) {
    const file = path.join(dir, name);
    if (!existsSync(file)) continue;
    let block: number;
    try {
      const state = JSON.parse(readFileSync(file, 'utf8')) as { best_block_number?: unknown; block?: { number?: unknown } };
      block = Number(state.best_block_number ?? state.block?.number);
      if (!Number.isSafeInteger(block) || block < 0) throw new Error('it names no block');
    } catch (err) {
      unreadable.push(`${file} (${(err as Error).message.slice(0, 80)})`);
      continue;
    }
    if (!best || block > best.block) best = { file, block };
  }
  if (!best && unreadable.length) {
    throw new AnvilStartError(`no chain state file could be read: ${unreadable.join('; ')}; move them away to start a new chain`);
  }
  for (const u of unreadable) log(`chain state: skipping unreadable ${u}`);
  return best;
}

async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** Writes `bytes` to `file` so that a reader sees the old file or the whole new one, never a part. */
async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

/**
 * Starts a local anvil from the npm `@foundry-rs/anvil` binary and resolves once it listens.
 *
 * @example
 * const anvil = await startAnvil({ stateDir: '.data/devnet' });
 * // ... use anvil.rpcUrl ...
 * await anvil.stop();
 */
export async function startAnvil(params: StartAnvilParameters = {}): Promise<Anvil> {
  const host = params.host ?? '127.0.0.1';
  const args = ['--host', host, '--port', String(params.port ?? 0)];
  if (params.chainId !== undefined) args.push('--chain-id', String(params.chainId));
  if (params.blockTime !== undefined) args.push('--block-time', String(params.blockTime));
  if (params.hardfork !== undefined) args.push('--hardfork', params.hardfork);
  let loadedState: Anvil['loadedState'] = null;
  if (params.stateDir !== undefined) {
    mkdirSync(params.stateDir, { recursive: true });
    loadedState = chooseStateFile(params.stateDir, params.log);
    if (loadedState) args.push('--load-state', loadedState.file);
    args.push('--dump-state', path.join(params.stateDir, ANVIL_EXIT_STATE_FILE));
  }

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
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
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

  const rpcUrl = `http://${host}:${port}`;
  const persister =
    params.stateDir === undefined
      ? null
      : statePersister(rpcUrl, path.join(params.stateDir, ANVIL_STATE_FILE), params.stateIntervalMs ?? 1000, () => child.exitCode === null);
  return {
    rpcUrl,
    port,
    process: child,
    loadedState,
    saveState: async () => {
      await persister?.save();
    },
    stop: async () => {
      await persister?.stop();
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Dumps anvil's state to `file` every `intervalMs`, skipping dumps when the head has not moved. */
function statePersister(rpcUrl: string, file: string, intervalMs: number, alive: () => boolean) {
  let savedHead: string | null = null;
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const dump = async () => {
    const head = await rpc<{ hash: string }>(rpcUrl, 'eth_getBlockByNumber', ['latest', false]);
    if (head.hash === savedHead) return;
    // anvil_dumpState answers with gzipped JSON; --load-state reads the JSON itself.
    const hex = await rpc<string>(rpcUrl, 'anvil_dumpState');
    const json = await promisify(gunzip)(Buffer.from(hex.slice(2), 'hex'));
    await writeAtomically(file, json);
    savedHead = head.hash;
  };
  /** One dump at a time; a caller that wants a dump now waits for the one running, then runs its own. */
  const save = async (): Promise<void> => {
    while (running) await running.catch(() => {});
    if (!alive()) return;
    running = dump().finally(() => {
      running = null;
    });
    await running;
  };
  const tick = () => {
    timer = setTimeout(async () => {
      // A failed dump (anvil busy or stopping) is retried at the next tick; the last good file stays.
      await save().catch(() => {});
      if (!stopped) tick();
    }, intervalMs);
  };
  tick();
  return {
    save,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await save().catch(() => {});
    },
  };
}
