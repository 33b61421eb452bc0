import type { Io } from './io.ts';

/** One `groundwork ...` command: its usage text and what it does with the rest of argv. */
export type Command = {
  /** Words after `groundwork`, e.g. "provider init". */
  name: string;
  summary: string;
  usage: string;
  /** Returns the exit code. Throws UsageError (exit 2) before doing anything on a bad command line. */
  run(argv: string[], io: Io): Promise<number>;
};

/** The --json and --help lines of a usage text, aligned to its other options (`width` = flag column). */
export function jsonFlag(width = 24): string {
  return `  ${'--json'.padEnd(width)}print the result as JSON on stdout`;
}
export function helpFlag(width = 24): string {
  return `  ${'-h, --help'.padEnd(width)}this text`;
}
