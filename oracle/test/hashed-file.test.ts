// HashedFile (src/hashed-file.ts) writes the same bytes and sha256 through the page cache and with
// O_DIRECT, whatever the chunk sizes (across the staging buffer's edge, tails shorter than a
// block, empty files), on ext4 and on tmpfs. (tmpfs refused O_DIRECT at open before Linux 6.6,
// which is the fallback's case; on newer kernels it takes it, so which path ran is not asserted.)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { seededUnit } from '@groundwork/protocol';
import { HashedFile } from '../src/hashed-file.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gw-hashed-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `total` pseudo-random bytes cut into chunks of seeded sizes up to `maxChunk`. */
function chunks(total: number, maxChunk: number, seed: number): Uint8Array[] {
  const random = seededUnit(seed);
  const out: Uint8Array[] = [];
  for (let left = total; left > 0; ) {
    const n = Math.min(left, 1 + Math.floor(random() * maxChunk));
    const c = new Uint8Array(n);
    for (let i = 0; i < n; i++) c[i] = Math.floor(random() * 256);
    out.push(c);
    left -= n;
  }
  return out;
}

function writeAndCheck(file: string, parts: Uint8Array[], direct: boolean): HashedFile {
  const out = new HashedFile(file, { direct });
  for (const p of parts) out.write(p);
  const written = out.finish(true);
  const expected = Buffer.concat(parts);
  const bytes = readFileSync(file);
  assert.ok(bytes.equals(expected), `${file}: same bytes`);
  assert.equal(written.size, expected.length);
  assert.equal(written.hash, `0x${createHash('sha256').update(expected).digest('hex')}`);
  return out;
}

describe('HashedFile', () => {
  const cases: [string, number, number][] = [
    ['empty', 0, 1],
    ['shorter than a block', 100, 7],
    ['exactly one block', 4096, 4096],
    ['a few MiB in small chunks, a tail mid-block', (9 << 20) + 123, 70_000],
    ['one chunk larger than the staging buffer', (5 << 20) + 4096, 6 << 20],
    ['exactly twice the staging buffer', 8 << 20, 1 << 20],
  ];
  for (const [name, total, maxChunk] of cases) {
    test(`${name}: the same bytes and hash buffered and direct`, () => {
      const parts = chunks(total, maxChunk, total + maxChunk);
      writeAndCheck(path.join(dir, `${name}-buffered`), parts, false);
      const direct = writeAndCheck(path.join(dir, `${name}-direct`), parts, true);
      // This suite's temporary directory is on ext4 in CI, which does direct I/O.
      if (statfsSync(dir).type === 0xef53) assert.equal(direct.direct, true, 'ext4 takes O_DIRECT');
    });
  }

  test('on tmpfs, direct or not as the kernel allows, the same bytes', (t) => {
    if (!existsSync('/dev/shm') || statfsSync('/dev/shm').type !== 0x01021994) return t.skip('no tmpfs at /dev/shm');
    const shm = mkdtempSync('/dev/shm/gw-hashed-file-');
    try {
      writeAndCheck(path.join(shm, 'file'), chunks(100_000, 9000, 7), true);
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });
});
