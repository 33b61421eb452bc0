#!/usr/bin/env node
// Rebuilds networks/compute/test/fixtures/c/wc.wasm from wc.c with clang and wasi-libc
// (wasm32-wasip1), as a consumer's C toolchain would build a job's module. The compiler is
// @yowasp/clang (LLVM built to WebAssembly, about 100 MB), which is not a dependency of the
// project: install it for this once, without saving it.
//
//   npm install --no-save @yowasp/clang && node networks/compute/tools/build-c-fixture.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../test/fixtures/c/', import.meta.url));
let runClang;
try {
  ({ runClang } = await import('@yowasp/clang'));
} catch {
  process.stderr.write('build-c-fixture: @yowasp/clang is not installed: npm install --no-save @yowasp/clang\n');
  process.exit(1);
}
const out = await runClang(['clang', '-O2', '--target=wasm32-wasip1', 'wc.c', '-o', 'wc.wasm'], {
  'wc.c': readFileSync(`${dir}wc.c`, 'utf8'),
});
writeFileSync(`${dir}wc.wasm`, out['wc.wasm']);
process.stderr.write(`build-c-fixture: wrote ${dir}wc.wasm (${out['wc.wasm'].length} bytes)\n`);
