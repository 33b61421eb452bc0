// @groundwork/cli: the `groundwork` command. `main(argv, io)` runs one command line in-process and
// resolves to its exit code: 0 done, 1 failed while working (or `epoch verify` FAIL), 2 bad
// command line (nothing was done).
import { readFileSync } from 'node:fs';
import { wantsHelp } from './args.ts';
import type { Command } from './command.ts';
import { COMPUTE_USAGE, computeCommands } from './commands/compute.ts';
import { COVERAGE_USAGE, coverageCommands } from './commands/coverage.ts';
import { CREDITS_USAGE, creditsCommands } from './commands/credits.ts';
import { devnetCommands } from './commands/devnet.ts';
import { EPOCH_USAGE, epochCommands } from './commands/epoch.ts';
import { oracleCommands } from './commands/oracle.ts';
import { PROVIDER_USAGE, providerCommands } from './commands/provider.ts';
import { simulateCommands } from './commands/simulate.ts';
import { STORAGE_USAGE, storageCommands } from './commands/storage.ts';
import { CliError, UsageError, describeError, envOf, line, processIo, type Io } from './io.ts';

export type { Io, Stream } from './io.ts';
export { UsageError, CliError } from './io.ts';
export type { Command } from './command.ts';

export const COMMANDS: readonly Command[] = [
  ...providerCommands,
  ...creditsCommands,
  ...computeCommands,
  ...storageCommands,
  ...coverageCommands,
  ...epochCommands,
  ...simulateCommands,
  ...oracleCommands,
  ...devnetCommands,
];

const GROUPS: Record<string, string> = {
  provider: PROVIDER_USAGE,
  credits: CREDITS_USAGE,
  compute: COMPUTE_USAGE,
  storage: STORAGE_USAGE,
  coverage: COVERAGE_USAGE,
  epoch: EPOCH_USAGE,
};

export const USAGE = `usage: groundwork <command> [options]

Groundwork: hardware agent, oracle and on-chain rewards for physical infrastructure networks.

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(20)} ${c.summary}`).join('\n')}

options:
  -h, --help             this text (\`groundwork <command> --help\` for a command's options)
  --version              print the version

Exit codes: 0 done; 1 failed while working (or \`epoch verify\` found a mismatch); 2 bad command
line (nothing was done). Set GROUNDWORK_DEBUG=1 to print stack traces.`;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs one command line; resolves to the exit code. Never throws. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const args = [...argv];
  const first = args[0];
  if (first === undefined) return usageError(io, 'missing command', USAGE);
  if (first === '--help' || first === '-h' || first === 'help') {
    line(io.stdout, USAGE);
    return 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    line(io.stdout, `groundwork ${version()}`);
    return 0;
  }
  let command: Command | undefined;
  let rest: string[] = [];
  const groupUsage = GROUPS[first];
  // A command may also have sub-commands of its own (`devnet` and `devnet faucet`).
  const subcommand = groupUsage ? undefined : COMMANDS.find((c) => c.name === `${first} ${args[1]}`);
  if (subcommand) {
    command = subcommand;
    rest = args.slice(2);
  } else if (groupUsage) {
    const sub = args[1];
    if (sub === undefined) return usageError(io, `missing ${first} command`, groupUsage);
    if (sub === '--help' || sub === '-h') {
      line(io.stdout, groupUsage);
      return 0;
    }
    command = COMMANDS.find((c) => c.name === `${first} ${sub}`);
    if (!command) return usageError(io, `unknown ${first} command ${JSON.stringify(sub)}`, groupUsage);
    rest = args.slice(2);
  } else {
    command = COMMANDS.find((c) => c.name === first);
    if (!command) return usageError(io, `unknown command ${JSON.stringify(first)}`, USAGE);
    rest = args.slice(1);
  }
  if (wantsHelp(rest)) {
    line(io.stdout, command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) return usageError(io, err.message, command.usage);
    line(io.stderr, `error: ${err instanceof CliError ? err.message : describeError(err)}`);
    if (envOf(io).GROUNDWORK_DEBUG === '1' && err instanceof Error && err.stack) line(io.stderr, err.stack);
    return 1;
  }
}

function usageError(io: Io, message: string, usage: string): number {
  line(io.stderr, `error: ${message}`);
  line(io.stderr);
  line(io.stderr, usage);
  return 2;
}
