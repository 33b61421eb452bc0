// A file being written with the sha256 of what went into it: how an artifact reaches the disk,
// on the closer's thread or on the writer thread (artifact-file.ts, artifact-writer-main.ts).
//
// Large artifacts (gigabytes at a million devices) can be written with O_DIRECT. Through the page
// cache every byte is first copied into a freshly allocated cache page, and on a virtual machine
// whose freed memory goes back to the host each of those pages is a fault in the host too: on the
// project's 2-core VM, 2.7 GB took 8.3 s of kernel CPU buffered against 0.5 s direct (dd, 1 MiB
// blocks), and the artifact writer spent 11 s of its 23 s in write(2). Direct writes need the
// memory, the file offset and the length aligned to the device's block, so bytes are gathered in
// a page-aligned staging buffer (a WebAssembly memory, whose base is page-aligned) and written a
// whole buffer at a time; the last, partial block is written through the page cache after the
// direct descriptor is closed.
import { createHash } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, writeSync } from 'node:fs';
import type { Hex } from 'viem';

/** What was written; `direct`: whether with O_DIRECT. */
export type WrittenFile = { size: number; hash: Hex; direct: boolean };

export type HashedFileOptions = {
  /**
   * Write with O_DIRECT where the file system allows it (default false). Where it does not (tmpfs
   * refuses O_DIRECT at open, other systems have no such flag), the file is written through the
   * page cache and `direct` is false: the bytes and the hash are the same either way.
   */
  direct?: boolean;
};

/** Alignment direct writes keep (memory, offset, length): the largest logical block in use. */
const BLOCK = 4096;
/** Bytes gathered before one direct write. */
const STAGE_BYTES = 4 << 20;
const WASM_PAGE = 65536;

function writeAll(fd: number, bytes: Uint8Array, position: number | null): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at, position === null ? null : position + at);
}

export class HashedFile {
  private fd: number;
  private readonly sha = createHash('sha256');
  private open = true;
  /** Page-aligned staging buffer while writing directly; null when writing through the page cache. */
  private stage: Uint8Array | null = null;
  private staged = 0;
  size = 0;
  /** Whether the file is being written with O_DIRECT. */
  readonly direct: boolean;

  constructor(
    readonly file: string,
    options: HashedFileOptions = {},
  ) {
    const flag = constants.O_DIRECT;
    let fd = -1;
    if (options.direct && flag) {
      try {
        fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | flag, 0o644);
      } catch (err) {
        // EINVAL: this file system does not do direct I/O; anything else is a real failure.
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      }
    }
    this.direct = fd >= 0;
    if (this.direct) this.stage = new Uint8Array(new WebAssembly.Memory({ initial: STAGE_BYTES / WASM_PAGE }).buffer);
    else fd = openSync(file, 'w');
    this.fd = fd;
  }

  /** Hashes and writes all of `chunk`. */
  write(chunk: Uint8Array): void {
    this.sha.update(chunk);
    this.size += chunk.length;
    const stage = this.stage;
    if (!stage) {
      writeAll(this.fd, chunk, null);
      return;
    }
    for (let at = 0; at < chunk.length; ) {
      const n = Math.min(chunk.length - at, stage.length - this.staged);
      stage.set(chunk.subarray(at, at + n), this.staged);
      this.staged += n;
      at += n;
      if (this.staged === stage.length) {
        writeAll(this.fd, stage, null);
        this.staged = 0;
      }
    }
  }

  /** fsyncs (unless `sync` is false), closes, and gives the size and hash. */
  finish(sync: boolean): WrittenFile {
    if (this.stage) {
      // The whole blocks directly; the tail through the page cache at its offset.
      const whole = this.staged - (this.staged % BLOCK);
      if (whole) writeAll(this.fd, this.stage.subarray(0, whole), null);
      const tail = this.stage.subarray(whole, this.staged);
      this.open = false;
      closeSync(this.fd);
      this.fd = openSync(this.file, 'r+');
      this.open = true;
      if (tail.length) writeAll(this.fd, tail, this.size - tail.length);
      this.stage = null;
    }
    if (sync) fsyncSync(this.fd);
    this.close();
    return { size: this.size, hash: `0x${this.sha.digest('hex')}`, direct: this.direct };
  }

  /** Closes the file (once; later calls do nothing). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    closeSync(this.fd);
  }
}
