// Load-time checks and preparation: a module is refused before any provider spends work on it if
// it is not a WASI command, imports anything outside the allowed WASI subset, or uses a refused
// feature (policy.ts). An accepted module is instrumented (meter.ts), optimized and compiled once,
// and cached by its CID; the per-task checks (clock/random allowances, memory cap) are separate
// because the same module serves many tasks.
import binaryen from 'binaryen';
import { B } from './binaryen-api.ts';
import { cidOf } from '@groundwork/protocol';
import { SandboxError } from './errors.ts';
import { checkDeclaredType, instrument, type MeterStats } from './meter.ts';
import { METER_VERSION, RESERVED_EXPORT_PREFIX } from './meter-exports.ts';
import {
  type Allowances,
  allowedImport,
  type Limits,
  type Signature,
  WASI_CLOCK_FUNCTIONS,
  WASI_MODULE,
  WASI_RANDOM_FUNCTIONS,
} from './policy.ts';

/** What the load-time checks found out about a module; structured-cloneable. */
export type ModuleInfo = {
  cid: string;
  meterVersion: string;
  /** The WASI functions it imports, sorted. */
  imports: string[];
  usesClock: boolean;
  usesRandom: boolean;
  memory: { initialPages: number; maxPages: number | null };
  meter: MeterStats;
};

/** A module ready to run: the instrumented and the original compilation. */
export type PreparedModule = {
  info: ModuleInfo;
  /** The instrumented binary (what a provider runs; its CID is not the task's). */
  instrumented: Uint8Array;
  metered: WebAssembly.Module;
  /** The module as given, for unmetered benchmark runs only. */
  original: WebAssembly.Module;
};

const ACCEPTED_FEATURES =
  binaryen.Features.MutableGlobals |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SignExt |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.Multivalue |
  binaryen.Features.ReferenceTypes |
  binaryen.Features.ExtendedConst |
  binaryen.Features.CallIndirectOverlong;

const CACHE_LIMIT = 32;
const cache = new Map<string, PreparedModule>();

/**
 * Checks, instruments and compiles a module, or returns the cached result for its CID. Throws
 * SandboxError 'invalid-module', 'import-refused' or 'feature-refused' with a message naming the
 * import or feature.
 */
export function prepareModule(bytes: Uint8Array): PreparedModule {
  const cid = cidOf(bytes);
  const hit = cache.get(cid);
  if (hit) {
    cache.delete(cid);
    cache.set(cid, hit);
    return hit;
  }
  const prepared = prepareUncached(bytes, cid);
  cache.set(cid, prepared);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return prepared;
}

/** Forgets the cached modules (tests and benchmarks that want to time preparation). */
export function clearModuleCache(): void {
  cache.clear();
}

function prepareUncached(bytes: Uint8Array, cid: string): PreparedModule {
  let original: WebAssembly.Module;
  try {
    original = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (err) {
    // V8 refuses proposals this Node does not ship (relaxed SIMD, memory64…) with "enable with
    // --experimental-…". Then binaryen, which reads them, lets the feature walk name what is
    // refused. Broken bytes are not fed to binaryen (it would print its parse errors).
    if (/enable (with|via) --experimental/.test((err as Error).message)) probeFeatures(bytes);
    throw new SandboxError('invalid-module', `not a valid WebAssembly module: ${(err as Error).message}`);
  }
  const imports = checkImports(original);
  checkExports(original);
  const m = readModule(bytes);
  try {
    checkImportSignatures(m);
    const memory = checkMemory(m);
    for (let i = 0; i < m.getNumGlobals(); i++) {
      const g = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
      checkDeclaredType(g.type, `global ${g.name}`);
    }
    const meter = instrument(m, memory.name);
    m.setFeatures(ACCEPTED_FEATURES);
    if (!m.validate()) throw new SandboxError('internal', 'the instrumented module does not validate (a bug in the sandbox)');
    optimize(m);
    const instrumented = m.emitBinary();
    const info: ModuleInfo = {
      cid,
      meterVersion: METER_VERSION,
      imports,
      usesClock: imports.some((name) => name in WASI_CLOCK_FUNCTIONS),
      usesRandom: imports.some((name) => name in WASI_RANDOM_FUNCTIONS),
      memory: { initialPages: memory.initial, maxPages: memory.max },
      meter,
    };
    return { info, instrumented, metered: new WebAssembly.Module(instrumented as Uint8Array<ArrayBuffer>), original };
  } catch (err) {
    if (err instanceof SandboxError) throw err;
    // binaryen failing on a module V8 accepts: every provider's binaryen fails the same way, so
    // the module cannot be run by this sandbox version.
    throw new SandboxError('invalid-module', `the sandbox could not instrument the module: ${(err as Error)?.message ?? err}`);
  } finally {
    m.dispose();
  }
}

/** Reads the module into binaryen with every feature on: which ones it uses is the walk's to judge. */
function readModule(bytes: Uint8Array): binaryen.Module {
  try {
    return B.readBinary(bytes, binaryen.Features.All);
  } catch (err) {
    throw new SandboxError('invalid-module', `binaryen could not read the module: ${(err as Error).message}`);
  }
}

/** For a module V8 refused: throws 'feature-refused' if the feature walk finds a refused feature. */
function probeFeatures(bytes: Uint8Array): void {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || header.some((b, i) => bytes[i] !== b)) return;
  let m: binaryen.Module;
  try {
    m = B.readBinary(bytes, binaryen.Features.All);
  } catch {
    return;
  }
  try {
    const exported = m.getExport('memory');
    const name = exported ? binaryen.getExportInfo(exported).value : undefined;
    const memory = m.hasMemory() ? m.getMemoryInfo(name) : null;
    if (memory?.shared) throw new SandboxError('feature-refused', 'module uses threads (shared memory), which the sandbox refuses');
    if (memory?.is64) throw new SandboxError('feature-refused', 'module uses memory64, which the sandbox refuses');
    // Without a name binaryen takes the module's only memory; the result is thrown away.
    instrument(m, name);
  } catch (err) {
    if (err instanceof SandboxError && err.code === 'feature-refused') throw err;
  } finally {
    m.dispose();
  }
}

function checkImports(mod: WebAssembly.Module): string[] {
  const names: string[] = [];
  for (const imp of WebAssembly.Module.imports(mod)) {
    const what = `${imp.module}.${imp.name}`;
    if (imp.kind !== 'function')
      throw new SandboxError('import-refused', `module imports ${imp.kind} ${what}: only ${WASI_MODULE} functions may be imported`);
    if (imp.module !== WASI_MODULE)
      throw new SandboxError(
        'import-refused',
        `module imports ${what}: only ${WASI_MODULE} functions may be imported (no ambient host functions)`,
      );
    // The signature is checked with binaryen below; here only the name, with every optional
    // import allowed: whether the task allows the clock or randomness is checkTask's question.
    const verdict = allowedImport(imp.name, { clock: true, random: true });
    if ('refused' in verdict) throw new SandboxError('import-refused', `module imports ${what}, which is refused: ${verdict.refused}`);
    names.push(imp.name);
  }
  return [...new Set(names)].sort();
}

function checkExports(mod: WebAssembly.Module): void {
  const exports = WebAssembly.Module.exports(mod);
  for (const e of exports) {
    if (e.name.startsWith(RESERVED_EXPORT_PREFIX))
      throw new SandboxError(
        'invalid-module',
        `module exports ${e.name}: names starting with ${RESERVED_EXPORT_PREFIX} are reserved for the sandbox`,
      );
  }
  const start = exports.find((e) => e.name === '_start');
  if (start?.kind !== 'function')
    throw new SandboxError('invalid-module', 'module does not export a _start function: the sandbox runs WASI commands');
  const memory = exports.find((e) => e.name === 'memory');
  if (memory?.kind !== 'memory')
    throw new SandboxError('invalid-module', 'module does not export its memory as "memory", as WASI requires');
}

const VALTYPE_NAMES = new Map<number, string>([
  [binaryen.i32, 'i32'],
  [binaryen.i64, 'i64'],
  [binaryen.f32, 'f32'],
  [binaryen.f64, 'f64'],
]);
const typeList = (type: number) => binaryen.expandType(type).map((t) => VALTYPE_NAMES.get(t) ?? `type#${t}`);
const formatSig = (s: Signature) => `(${s.params.join(', ')}) -> (${s.results.join(', ')})`;

function checkImportSignatures(m: binaryen.Module): void {
  for (let i = 0; i < m.getNumFunctions(); i++) {
    const f = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
    if (!f.module || !f.base) continue;
    const verdict = allowedImport(f.base, { clock: true, random: true });
    if ('refused' in verdict) continue; // checkImports has refused it already
    const actual: Signature = { params: typeList(f.params) as Signature['params'], results: typeList(f.results) as Signature['results'] };
    if (formatSig(actual) !== formatSig(verdict.signature))
      throw new SandboxError(
        'import-refused',
        `module imports ${f.module}.${f.base} as ${formatSig(actual)}; WASI preview 1 defines it as ${formatSig(verdict.signature)}`,
      );
  }
}

/** The exported memory: 32-bit, not shared, the module's only one. */
function checkMemory(m: binaryen.Module): { name: string; initial: number; max: number | null } {
  const name = binaryen.getExportInfo(m.getExport('memory')).value;
  const info = m.getMemoryInfo(name);
  if (info.shared) throw new SandboxError('feature-refused', 'module uses threads (shared memory), which the sandbox refuses');
  if (info.is64) throw new SandboxError('feature-refused', 'module uses memory64, which the sandbox refuses');
  return { name, initial: info.initial, max: info.max ?? null };
}

/**
 * binaryen's -O2, with every global setting that could change semantics pinned: no fast-math
 * (it would let binaryen change float results), traps kept, nothing assumed about memory. The
 * settings are process-wide in binaryen, so they are set here and restored afterwards.
 */
function optimize(m: binaryen.Module): void {
  const saved = {
    optimize: binaryen.getOptimizeLevel(),
    shrink: binaryen.getShrinkLevel(),
    debug: binaryen.getDebugInfo(),
    fastMath: binaryen.getFastMath(),
    trapsNeverHappen: binaryen.getTrapsNeverHappen(),
    lowMemoryUnused: binaryen.getLowMemoryUnused(),
    zeroFilledMemory: binaryen.getZeroFilledMemory(),
    closedWorld: binaryen.getClosedWorld(),
  };
  try {
    binaryen.setOptimizeLevel(2);
    binaryen.setShrinkLevel(0);
    binaryen.setDebugInfo(false);
    binaryen.setFastMath(false);
    binaryen.setTrapsNeverHappen(false);
    binaryen.setLowMemoryUnused(false);
    binaryen.setZeroFilledMemory(false);
    binaryen.setClosedWorld(false);
    m.optimize();
  } finally {
    binaryen.setOptimizeLevel(saved.optimize);
    binaryen.setShrinkLevel(saved.shrink);
    binaryen.setDebugInfo(saved.debug);
    binaryen.setFastMath(saved.fastMath);
    binaryen.setTrapsNeverHappen(saved.trapsNeverHappen);
    binaryen.setLowMemoryUnused(saved.lowMemoryUnused);
    binaryen.setZeroFilledMemory(saved.zeroFilledMemory);
    binaryen.setClosedWorld(saved.closedWorld);
  }
}

/**
 * The per-task checks, at load like the others: the clock and randomness imports need the
 * task's allowance, and the module's initial memory must fit the task's cap. (A declared
 * maximum above the cap is accepted: toolchains often declare 4 GiB, and the cap is enforced
 * at run time, where memory.grow past it returns -1.)
 */
export function checkTask(info: ModuleInfo, allow: Allowances, limits: Pick<Limits, 'memoryBytes'>): void {
  for (const name of info.imports) {
    const verdict = allowedImport(name, allow);
    if ('refused' in verdict)
      throw new SandboxError('import-refused', `module imports ${WASI_MODULE}.${name}, which is refused: ${verdict.refused}`);
  }
  const capPages = Math.floor(limits.memoryBytes / 65536);
  if (info.memory.initialPages > capPages)
    throw new SandboxError(
      'memory-cap',
      `module's initial memory is ${info.memory.initialPages} pages (${info.memory.initialPages * 65536} bytes), over the task's memory cap of ${limits.memoryBytes} bytes (${capPages} pages)`,
    );
}
