// A provider's shards on its own disk. Per shard, in <dir>/<deal>/:
//   <i>.hold     what the oracle placed here (root, bytes, until): uploads are checked against it
//   <i>.shard    the bytes, written only once they reached the root (temp file, fsync, rename)
//   <i>.leaves   the leaf hashes (32 B per 8 KiB leaf), so a proof needs no full re-hash
// Nothing half-written is ever taken for a shard: a crash mid-upload leaves only a temp file, which
// the next upload of that shard replaces.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { bytesToHex, type Hex } from 'viem';
import { LEAF_BYTES, leafBytes, merklePath, rootOf, ShardHasher, treeLevels } from '../commitment.ts';
import type { ProofBundle } from './wire.ts';

export type Hold = { root: Hex; bytes: number; until: number };

export class ShardStoreError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const DEAL_RE = /^0x[0-9a-f]{64}$/;

export class ShardStore {
  constructor(readonly dir: string) {}

  private base(deal: string, shard: number): string {
    if (!DEAL_RE.test(deal) || !Number.isInteger(shard) || shard < 0 || shard > 254)
      throw new ShardStoreError(400, 'bad-shard', `no shard ${shard} of deal ${deal}`);
    return path.join(this.dir, deal, String(shard));
  }

  async hold(deal: string, shard: number, hold: Hold): Promise<void> {
    const base = this.base(deal, shard);
    await mkdir(path.dirname(base), { recursive: true });
    // The oracle's hold order and an upload asking the oracle may write at once: each its own temp file.
    const tmp = `${base}.hold-${process.pid}-${randomBytes(6).toString('hex')}`;
    await writeFile(tmp, JSON.stringify(hold));
    await rename(tmp, `${base}.hold`);
  }

  async holdOf(deal: string, shard: number): Promise<Hold | null> {
    try {
      return JSON.parse(await readFile(`${this.base(deal, shard)}.hold`, 'utf8')) as Hold;
    } catch {
      return null;
    }
  }

  async has(deal: string, shard: number): Promise<boolean> {
    return stat(`${this.base(deal, shard)}.shard`).then(
      () => true,
      () => false,
    );
  }

  /**
   * Writes an upload of a held shard: streamed to a temp file while its leaves are hashed, kept
   * only if it has exactly the held size and reaches the held root.
   */
  async put(deal: string, shard: number, body: Readable): Promise<{ root: Hex; bytes: number }> {
    const base = this.base(deal, shard);
    const hold = await this.holdOf(deal, shard);
    if (!hold) throw new ShardStoreError(403, 'not-placed', `shard ${shard} of deal ${deal} was not placed on this provider`);
    const hasher = new ShardHasher();
    const tmp = `${base}.upload-${process.pid}-${randomBytes(6).toString('hex')}`;
    const out = createWriteStream(tmp);
    try {
      for await (const chunk of body) {
        const c = chunk as Buffer;
        if (hasher.bytes + c.length > hold.bytes)
          throw new ShardStoreError(413, 'too-large', `shard ${shard} of deal ${deal} is ${hold.bytes} bytes; the upload is longer`);
        hasher.update(c);
        if (!out.write(c)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      if (hasher.bytes !== hold.bytes)
        throw new ShardStoreError(
          400,
          'wrong-size',
          `shard ${shard} of deal ${deal} is ${hold.bytes} bytes; ${hasher.bytes} were uploaded`,
        );
      const leaves = hasher.finish();
      const root = bytesToHex(rootOf(treeLevels(leaves)));
      if (root !== hold.root)
        throw new ShardStoreError(400, 'wrong-root', `the upload's root ${root} is not shard ${shard}'s committed root ${hold.root}`);
      const fh = await open(tmp, 'r');
      await fh.sync();
      await fh.close();
      await writeFile(`${base}.leaves`, leaves);
      await rename(tmp, `${base}.shard`);
      return { root, bytes: hasher.bytes };
    } catch (err) {
      out.destroy();
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** A read stream of bytes [start, end] (inclusive) of a stored shard. */
  async read(
    deal: string,
    shard: number,
    range?: { start: number; end: number },
  ): Promise<{ stream: Readable; bytes: number; total: number }> {
    const file = `${this.base(deal, shard)}.shard`;
    const total = await stat(file).then(
      (s) => s.size,
      () => {
        throw new ShardStoreError(404, 'no-shard', `this provider holds no shard ${shard} of deal ${deal}`);
      },
    );
    const start = range?.start ?? 0;
    const end = range ? Math.min(range.end, total - 1) : total - 1;
    if (start > end && total > 0) throw new ShardStoreError(416, 'bad-range', `bytes ${start}-${end} are outside the shard's ${total}`);
    return {
      stream: createReadStream(file, total === 0 ? { start: 0, end: -1 } : { start, end }),
      bytes: Math.max(0, end - start + 1),
      total,
    };
  }

  /** The answer to a challenge: each leaf read from disk now, with its path from the stored leaf hashes. */
  async prove(deal: string, shard: number, epoch: number, device: Hex, leaves: readonly number[]): Promise<ProofBundle> {
    const base = this.base(deal, shard);
    const hold = await this.holdOf(deal, shard);
    if (!hold) throw new ShardStoreError(404, 'not-placed', `shard ${shard} of deal ${deal} is not held here`);
    const fh = await open(`${base}.shard`, 'r').catch(() => {
      throw new ShardStoreError(404, 'no-shard', `shard ${shard} of deal ${deal} is missing from disk`);
    });
    try {
      const levels = treeLevels(new Uint8Array(await readFile(`${base}.leaves`)));
      const answers = [];
      for (const index of leaves) {
        const leaf = Buffer.alloc(leafBytes(hold.bytes, index));
        await fh.read(leaf, 0, leaf.length, index * LEAF_BYTES);
        answers.push({ index, leaf: leaf.toString('base64'), path: merklePath(levels, index).map((p) => bytesToHex(p)) });
      }
      return { deal: deal as Hex, shard, epoch, device, leaves: answers };
    } finally {
      await fh.close();
    }
  }

  async drop(deal: string, shard: number): Promise<void> {
    const base = this.base(deal, shard);
    for (const ext of ['.shard', '.leaves', '.hold']) await rm(`${base}${ext}`, { force: true });
    await rm(path.dirname(base), { recursive: false }).catch(() => {});
  }

  /** Removes temp files a crash left (an upload or a hold cut short); call before serving. */
  async sweep(): Promise<number> {
    let removed = 0;
    for (const d of await readdir(this.dir).catch(() => [] as string[])) {
      if (!DEAL_RE.test(d)) continue;
      for (const f of await readdir(path.join(this.dir, d)).catch(() => [] as string[])) {
        if (!/\.(upload|hold)-\d+-[0-9a-f]+$/.test(f)) continue;
        await rm(path.join(this.dir, d, f), { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Bytes of shards stored (for the offer's free space). */
  async usedBytes(): Promise<number> {
    let used = 0;
    const deals = await readdir(this.dir).catch(() => [] as string[]);
    for (const d of deals) {
      if (!DEAL_RE.test(d)) continue;
      for (const f of await readdir(path.join(this.dir, d)).catch(() => [] as string[])) {
        if (f.endsWith('.hold')) used += ((await readFile(path.join(this.dir, d, f), 'utf8').then(JSON.parse)) as Hold).bytes;
      }
    }
    return used;
  }
}
