// Flag parsing (node:util parseArgs) and the checks every command shares. Each check throws a
// UsageError whose message names the flag and the bad value, before anything is done.
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isAddress, parseEther, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { readDeploymentFile, type Deployment } from '@groundwork/contracts';
import { readKeyFile } from '@groundwork/agent';
import { UsageError, oneLine } from './io.ts';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;
export type Flags = { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };

/** Parses `argv` strictly against `spec`; `positionals` is how many positional arguments are allowed. */
export function parseFlags(argv: readonly string[], spec: FlagSpec, positionals = 0): Flags {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(translateParseError(err as Error & { code?: string }));
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`);
  }
  return { values: parsed.values as Flags['values'], positionals: parsed.positionals };
}

function translateParseError(err: Error & { code?: string }): string {
  const flag = /'(-{1,2}[^'\s<]+)/.exec(err.message)?.[1];
  const positional = /Unexpected argument '([^']*)'/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag ?? err.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(err.message)) return `${flag} takes no value`;
      return `${flag} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(positional ?? '')}`;
    default:
      return oneLine(err.message);
  }
}

/** True when the command line asks for help (before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

export function optional(f: Flags, name: string): string | undefined {
  const v = f.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function required(f: Flags, name: string): string {
  const v = optional(f, name);
  if (v === undefined) throw new UsageError(`missing --${name}`);
  return v;
}

export function flag(f: Flags, name: string): boolean {
  return f.values[name] === true;
}

export function list(f: Flags, name: string): string[] {
  const v = f.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** Exactly one of two flags. */
export function oneOf(f: Flags, a: string, b: string): { name: string; value: string } {
  const va = optional(f, a);
  const vb = optional(f, b);
  if (va !== undefined && vb !== undefined) throw new UsageError(`give --${a} or --${b}, not both`);
  if (va !== undefined) return { name: a, value: va };
  if (vb !== undefined) return { name: b, value: vb };
  throw new UsageError(`missing --${a} (or --${b})`);
}

export function integer(name: string, value: string, o: { min?: number; max?: number } = {}): number {
  const min = o.min ?? 0;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  if (o.max !== undefined && n > o.max) throw new UsageError(`--${name} must be at most ${o.max}, got ${n}`);
  return n;
}

export function port(name: string, value: string): number {
  return integer(name, value, { min: 0, max: 65535 });
}

/** A positive whole number as a bigint (credits). */
export function positiveBigint(name: string, value: string): bigint {
  if (!/^\d+$/.test(value) || BigInt(value) === 0n)
    throw new UsageError(`--${name} must be a positive whole number, got ${JSON.stringify(value)}`);
  return BigInt(value);
}

/** Whole tokens with up to 18 decimals ("10", "2.5") → token units. */
export function tokenAmount(name: string, value: string): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(value))
    throw new UsageError(`--${name} must be an amount of tokens such as 10 or 2.5 (at most 18 decimals), got ${JSON.stringify(value)}`);
  const units = parseEther(value);
  if (units === 0n) throw new UsageError(`--${name} must be more than zero`);
  return units;
}

/** An H3 cell index in hex (15 or 16 digits, optional 0x). */
export function h3Location(name: string, value: string): bigint {
  if (!/^(0x)?[0-9a-fA-F]{15,16}$/.test(value))
    throw new UsageError(`--${name} must be an H3 cell index in hex (e.g. 8a2a1072b59ffff), got ${JSON.stringify(value)}`);
  const n = BigInt(value.startsWith('0x') ? value : `0x${value}`);
  if (n === 0n) throw new UsageError(`--${name} must not be zero`);
  return n;
}

/** An address given as flag `name`, or as the positional `<name>` when `name` is written so. */
export function address(name: string, value: string): Address {
  const label = name.startsWith('<') ? name : `--${name}`;
  if (!/^0x[0-9a-fA-F]{40}$/.test(value))
    throw new UsageError(`${label} must be a 0x-prefixed 20-byte address, got ${JSON.stringify(value)}`);
  if (!isAddress(value)) throw new UsageError(`${label} ${value} has a bad checksum (mixed case that is not EIP-55)`);
  return value as Address;
}

/** A secp256k1 private key; the value itself is never echoed. */
export function privateKey(name: string, value: string): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new UsageError(`--${name} must be 0x followed by 64 hex digits`);
  try {
    privateKeyToAccount(value as Hex);
  } catch {
    throw new UsageError(`--${name} is not a valid secp256k1 private key`);
  }
  return value as Hex;
}

/** Where a private key comes from: `--<flag>` inline (checked now) or `--<flag>-file` (read later). */
export type KeySource = { flag: string; key?: Hex; file?: string };

/** `--<key>` or `--<key>-file` (a file holding the hex key); exactly one. */
export function keySource(f: Flags, keyFlag: string): KeySource {
  const { name, value } = oneOf(f, keyFlag, `${keyFlag}-file`);
  return name === keyFlag ? { flag: name, key: privateKey(name, value) } : { flag: name, file: value };
}

export function loadPrivateKey(src: KeySource): Hex {
  if (src.key) return src.key;
  existingFile(src.flag, src.file!);
  return privateKey(src.flag, readFileSync(src.file!, 'utf8').trim());
}

export function url(name: string, value: string, protocols = ['http:', 'https:']): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`--${name} must be a URL such as http://127.0.0.1:8545, got ${JSON.stringify(value)}`);
  }
  if (!protocols.includes(u.protocol))
    throw new UsageError(`--${name} must be an ${protocols.map((p) => p.replace(':', '')).join('/')} URL, got ${JSON.stringify(value)}`);
  return value.replace(/\/+$/, '');
}

export function existingFile(name: string, file: string): string {
  if (!existsSync(file)) throw new UsageError(`--${name} ${file}: no such file`);
  if (!statSync(file).isFile()) throw new UsageError(`--${name} ${file}: not a file`);
  return file;
}

/** Reads and checks a deployment file (parameters included, bigints revived). */
export function loadDeployment(name: string, file: string): Deployment {
  existingFile(name, file);
  try {
    return readDeploymentFile(file);
  } catch (err) {
    throw new UsageError(`--${name}: ${oneLine((err as Error).message)}`);
  }
}

/** Reads a device key file (P-256 PEM, mode 0600). */
export function loadKeyFile(name: string, file: string): KeyObject {
  existingFile(name, file);
  try {
    return readKeyFile(file);
  } catch (err) {
    throw new UsageError(`--${name}: ${oneLine((err as Error).message)}`);
  }
}

/** The deployment's network kinds; `kind` must be one of them. */
export function networkOf(name: string, kind: string, deployment: Deployment): string {
  const kinds = deployment.networks.map((n) => n.kind);
  if (!kinds.includes(kind))
    throw new UsageError(`--${name} ${JSON.stringify(kind)} is not a network of this deployment (it has ${kinds.join(', ')})`);
  return kind;
}
