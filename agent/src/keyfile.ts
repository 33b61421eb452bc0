// Device key files: PKCS#8 PEM, created with mode 0600 and never overwritten.
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { exportDeviceKey, generateDeviceKey, importDeviceKey } from '@groundwork/protocol';

export class KeyFileError extends Error {
  override name = 'KeyFileError';
}

/** Writes a new key (or `key`) to `file` with mode 0600; refuses to overwrite an existing file. */
export function createKeyFile(file: string, key?: KeyObject): KeyObject {
  if (existsSync(file)) throw new KeyFileError(`${file} already exists; refusing to overwrite a device key`);
  const privateKey = key ?? generateDeviceKey().privateKey;
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, exportDeviceKey(privateKey), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return privateKey;
}

/** Reads a device key file; refuses files other users can read. */
export function readKeyFile(file: string): KeyObject {
  if (!existsSync(file)) throw new KeyFileError(`no device key at ${file} (run \`groundwork provider init\`)`);
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw new KeyFileError(`${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${file}`);
  try {
    return importDeviceKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new KeyFileError(`${file}: ${(err as Error).message}`);
  }
}
