// A file being written with the sha256 of what went into it: how an artifact reaches the disk,
// on the closer's thread or on the writer thread (artifact-file.ts, artifact-writer-main.ts).
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { Hex } from 'viem';

export type WrittenFile = { size: number; hash: Hex };

export class HashedFile {
  private readonly fd: number;
  private readonly sha = createHash('sha256');
  private open = true;
  size = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w');
  }

  /** Hashes and writes all of `chunk`. */
  write(chunk: Uint8Array): void {
    this.sha.update(chunk);
    for (let at = 0; at < chunk.length; ) at += writeSync(this.fd, chunk, at);
    this.size += chunk.length;
  }

  /** fsyncs (unless `sync` is false), closes, and gives the size and hash. */
  finish(sync: boolean): WrittenFile {
    if (sync) fsyncSync(this.fd);
    this.close();
    return { size: this.size, hash: `0x${this.sha.digest('hex')}` };
  }

  /** Closes the file (once; later calls do nothing). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    closeSync(this.fd);
  }
}
