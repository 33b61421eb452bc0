// `npm run test:ts`: every *.test.ts file, in two passes. The files of pure logic (no chain, no
// devnet, no child process, nothing timed) run two at a time: most of their cost is starting a
// process with the TypeScript loader, which the two cores can overlap. Everything else (testnets,
// devnets, anvil, crash and kill scenarios) runs one file at a time, as it always has, so no
// scenario shares the machine with another. Both passes run; the exit code is the worse one.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const DIRS = ['contracts', 'protocol', 'networks', 'oracle', 'agent', 'sim', 'tokenomics', 'cli'];
/** Pure-logic test files (paths from the repository root): safe two at a time. */
const PARALLEL = [
  /^protocol\/src\/.*\.test\.ts$/,
  /^protocol\/test\/(artifact|encoding|epoch-close|epoch|findings|reward-columns|rewards|root-signature|schemas)\.test\.ts$/,
  /^networks\/compute\/test\/(judge|matcher|render|service|spec|verifier)\.test\.ts$/,
  /^networks\/(storage|uptime|coverage)\/test\/.*\.test\.ts$/,
  /^oracle\/test\/(hashed-file|signatures|slashing|artifact-file)\.test\.ts$/,
  /^cli\/test\/(storage|compute|simulate|coverage)\.test\.ts$/,
  /^tokenomics\/test\/simulator\.test\.ts$/,
  /^sim\/test\/coverage-(world|cheaters)\.test\.ts$/,
];

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(path.relative(root, p).split(path.sep).join('/'));
  }
  return out;
}

const files = DIRS.flatMap((d) => find(path.join(root, d), [])).sort();
const parallel = files.filter((f) => PARALLEL.some((re) => re.test(f)));
const serial = files.filter((f) => !parallel.includes(f));
let code = 0;
for (const [concurrency, list] of [
  [2, parallel],
  [1, serial],
]) {
  if (!list.length) continue;
  console.log(`# test:ts: ${list.length} files, ${concurrency} at a time`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...list], {
    cwd: root,
    stdio: 'inherit',
  });
  code = Math.max(code, r.status ?? 1);
}
process.exit(code);
