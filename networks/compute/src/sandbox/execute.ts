// Runs one prepared module on one task: instantiate with the WASI host, set the limits in the
// instrumentation's globals, call _start, and turn how it ended into a result or a typed error.
// No binaryen here, so a worker that only runs modules does not load it.
import { outputCidOf } from './encoding.ts';
import { SandboxError } from './errors.ts';
import { METER_EXPORTS } from './meter-exports.ts';
import { type Allowances, DEFAULT_LIMITS, type Limits, MAX_FUEL, MAX_MEMORY_BYTES, MAX_STACK_BYTES, WASI_MODULE } from './policy.ts';
import { compareUtf8, HostFuelExhausted, ProcExit, splitTaskPath, WasiHost } from './wasi.ts';

/** A task as callers give it. */
export type Task = {
  /** The module's bytes (a WASI preview 1 command: exports _start and memory). */
  module: Uint8Array;
  /** If given, the module must have this CID ('cid-mismatch' otherwise). */
  moduleCid?: string;
  /** argv[0]; 'task.wasm' if not given. */
  programName?: string;
  /** The arguments after argv[0]. */
  args?: readonly string[];
  /** Environment variables (empty if not given), passed in the order of their names' UTF-8 bytes. */
  env?: Readonly<Record<string, string>>;
  stdin?: Uint8Array;
  /** The files of the read-only /input, by path relative to it ('scene.yaml', 'tex/wood.png'). */
  inputs?: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>;
  /** Optional imports the task allows (both deterministic, from the seed). */
  allow?: Allowances;
  /** Seeds the clock and random_get when allowed (default ''). */
  seed?: string;
  limits?: Partial<Limits>;
};

/** A task reduced to plain data (it crosses to the worker by structured clone). */
export type NormalizedTask = {
  args: string[];
  env: [string, string][];
  stdin: Uint8Array;
  inputs: [string, Uint8Array][];
  allow: Required<Allowances>;
  seed: string;
  limits: Limits;
};

export type RunResult = {
  /** 0 when _start returned, the code given to proc_exit otherwise. */
  exitCode: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** Files written under /output, by path relative to it, in UTF-8 order. */
  outputs: Map<string, Uint8Array>;
  /** Compute units used: exact, the same on every honest provider (meter.ts). 0 for unmetered runs. */
  computeUnits: number;
  /** CID of the canonical encoding of exit code, stdout and outputs (encoding.ts). */
  outputCid: string;
  moduleCid: string;
  /** Wall-clock time of instantiation and run (informational: not deterministic). */
  durationMs: number;
};

function checkLimit(name: keyof Limits, value: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > max)
    throw new SandboxError('invalid-task', `limits.${name} must be an integer from 0 to ${max}, got ${value}`);
  return value;
}

/** Fills in the defaults and checks the task's shape (SandboxError 'invalid-task'). */
export function normalizeTask(task: Task): NormalizedTask {
  if (!(task.module instanceof Uint8Array)) throw new SandboxError('invalid-task', 'task.module must be a Uint8Array');
  const limits: Limits = { ...DEFAULT_LIMITS, ...task.limits };
  checkLimit('memoryBytes', limits.memoryBytes, MAX_MEMORY_BYTES);
  checkLimit('fuel', limits.fuel, MAX_FUEL);
  checkLimit('stackBytes', limits.stackBytes, MAX_STACK_BYTES);
  for (const name of ['outputBytes', 'outputFiles', 'stdoutBytes', 'stderrBytes'] as const) checkLimit(name, limits[name], 2 ** 32 - 1);
  checkLimit('timeoutMs', limits.timeoutMs, 2 ** 31 - 1);
  const inputs: [string, Uint8Array][] =
    task.inputs instanceof Map ? [...task.inputs.entries()] : Object.entries((task.inputs ?? {}) as Record<string, Uint8Array>);
  for (const [path, data] of inputs) {
    splitTaskPath(path, 'input');
    if (!(data instanceof Uint8Array)) throw new SandboxError('invalid-task', `input ${JSON.stringify(path)} must be a Uint8Array`);
  }
  const args = [task.programName ?? 'task.wasm', ...(task.args ?? [])];
  for (const a of args) if (typeof a !== 'string') throw new SandboxError('invalid-task', 'arguments must be strings');
  return {
    args,
    env: Object.entries(task.env ?? {}).sort(([a], [b]) => compareUtf8(a, b)),
    stdin: task.stdin ?? new Uint8Array(0),
    inputs,
    allow: { clock: task.allow?.clock === true, random: task.allow?.random === true },
    seed: task.seed ?? '',
    limits,
  };
}

type MeterGlobals = { fuel: WebAssembly.Global; stack: WebAssembly.Global; memoryMax: WebAssembly.Global; growRefused: WebAssembly.Global };

/**
 * Runs `module` (the instrumented compilation, or with metered false the original, for
 * benchmarks: no fuel, no stack budget, no memory cap, NaNs as the engine makes them) on `task`.
 * Throws SandboxError for every failure; a non-zero exit code is a result, not an error (except
 * after a refused memory.grow: see below).
 */
export function execute(module: WebAssembly.Module, moduleCid: string, task: NormalizedTask, metered = true): RunResult {
  const started = performance.now();
  const { limits } = task;
  let globals: MeterGlobals | null = null;
  const charge = (units: number) => {
    if (!globals) return;
    const left = (globals.fuel.value as bigint) - BigInt(units);
    globals.fuel.value = left;
    if (left < 0n) throw new HostFuelExhausted();
  };
  const host = new WasiHost({
    args: task.args,
    env: task.env,
    stdin: task.stdin,
    inputs: task.inputs,
    seed: task.seed,
    limits,
    charge,
  });
  const unitsUsed = () => (globals ? limits.fuel - Number(globals.fuel.value as bigint) : 0);
  let exitCode = 0;
  try {
    const instance = new WebAssembly.Instance(module, { [WASI_MODULE]: host.imports() });
    const exports = instance.exports as Record<string, unknown>;
    host.memory = exports.memory as WebAssembly.Memory;
    if (metered) {
      globals = {
        fuel: exports[METER_EXPORTS.fuel] as WebAssembly.Global,
        stack: exports[METER_EXPORTS.stack] as WebAssembly.Global,
        memoryMax: exports[METER_EXPORTS.memoryMax] as WebAssembly.Global,
        growRefused: exports[METER_EXPORTS.growRefused] as WebAssembly.Global,
      };
      if (!globals.fuel || !globals.stack || !globals.memoryMax || !globals.growRefused)
        throw new SandboxError('internal', 'the module is not instrumented (no metering globals)');
      globals.fuel.value = BigInt(limits.fuel);
      globals.stack.value = limits.stackBytes;
      globals.memoryMax.value = Math.min(65536, Math.floor(limits.memoryBytes / 65536));
    }
    (exports._start as () => void)();
  } catch (err) {
    if (err instanceof ProcExit) exitCode = err.code;
    else throw classify(err, globals, limits, unitsUsed);
  }
  if (globals && exitCode !== 0 && (globals.growRefused.value as bigint) > 0n)
    throw memoryCapError(globals, limits, unitsUsed(), `the task exited with code ${exitCode}`);
  const { stdout, stderr, outputs } = host.collect();
  return {
    exitCode,
    stdout,
    stderr,
    outputs,
    computeUnits: unitsUsed(),
    outputCid: outputCidOf({ exitCode, stdout, outputs }),
    moduleCid,
    durationMs: Math.round((performance.now() - started) * 1000) / 1000,
  };
}

function memoryCapError(globals: MeterGlobals, limits: Limits, units: number, how: string): SandboxError {
  const pages = globals.growRefused.value as bigint;
  return new SandboxError(
    'memory-cap',
    `memory.grow to ${pages} pages (${pages * 65536n} bytes) was refused by the task's memory cap of ${limits.memoryBytes} bytes, and then ${how}`,
    units,
  );
}

/** Why a run that threw stopped, as a SandboxError. */
function classify(err: unknown, globals: MeterGlobals | null, limits: Limits, unitsUsed: () => number): SandboxError {
  if (err instanceof SandboxError)
    return err.computeUnits === undefined && globals ? new SandboxError(err.code, err.message, unitsUsed()) : err;
  const fuelOut = err instanceof HostFuelExhausted || (globals !== null && (globals.fuel.value as bigint) < 0n);
  if (fuelOut)
    return new SandboxError('fuel-exhausted', `fuel exhausted after ${limits.fuel} compute units (the task's fuel)`, limits.fuel);
  if (err instanceof WebAssembly.RuntimeError) {
    if (globals && (globals.stack.value as number) < 0)
      return new SandboxError(
        'stack-overflow',
        `call stack over the task's budget of ${limits.stackBytes} bytes (estimated frames)`,
        unitsUsed(),
      );
    if (globals && (globals.growRefused.value as bigint) > 0n)
      return memoryCapError(globals, limits, unitsUsed(), `it trapped (${err.message})`);
    return new SandboxError('trap', `the module trapped: ${err.message}`, unitsUsed());
  }
  if (err instanceof RangeError && /call stack/i.test(err.message))
    return new SandboxError(
      'stack-overflow',
      `the engine's call stack overflowed before the task's stack budget: ${err.message}`,
      unitsUsed(),
    );
  if (err instanceof WebAssembly.LinkError) return new SandboxError('invalid-module', `the module does not link: ${err.message}`);
  return new SandboxError('internal', `the run failed in the host: ${err instanceof Error ? err.message : String(err)}`, unitsUsed());
}
