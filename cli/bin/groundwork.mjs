#!/usr/bin/env node
// Launcher for `groundwork`: the CLI is TypeScript run directly, so register tsx's ESM loader,
// then load the entry point. Every command reads the contracts' generated ABIs, so a fresh clone
// (or changed contract sources) is built first, with one progress line on stderr.
import { register } from 'tsx/esm/api';
import { ContractsBuildError, ensureContractsBuilt } from '@groundwork/contracts/build';

try {
  ensureContractsBuilt({ progress: (line) => process.stderr.write(`${line}\n`) });
} catch (err) {
  process.stderr.write(`error: ${err instanceof ContractsBuildError ? err.message : err.stack}\n`);
  process.exit(1);
}
register();
await import('../src/bin/groundwork.ts');
