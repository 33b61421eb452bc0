// The canonical encoding of a run's result, whose CID is the run's outputCid: what two providers
// compare, and what a task's result is known by. stderr is left out (diagnostics, not result);
// so are the compute units (reported beside it) and anything about the machine.
//
//   "groundwork/compute-output/v1\n"      29 ASCII bytes
//   exit code                             u32 big-endian
//   entry count                           u32 big-endian: 1 + the number of output files
//   entries, each:
//     name length                         u32 big-endian
//     name                                UTF-8
//     data length                         u64 big-endian
//     data
//
// The first entry is stdout, with the empty name (no output file can have it); then the files
// of /output, named by their path relative to it ('frames/0001.png'), in the order of their
// names' UTF-8 bytes. Directories are not entries (an empty one leaves no trace).
import { cidOf } from '@groundwork/protocol';
import { compareUtf8 } from './wasi.ts';

export const OUTPUT_ENCODING_MAGIC = 'groundwork/compute-output/v1\n';

export type RunOutputs = { exitCode: number; stdout: Uint8Array; outputs: ReadonlyMap<string, Uint8Array> };

/** The canonical bytes of a run's exit code, stdout and output files (see the header). */
export function encodeRunOutputs({ exitCode, stdout, outputs }: RunOutputs): Uint8Array {
  const entries: [Uint8Array, Uint8Array][] = [[new Uint8Array(0), stdout]];
  for (const name of [...outputs.keys()].sort(compareUtf8)) {
    if (name === '') throw new Error('an output file cannot have the empty name');
    entries.push([Buffer.from(name, 'utf8'), outputs.get(name)!]);
  }
  const magic = Buffer.from(OUTPUT_ENCODING_MAGIC, 'ascii');
  let size = magic.length + 8;
  for (const [name, data] of entries) size += 4 + name.length + 8 + data.length;
  const out = Buffer.alloc(size);
  let at = magic.copy(out, 0);
  at = out.writeUInt32BE(exitCode >>> 0, at);
  at = out.writeUInt32BE(entries.length, at);
  for (const [name, data] of entries) {
    at = out.writeUInt32BE(name.length, at);
    out.set(name, at);
    at += name.length;
    at = out.writeBigUInt64BE(BigInt(data.length), at);
    out.set(data, at);
    at += data.length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** The CID of encodeRunOutputs(outputs). */
export function outputCidOf(outputs: RunOutputs): string {
  return cidOf(encodeRunOutputs(outputs));
}
