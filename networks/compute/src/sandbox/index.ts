// The compute network's sandbox: runs a WebAssembly (WASI preview 1) task deterministically and
// meters it. See policy.ts for what is allowed, meter.ts for what a compute unit is, wasi.ts for
// what the task can see, encoding.ts for what outputCid names.
export { encodeRunOutputs, OUTPUT_ENCODING_MAGIC, outputCidOf, type RunOutputs } from './encoding.ts';
export { DETERMINISTIC_CODES, SandboxError, type SandboxErrorCode, type SerializedSandboxError } from './errors.ts';
export { normalizeTask, type NormalizedTask, type RunResult, type Task } from './execute.ts';
export { METER_EXPORTS, METER_VERSION } from './meter-exports.ts';
export type { MeterStats } from './meter.ts';
export {
  type Allowances,
  DEFAULT_LIMITS,
  HOST_BYTES_PER_UNIT,
  HOST_CALL_UNITS,
  type Limits,
  WASI_CLOCK_FUNCTIONS,
  WASI_FUNCTIONS,
  WASI_MODULE,
  WASI_RANDOM_FUNCTIONS,
} from './policy.ts';
export { type InlineOptions, runTask, runTaskInline, validateTask } from './run.ts';
export { clearModuleCache, type ModuleInfo, type PreparedModule, prepareModule } from './validate.ts';
