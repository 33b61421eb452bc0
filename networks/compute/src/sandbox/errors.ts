// The sandbox's one error type. Every way a task can fail has a code, so that the oracle and the
// provider can tell "the task is bad" (refused at load, or it ran out of a limit it was given:
// deterministic, any honest provider gets the same) from "this machine failed" (timeout, internal).

export type SandboxErrorCode =
  /** Not a WebAssembly module, or one that does not validate, or not a WASI command (no _start, no memory). */
  | 'invalid-module'
  /** The module imports something outside the allowed WASI set (or clock/random the task does not allow). */
  | 'import-refused'
  /** The module uses a WebAssembly feature the sandbox refuses (threads, SIMD, exceptions, GC…). */
  | 'feature-refused'
  /** The module's initial memory is over the task's cap, or a refused memory.grow ended the run. */
  | 'memory-cap'
  /** The run used all the fuel (compute units) it was given. */
  | 'fuel-exhausted'
  /** The run went deeper in calls than the task's stack budget allows. */
  | 'stack-overflow'
  /** stdout, stderr or /output went over its size cap. */
  | 'output-too-large'
  /** The module trapped (unreachable, division by zero, out-of-bounds access…). */
  | 'trap'
  /** The wall-clock safety timeout stopped the run (not deterministic: the last resort after fuel). */
  | 'timeout'
  /** The module's bytes do not match the CID the task names. */
  | 'cid-mismatch'
  /** The task description itself is malformed (bad input path, argument with a NUL…). */
  | 'invalid-task'
  /** A failure of the sandbox or of the host, not of the task. */
  | 'internal';

/** Codes whose outcome every honest provider reproduces exactly for the same module and task. */
export const DETERMINISTIC_CODES: ReadonlySet<SandboxErrorCode> = new Set([
  'invalid-module',
  'import-refused',
  'feature-refused',
  'memory-cap',
  'fuel-exhausted',
  'stack-overflow',
  'output-too-large',
  'trap',
  'cid-mismatch',
  'invalid-task',
]);

const CODE_WORDS: Record<SandboxErrorCode, string> = {
  'invalid-module': 'the module is not a valid WASI command',
  'import-refused': 'the module imports a host function outside the allowed set',
  'feature-refused': 'the module uses a WebAssembly feature the sandbox refuses',
  'memory-cap': "the run needed more memory than the task's cap",
  'fuel-exhausted': "the run used all of the task's fuel",
  'stack-overflow': 'the run went deeper in calls than the stack allows',
  'output-too-large': 'the output went over its size cap',
  trap: 'the module trapped',
  timeout: 'the wall-clock safety timeout stopped the run',
  'cid-mismatch': 'the module does not match its CID',
  'invalid-task': 'the task is malformed',
  internal: 'the sandbox failed',
};

/** A sandbox error code in words, for a consumer (`the run used all of the task's fuel (fuel-exhausted)`). */
export function describeSandboxCode(code: string): string {
  const words = (CODE_WORDS as Record<string, string>)[code];
  return words ? `${words} (${code})` : `the sandbox stopped the run (${code})`;
}

export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  constructor(
    readonly code: SandboxErrorCode,
    message: string,
    /** Compute units charged when the run stopped (for errors raised while running). */
    readonly computeUnits?: number,
  ) {
    super(message);
  }

  /** A plain object that survives postMessage (class instances lose their prototype there). */
  toJSON(): SerializedSandboxError {
    return { code: this.code, message: this.message, ...(this.computeUnits === undefined ? {} : { computeUnits: this.computeUnits }) };
  }

  static fromJSON(e: SerializedSandboxError): SandboxError {
    return new SandboxError(e.code, e.message, e.computeUnits);
  }
}

export type SerializedSandboxError = { code: SandboxErrorCode; message: string; computeUnits?: number };
