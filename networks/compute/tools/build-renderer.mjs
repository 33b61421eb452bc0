#!/usr/bin/env node
// Compiles the demo renderer (networks/compute/renderer/*.ts, AssemblyScript) into a WASI
// preview 1 command module at renderer/build/renderer.wasm.
//
//   node networks/compute/tools/build-renderer.mjs [--force]
//
// The compile takes seconds, so it is skipped when the output's recorded hash still matches: a
// SHA-256 over the sources, the compiler flags and the compiler and shim versions, kept beside the
// output as renderer.wasm.sha256. Progress goes to stderr only (stdout stays free for callers that
// pipe); a failed compile exits non-zero with the compiler's diagnostics.
//
// Plain JavaScript rather than TypeScript so that `npm run build` can run it without tsx.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const RENDERER_DIR = resolve(here, '..', 'renderer');
export const BUILD_DIR = join(RENDERER_DIR, 'build');
export const WASM_PATH = join(BUILD_DIR, 'renderer.wasm');
const HASH_PATH = `${WASM_PATH}.sha256`;
const ENTRY = join(RENDERER_DIR, 'main.ts');

const require = createRequire(import.meta.url);
const ascPackage = require.resolve('assemblyscript/package.json');
const shimPackage = require.resolve('@assemblyscript/wasi-shim/package.json');
const ASC_BIN = join(dirname(ascPackage), 'bin', 'asc.js');
// The shim redirects the runtime's abort/trace/console/process onto wasi_snapshot_preview1
// imports and exports `_start`, so the output is a plain WASI command.
const SHIM_CONFIG = join(dirname(shimPackage), 'asconfig.json');

// -O3 for speed; --noAssert drops assert() checks (the renderer validates its input itself);
// --runtime incremental is the default GC, spelled out because the flags are part of the hash.
// asc resolves `--config` and the config's `lib` by joining them onto its working directory, so an
// absolute path breaks it: run it in the package directory with relative paths.
const PACKAGE_DIR = dirname(RENDERER_DIR);
const ASC_FLAGS = ['--config', relative(PACKAGE_DIR, SHIM_CONFIG), '-O3', '--noAssert', '--runtime', 'incremental'];

async function sourceFiles() {
  const names = (await readdir(RENDERER_DIR)).filter((n) => n.endsWith('.ts')).sort();
  return names.map((n) => join(RENDERER_DIR, n));
}

/** The hash that identifies one build: sources (by name and content), flags, tool versions. */
export async function sourceHash() {
  const h = createHash('sha256');
  const versions = [ascPackage, shimPackage].map((p) => JSON.parse(readFileSync(p, 'utf8')).version);
  h.update(JSON.stringify({ flags: ASC_FLAGS.map((f) => (f.endsWith('asconfig.json') ? 'wasi-shim' : f)), versions }));
  for (const file of await sourceFiles()) {
    const data = await readFile(file);
    h.update(`\0${relative(RENDERER_DIR, file)}\0${data.length}\0`);
    h.update(data);
  }
  return h.digest('hex');
}

async function readIfExists(path) {
  try {
    return await readFile(path);
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
}

function runAsc(args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [ASC_BIN, ...args], { cwd: PACKAGE_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 1 : 0), signal, output }));
  });
}

/**
 * Builds renderer.wasm unless the recorded hash shows it is current.
 * @param {{ force?: boolean, quiet?: boolean }} [options]
 * @returns {Promise<{ wasmPath: string, built: boolean, hash: string, ms: number }>}
 */
export async function buildRenderer(options = {}) {
  const started = performance.now();
  const log = options.quiet ? () => {} : (msg) => process.stderr.write(`build-renderer: ${msg}\n`);
  const hash = await sourceHash();
  if (!options.force) {
    const recorded = (await readIfExists(HASH_PATH))?.toString('utf8').trim();
    const wasm = recorded === hash ? await readIfExists(WASM_PATH) : undefined;
    if (wasm && wasm.length > 0) {
      log(`up to date (${relative(process.cwd(), WASM_PATH)})`);
      return { wasmPath: WASM_PATH, built: false, hash, ms: performance.now() - started };
    }
  }
  log(`compiling ${relative(process.cwd(), ENTRY)} ...`);
  await mkdir(BUILD_DIR, { recursive: true });
  // Compile to a private name and rename into place, so a concurrent reader (another build, a
  // test) never sees a half-written module or a hash that belongs to a different module.
  const tmp = join(BUILD_DIR, `.renderer.${process.pid}.${Date.now()}.wasm`);
  const result = await runAsc([relative(PACKAGE_DIR, ENTRY), ...ASC_FLAGS, '--outFile', relative(PACKAGE_DIR, tmp)]);
  if (result.code !== 0) {
    await rm(tmp, { force: true });
    const err = new Error(`renderer compile failed (asc exit ${result.code}):\n${result.output.trim()}`);
    err.compilerOutput = result.output;
    throw err;
  }
  // Warnings only: show them, they are the compiler's to explain.
  if (result.output.trim()) log(result.output.trim());
  await rename(tmp, WASM_PATH);
  const hashTmp = `${tmp}.sha256`;
  await writeFile(hashTmp, `${hash}\n`);
  await rename(hashTmp, HASH_PATH);
  const ms = performance.now() - started;
  log(`wrote ${relative(process.cwd(), WASM_PATH)} in ${(ms / 1000).toFixed(1)} s`);
  return { wasmPath: WASM_PATH, built: true, hash, ms };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--force');
  if (unknown.length > 0) {
    process.stderr.write(`build-renderer: unknown argument ${unknown[0]}\nusage: build-renderer.mjs [--force]\n`);
    process.exit(2);
  }
  buildRenderer({ force: args.includes('--force') }).catch((err) => {
    process.stderr.write(`build-renderer: ${err.message}\n`);
    process.exit(1);
  });
}
