// What a task may import and use, and the limits it runs under. The rule throughout: a module is
// accepted only if running it twice, on any two honest machines, gives the same bytes and the
// same compute units. Everything that could differ (real time, real randomness, threads, host
// resources, engine-specific results) is refused at load or made deterministic.

/** WebAssembly value types as they appear in import signatures. */
export type ValType = 'i32' | 'i64' | 'f32' | 'f64';
export type Signature = { params: readonly ValType[]; results: readonly ValType[] };

const sig = (params: string, results = 'i32'): Signature => ({
  params: params ? (params.split(' ') as ValType[]) : [],
  results: results ? (results.split(' ') as ValType[]) : [],
});

export const WASI_MODULE = 'wasi_snapshot_preview1';

/**
 * The WASI preview 1 functions any task may import, with their signatures (an import with the
 * right name but another signature is refused too: the host would misread its arguments).
 *
 * Files: read-only /input and writable /output (see wasi.ts). path_create_directory is allowed
 * beyond the base list so a task can write nested outputs (frames/0001.png). Not allowed, and
 * refused at load: sockets (sock_*), poll_oneoff (it sleeps on real time), proc_raise, fd_pread /
 * fd_pwrite / fd_renumber / fd_allocate / fd_advise / fd_sync / fd_datasync, the set_times and
 * set_size calls, links, renames, unlinks and symlinks: none is needed to read inputs and write
 * outputs, and each would be more host surface to keep deterministic.
 */
export const WASI_FUNCTIONS: Readonly<Record<string, Signature>> = {
  args_get: sig('i32 i32'),
  args_sizes_get: sig('i32 i32'),
  environ_get: sig('i32 i32'),
  environ_sizes_get: sig('i32 i32'),
  fd_read: sig('i32 i32 i32 i32'),
  fd_write: sig('i32 i32 i32 i32'),
  fd_close: sig('i32'),
  fd_seek: sig('i32 i64 i32 i32'),
  fd_tell: sig('i32 i32'),
  fd_fdstat_get: sig('i32 i32'),
  fd_fdstat_set_flags: sig('i32 i32'),
  fd_filestat_get: sig('i32 i32'),
  fd_prestat_get: sig('i32 i32'),
  fd_prestat_dir_name: sig('i32 i32 i32'),
  fd_readdir: sig('i32 i32 i32 i64 i32'),
  path_open: sig('i32 i32 i32 i32 i32 i64 i64 i32 i32'),
  path_filestat_get: sig('i32 i32 i32 i32 i32'),
  path_create_directory: sig('i32 i32 i32'),
  proc_exit: sig('i32', ''),
  sched_yield: sig(''),
};

/**
 * Imports allowed only when the task says so. Even then they are deterministic: the clock is a
 * fixed start derived from the task's seed that advances 1 µs per call, and random_get is a
 * SHA-256 counter-mode stream keyed by the seed. They are opt-in rather than always on because a
 * task that reads "the time" or "randomness" and gets a replayable fake should have asked for
 * it: a module that imports them without the task allowing it is refused at load, so the
 * surprise happens before any provider spends work on it. (Toolchains import them only when the
 * program uses them; Rust's std HashMap seeding does, so such tasks must allow random.)
 */
export const WASI_CLOCK_FUNCTIONS: Readonly<Record<string, Signature>> = {
  clock_time_get: sig('i32 i64 i32'),
  clock_res_get: sig('i32 i32'),
};
export const WASI_RANDOM_FUNCTIONS: Readonly<Record<string, Signature>> = {
  random_get: sig('i32 i32'),
};

/** Which of the optional imports a task allows. */
export type Allowances = { clock?: boolean; random?: boolean };

/** The signature of an allowed import, or the reason it is refused. */
export function allowedImport(name: string, allow: Allowances): { signature: Signature } | { refused: string } {
  const base = WASI_FUNCTIONS[name];
  if (base) return { signature: base };
  const clock = WASI_CLOCK_FUNCTIONS[name];
  if (clock) return allow.clock ? { signature: clock } : { refused: 'the task does not allow the clock (allow.clock)' };
  const random = WASI_RANDOM_FUNCTIONS[name];
  if (random) return allow.random ? { signature: random } : { refused: 'the task does not allow randomness (allow.random)' };
  return { refused: `it is not in the sandbox's WASI subset` };
}

// Feature decisions (enforced by the instruction walk in meter.ts and the checks in validate.ts):
//
// - accepted: the MVP, mutable globals, sign extension, non-trapping float-to-int, bulk memory
//   (memory.copy/fill/init are charged per byte), multi-value, reference types (modern LLVM
//   emits the encoding; table.grow/fill/copy/init are refused), extended constants.
// - floats are accepted. WebAssembly float arithmetic is IEEE 754 and deterministic except for
//   the bits of a NaN result (its sign and payload may differ between x86 and ARM). Rather than
//   rewrite every float operation, the sandbox canonicalizes NaNs where their bits become
//   observable: the value of f32/f64.store, the operand of i32/i64.reinterpret, and the sign
//   operand of copysign. A NaN there becomes the canonical quiet NaN (0x7fc00000 /
//   0x7ff8000000000000). Comparisons, conversions and arithmetic cannot tell NaNs apart, so
//   this is enough. (binaryen's DeNaN pass was not used: it turns NaNs into 0, which changes
//   what correct programs compute.)
// - refused: threads (shared memory, atomics), SIMD (plain SIMD is deterministic up to the same
//   NaN bits, but canonicalizing lanes would cost a compare and a select per vector float op;
//   no mainstream WASI target enables it by default), relaxed SIMD (results are explicitly
//   implementation-defined), exception handling, tail calls, GC / typed function references,
//   strings, stack switching, memory64, multiple memories, wide arithmetic, FP16.

/** Limits a task runs under; every one is part of the task, so all providers apply the same. */
export type Limits = {
  /** Cap on linear memory in bytes (rounded down to 64 KiB pages). */
  memoryBytes: number;
  /** Compute units the run may use (see meter.ts for what a unit is). */
  fuel: number;
  /**
   * The call-stack budget in estimated bytes (meter.ts: each non-leaf call charges an estimate of
   * its frame, at least twice what V8 uses), so that deep recursion stops at the same depth on
   * every machine instead of at the engine's own, machine-dependent limit.
   */
  stackBytes: number;
  /** Cap on the total size of the files written under /output. */
  outputBytes: number;
  /** Cap on the number of files and directories created under /output. */
  outputFiles: number;
  stdoutBytes: number;
  stderrBytes: number;
  /** Wall-clock safety timeout (runTask only): not deterministic, the last resort after fuel. */
  timeoutMs: number;
};

export const DEFAULT_LIMITS: Readonly<Limits> = {
  memoryBytes: 256 * 1024 * 1024,
  fuel: 10_000_000_000,
  stackBytes: 8 * 1024 * 1024,
  outputBytes: 64 * 1024 * 1024,
  outputFiles: 1000,
  stdoutBytes: 16 * 1024 * 1024,
  stderrBytes: 1024 * 1024,
  timeoutMs: 60_000,
};

/** The largest fuel a task may ask for: compute units are reported as exact JS numbers. */
export const MAX_FUEL = Number.MAX_SAFE_INTEGER;
/** 4 GiB: the most a 32-bit memory can address. */
export const MAX_MEMORY_BYTES = 65536 * 65536;
/** Size of the worker thread's real stack: the stackBytes budget must run out well before it does. */
export const WORKER_STACK_MB = 64;
/**
 * The largest stack budget a task may ask for: a quarter of the worker's real stack, so that even
 * frames twice the estimate leave half of it unused (meter.ts estimates at least twice V8's).
 */
export const MAX_STACK_BYTES = (WORKER_STACK_MB * 1024 * 1024) / 4;

/**
 * Compute units charged by the host for each WASI call, plus one per HOST_BYTES_PER_UNIT bytes
 * it copies in or out (reads, writes, args, random bytes): host work is work too, and charging it
 * keeps a module from doing unbounded I/O for a constant price.
 */
export const HOST_CALL_UNITS = 100;
export const HOST_BYTES_PER_UNIT = 8;
