// The interface between the instrumented module and the runner: the exports the instrumentation
// adds (meter.ts) and the runner sets and reads (execute.ts). Kept apart from meter.ts so that
// the runner, which also runs in workers, does not load binaryen.

/** Names the metering rules; compute units are comparable only between runs with the same one. */
export const METER_VERSION = 'groundwork-meter-1';

/** Exports the instrumentation adds; a module that already exports one of them is refused. */
export const METER_EXPORTS = {
  /** i64: fuel left; the runner sets the task's fuel before _start. */
  fuel: '__groundwork_fuel',
  /** i32: stack budget left (estimated bytes). */
  stack: '__groundwork_stack',
  /** i32: the memory cap in 64 KiB pages. */
  memoryMax: '__groundwork_memory_max',
  /** i64: the page count a refused memory.grow asked for (0 if none was refused). */
  growRefused: '__groundwork_grow_refused',
} as const;

/** Export names reserved for the sandbox. */
export const RESERVED_EXPORT_PREFIX = '__groundwork_';
