// What every command writes to and how failures are reported: a usage error (exit 2, nothing done),
// a runtime error (exit 1), machine-readable JSON with bigints as decimal strings, and progress
// lines on a terminal.
import { BaseError, ContractFunctionRevertedError } from 'viem';

export type Stream = { write(chunk: string): unknown; isTTY?: boolean };

export type Io = {
  stdout: Stream;
  stderr: Stream;
  /** Environment variables (default process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Stops long-running commands (provider start, oracle, devnet). Without it they stop on
   * SIGINT/SIGTERM.
   */
  signal?: AbortSignal;
};

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** A bad command line: the message names the flag or value; the command's usage follows. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure while doing the work (chain or oracle unreachable, a refusal). */
export class CliError extends Error {
  override name = 'CliError';
}

export function envOf(io: Io): Record<string, string | undefined> {
  return io.env ?? process.env;
}

export function line(s: Stream, text = ''): void {
  s.write(`${text}\n`);
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${toJson(value)}\n`);
}

/** A progress line on stderr, only when stderr is a terminal. */
export function step(io: Io, text: string): void {
  if (io.stderr.isTTY) io.stderr.write(`… ${text}\n`);
}

/** One line describing an error, without a stack: viem's short message, a revert's error name. */
export function describeError(err: unknown): string {
  if (err instanceof BaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    if (revert?.data?.errorName) {
      const args = (revert.data.args ?? []).map((a) => (typeof a === 'bigint' ? a.toString() : JSON.stringify(a))).join(', ');
      return `the contract refused: ${revert.data.errorName}(${args})`;
    }
    if (revert?.reason) return `the contract refused: ${revert.reason}`;
    const short = err.shortMessage.replace(/\.$/, '');
    return err.details && !short.includes(err.details) ? `${short} (${err.details})` : short;
  }
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    if (err.message === 'fetch failed' && cause) return `fetch failed (${cause.code ?? cause.message})`;
    return oneLine(err.message);
  }
  return String(err);
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').trim();
}

/** A stop signal for a long-running command: `io.signal`, or SIGINT/SIGTERM (a second one exits at once). */
export function stopSignal(io: Io): { signal: AbortSignal; dispose(): void } {
  if (io.signal) return { signal: io.signal, dispose() {} };
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    io.stderr.write('\nstopping (press Ctrl-C again to exit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
