#!/usr/bin/env node
// Runs a Foundry tool (forge, anvil) from its npm platform package and passes its exit status on.
// The `forge` launcher in @foundry-rs/forge 1.7.1 exits 0 even when the tests fail (it never
// forwards the child's exit code), so scripts and CI must not use it. See DEVELOPERS.md.
//
//   node tools/foundry.mjs forge test
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

const ARCH = { x64: 'amd64', arm64: 'arm64' };

/** Absolute path of the native binary of `tool` ("forge" or "anvil") for this platform. */
export function foundryBinary(tool) {
  const arch = ARCH[process.arch];
  if (!arch) throw new Error(`Foundry has no npm binary for architecture ${process.arch}`);
  const exe = process.platform === 'win32' ? `${tool}.exe` : tool;
  const pkg = `@foundry-rs/${tool}-${process.platform}-${arch}`;
  let file;
  try {
    file = require.resolve(`${pkg}/bin/${exe}`);
  } catch {
    throw new Error(`${pkg} is not installed: run npm ci (it is an optional dependency of @foundry-rs/${tool})`);
  }
  if (!existsSync(file)) throw new Error(`${file} is missing: reinstall with npm ci`);
  return file;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [tool, ...args] = process.argv.slice(2);
  if (tool !== 'forge' && tool !== 'anvil') {
    process.stderr.write('usage: foundry.mjs <forge|anvil> [args...]\n');
    process.exit(2);
  }
  const result = spawnSync(foundryBinary(tool), args, { stdio: 'inherit' });
  if (result.error) {
    process.stderr.write(`${tool}: ${result.error.message}\n`);
    process.exit(1);
  }
  process.exit(result.status ?? 1);
}
