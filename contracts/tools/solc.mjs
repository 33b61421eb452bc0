#!/usr/bin/env node
// Forge cannot download a Solidity compiler on machines without internet access, so it is pointed
// (foundry.toml `solc = ...`) at this wrapper around the npm `solc` package, pinned in
// package.json. Forge only needs two entry points of the native CLI: `--version` and
// `--standard-json` (input on stdin, output on stdout). See DEVELOPERS.md.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const solc = require('solc');

const args = process.argv.slice(2);

if (args.includes('--version')) {
  // Same shape as the native binary; forge parses the `Version:` line.
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}

if (!args.includes('--standard-json')) {
  process.stderr.write(`solc wrapper: unsupported arguments ${JSON.stringify(args)}; only --version and --standard-json are implemented\n`);
  process.exit(2);
}

// Import roots forge allows: --base-path, --include-path and --allow-paths, plus the cwd.
const roots = [process.cwd()];
for (let i = 0; i < args.length; i++) {
  if (['--base-path', '--include-path', '--allow-paths'].includes(args[i]) && args[i + 1]) {
    roots.push(...args[i + 1].split(','));
    i++;
  }
}

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.resolve(r, importPath));
  for (const file of candidates) {
    try {
      return { contents: readFileSync(file, 'utf8') };
    } catch {
      // try the next root
    }
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
}

const basePath = (() => {
  const i = args.indexOf('--base-path');
  return i >= 0 && args[i + 1] ? args[i + 1] : process.cwd();
})();

/** A file of a dependency (forge-std, OpenZeppelin): anything under a node_modules directory. */
function isDependency(file) {
  return path.resolve(basePath, file).split(path.sep).includes('node_modules');
}

// Warnings in dependencies are not ours to fix, and forge's `ignored_warnings_from` does not match
// them: solc names them by paths outside the project root, which forge compares unnormalised.
// So they are dropped here, and so is solc's "more than 256 warnings" notice (4591): in a build
// with forge-std, dependency warnings alone pass that limit, so the notice says nothing about our
// code. Our own sources are compiled with warnings as errors in a build of src/ alone
// (`npm run lint:sol`), where the limit is not reached.
const TRUNCATED = '4591';
const output = JSON.parse(solc.compile(readFileSync(0, 'utf8'), { import: findImports }));
if (Array.isArray(output.errors)) {
  output.errors = output.errors.filter((e) => {
    if (e.severity === 'error') return true;
    if (e.errorCode === TRUNCATED) return false;
    return !(e.sourceLocation?.file && isDependency(e.sourceLocation.file));
  });
}
process.stdout.write(JSON.stringify(output));
