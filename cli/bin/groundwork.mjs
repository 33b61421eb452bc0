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
// Node's own WASI (which the compute network's local renders use to check the network's frames)
// warns that it is experimental on first use; that line would only confuse a terminal.
const emitWarning = process.emitWarning;
process.emitWarning = (warning, ...rest) => {
  if (String(warning).startsWith('WASI is an experimental feature')) return;
  emitWarning.call(process, warning, ...rest);
};
register();
await import('../src/bin/groundwork.ts');
