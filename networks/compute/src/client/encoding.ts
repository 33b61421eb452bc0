// The inverse of sandbox/encoding.ts's encodeRunOutputs: what a consumer turns a verified output
// blob back into (exit code, stdout, the files of /output). Strict: the bytes must be exactly
// what encodeRunOutputs writes (magic, stdout first under the empty name, the files' names unique
// and in UTF-8 order, no bytes after the last entry), so one result has one encoding and a blob
// that decodes is one an honest provider could have produced.
import { OUTPUT_ENCODING_MAGIC, type RunOutputs } from '../sandbox/encoding.ts';

/** A blob that is not a canonical run-output encoding. */
export class OutputEncodingError extends Error {
  override readonly name = 'OutputEncodingError';
}

const MAGIC = Buffer.from(OUTPUT_ENCODING_MAGIC, 'ascii');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes encodeRunOutputs' bytes. Throws OutputEncodingError saying what is wrong. */
export function decodeRunOutputs(bytes: Uint8Array): RunOutputs & { outputs: Map<string, Uint8Array> } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new OutputEncodingError(`not a canonical run output (${bytes.length} bytes): ${what}`);
  };
  if (buf.length < MAGIC.length + 8 || !buf.subarray(0, MAGIC.length).equals(MAGIC))
    fail(`it does not start with ${JSON.stringify(OUTPUT_ENCODING_MAGIC)}`);
  let at = MAGIC.length;
  const exitCode = buf.readUInt32BE(at);
  const count = buf.readUInt32BE(at + 4);
  at += 8;
  if (count < 1) fail('it has no stdout entry');
  const take = (n: number, what: string): Buffer => {
    if (n > buf.length - at) fail(`${what} runs past the end`);
    const out = buf.subarray(at, at + n);
    at += n;
    return out;
  };
  let stdout: Uint8Array = new Uint8Array(0);
  const outputs = new Map<string, Uint8Array>();
  let previous: Buffer | null = null;
  for (let i = 0; i < count; i++) {
    const nameLength = take(4, `entry ${i}'s name length`).readUInt32BE(0);
    const nameBytes = take(nameLength, `entry ${i}'s name`);
    const size = take(8, `entry ${i}'s data length`).readBigUInt64BE(0);
    if (size > BigInt(buf.length - at)) fail(`entry ${i}'s data runs past the end`);
    // A copy, so the caller's buffer can be released and what is returned can be transferred.
    const data = new Uint8Array(take(Number(size), `entry ${i}'s data`));
    if (i === 0) {
      if (nameLength !== 0) fail('its first entry is not stdout (the empty name)');
      stdout = data;
      continue;
    }
    if (nameLength === 0) fail(`entry ${i} has the empty name, which only stdout has`);
    if (previous && Buffer.compare(previous, nameBytes) >= 0) fail(`entry ${i}'s name is not after the one before it in UTF-8 order`);
    previous = nameBytes;
    let name: string;
    try {
      name = utf8.decode(nameBytes);
    } catch {
      return fail(`entry ${i}'s name is not UTF-8`);
    }
    outputs.set(name, data);
  }
  if (at !== buf.length) fail(`${buf.length - at} bytes follow the last entry`);
  return { exitCode, stdout, outputs };
}
