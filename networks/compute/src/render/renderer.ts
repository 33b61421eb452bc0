// The demo renderer as the host sees it: where the compiled module lives, how to get its bytes
// (building it first when needed), and a reference run in this process under Node's own WASI.
// The network's workers run the same module in their sandbox; a frame they return is checked
// against renderFrameLocally's bytes.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_DIR, buildRenderer, WASM_PATH } from '../../tools/build-renderer.mjs';

/** Absolute path of the compiled renderer (it exists once loadRendererWasm or the build ran). */
export function rendererWasmPath(): string {
  return WASM_PATH;
}

export function rendererBuildDir(): string {
  return BUILD_DIR;
}

/** The renderer module's bytes, compiling it first if it is missing or older than its sources. */
export async function loadRendererWasm(): Promise<Uint8Array<ArrayBuffer>> {
  const { wasmPath } = await buildRenderer({ quiet: true });
  return new Uint8Array(await readFile(wasmPath));
}

export interface LocalRunOptions {
  /** Bytes on the module's stdin (the scene JSON). */
  stdin?: string | Uint8Array;
  /** Arguments after the program name, e.g. `['--frame', '3']`. */
  args?: string[];
  /** Guest directory name to host directory, e.g. `{ '/input': dir }`. */
  preopens?: Record<string, string>;
}

export interface LocalRunResult {
  /** The status passed to proc_exit, 0 when `_start` returned; null when the module trapped. */
  exitCode: number | null;
  stdout: Uint8Array;
  stderr: string;
  /** The engine's message when the module trapped (which a well-formed run never does). */
  trap?: string;
}

const modules = new WeakMap<Uint8Array, Promise<WebAssembly.Module>>();

function compile(wasm: Uint8Array | WebAssembly.Module): Promise<WebAssembly.Module> {
  if (wasm instanceof WebAssembly.Module) return Promise.resolve(wasm);
  let m = modules.get(wasm);
  if (!m) {
    // Copy: compile wants a buffer it can own, and the caller may reuse theirs.
    m = WebAssembly.compile(new Uint8Array(wasm));
    modules.set(wasm, m);
  }
  return m;
}

/**
 * Runs the renderer (or any WASI preview 1 command) in this process. Stdin, stdout and stderr
 * are temporary files, because Node's WASI takes file descriptors rather than buffers. The run
 * is synchronous once started and cannot be interrupted: use it for trusted, small scenes.
 */
export async function runRendererLocally(wasm: Uint8Array | WebAssembly.Module, options: LocalRunOptions = {}): Promise<LocalRunResult> {
  const module = await compile(wasm);
  const dir = await mkdtemp(join(tmpdir(), 'gw-render-'));
  const fds: number[] = [];
  try {
    const stdinPath = join(dir, 'stdin');
    const stdoutPath = join(dir, 'stdout');
    const stderrPath = join(dir, 'stderr');
    await writeFile(stdinPath, options.stdin ?? '');
    const open = (path: string, flags: string) => {
      const fd = openSync(path, flags);
      fds.push(fd);
      return fd;
    };
    // Imported here, not at the top: node:wasi prints an ExperimentalWarning when loaded, and most
    // users of this package never render locally.
    const { WASI } = await import('node:wasi');
    const wasi = new WASI({
      version: 'preview1',
      args: ['render', ...(options.args ?? [])],
      env: {},
      preopens: options.preopens ?? {},
      stdin: open(stdinPath, 'r'),
      stdout: open(stdoutPath, 'w'),
      stderr: open(stderrPath, 'w'),
      returnOnExit: true,
    });
    const instance = await WebAssembly.instantiate(module, wasi.getImportObject() as WebAssembly.Imports);
    let exitCode: number | null;
    let trap: string | undefined;
    try {
      exitCode = wasi.start(instance);
    } catch (err) {
      if (!(err instanceof WebAssembly.RuntimeError)) throw err;
      exitCode = null;
      trap = err.message;
    }
    const result: LocalRunResult = {
      exitCode,
      stdout: new Uint8Array(readFileSync(stdoutPath)),
      stderr: readFileSync(stderrPath, 'utf8'),
    };
    if (trap !== undefined) result.trap = trap;
    return result;
  } finally {
    for (const fd of fds) closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  }
}

export class RenderError extends Error {
  override name = 'RenderError';
  constructor(
    message: string,
    readonly result: LocalRunResult,
  ) {
    super(message);
  }
}

/**
 * Renders one frame (1-based) of a scene in this process and returns the renderer's stdout: the
 * GWIMG1 bytes (decode with decodeRawImage). The reference for a frame the network returns.
 */
export async function renderFrameLocally(
  wasm: Uint8Array | WebAssembly.Module,
  sceneJson: string | Uint8Array,
  frame: number,
): Promise<Uint8Array> {
  if (!Number.isInteger(frame) || frame < 1) throw new RangeError(`frame must be a positive integer, got ${frame}`);
  const result = await runRendererLocally(wasm, { stdin: sceneJson, args: ['--frame', String(frame)] });
  if (result.exitCode !== 0) {
    const why = result.trap !== undefined ? `trapped: ${result.trap}` : `exited with status ${result.exitCode}`;
    const stderr = result.stderr.trim();
    throw new RenderError(`renderer ${why}${stderr ? `: ${stderr}` : ''}`, result);
  }
  return result.stdout;
}
