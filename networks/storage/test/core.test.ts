import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { cidOf } from '@groundwork/protocol';
import { privateKeyToAccount } from 'viem/accounts';
import {
  decodeOrderHeader,
  encodeOrderHeader,
  type Order,
  orderDomain,
  orderSigner,
  retrievalCredits,
  signOrder,
  challengedLeaves,
  checkShardProof,
  DecryptionError,
  dealCommitment,
  decodeSegmentPieces,
  durability,
  encodeFileToShards,
  encodeSegment,
  ErasureError,
  initialReputation,
  isDisqualified,
  LEAF_BYTES,
  type Layout,
  leafCount,
  merklePath,
  pieceOffset,
  recordAudit,
  reconstructSegment,
  rootFromPath,
  rootOf,
  STORJ_REPUTATION,
  ShardHasher,
  segmentCount,
  segmentPieceBytes,
  shardBytes,
  shardInCommitment,
  shardRoot,
  treeLevels,
} from '../src/index.ts';
import { sha256 } from '../src/hash.ts';

/** Every way of choosing `r` of 0..n-1. */
function* subsets(n: number, r: number, from = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === r) yield chosen;
  else for (let i = from; i < n; i++) yield* subsets(n, r, i + 1, [...chosen, i]);
}

function decodeAll(layout: Layout, key: Uint8Array | null, shards: (Uint8Array | null)[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (let s = 0; s < segmentCount(layout); s++) {
    const at = pieceOffset(layout, s);
    const size = segmentPieceBytes(layout, s);
    out.push(
      decodeSegmentPieces(
        layout,
        key,
        s,
        shards.map((sh) => (sh ? sh.subarray(at, at + size) : null)),
      ),
    );
  }
  return Buffer.concat(out);
}

describe('erasure coding', () => {
  test('4-of-8: any 4 pieces rebuild all 8, for every choice of 4', () => {
    const data = randomBytes(4 * 1000 + 3);
    const { pieces, size } = encodeSegment(data, 4, 8);
    const original = Array.from({ length: 8 }, (_, i) => pieces.slice(i * size, (i + 1) * size));
    let cases = 0;
    for (const keep of subsets(8, 4)) {
      const given = original.map((p, i) => (keep.includes(i) ? p : null));
      const all = reconstructSegment(given, 4, 8);
      assert.deepEqual(Buffer.from(all), Buffer.from(pieces), `rebuilding from ${keep}`);
      cases++;
    }
    assert.equal(cases, 70);
    assert.deepEqual(Buffer.from(pieces.subarray(0, data.length)), data);
  });

  test("Storj's 29-of-80 code: random sets of 29 pieces rebuild the segment", () => {
    const data = randomBytes(29 * 64 + 5);
    const { pieces, size } = encodeSegment(data, 29, 80);
    const original = Array.from({ length: 80 }, (_, i) => pieces.slice(i * size, (i + 1) * size));
    for (let trial = 0; trial < 20; trial++) {
      const order = Array.from({ length: 80 }, (_, i) => i).sort(() => Math.random() - 0.5);
      const keep = new Set(order.slice(0, 29));
      const all = reconstructSegment(
        original.map((p, i) => (keep.has(i) ? p : null)),
        29,
        80,
      );
      assert.deepEqual(Buffer.from(all), Buffer.from(pieces));
    }
  });

  test('fewer than k pieces, mismatched sizes and impossible codes are refused by name', () => {
    const { pieces, size } = encodeSegment(randomBytes(400), 4, 8);
    const three = Array.from({ length: 8 }, (_, i) => (i < 3 ? pieces.slice(i * size, (i + 1) * size) : null));
    assert.throws(() => reconstructSegment(three, 4, 8), /only 3 of the 4 pieces/);
    const uneven = Array.from({ length: 8 }, (_, i) => pieces.slice(i * size, (i + 1) * size - (i === 2 ? 1 : 0)));
    assert.throws(() => reconstructSegment(uneven, 4, 8), /piece 2 has/);
    assert.throws(() => encodeSegment(new Uint8Array(10), 4, 4), ErasureError);
    assert.throws(() => encodeSegment(new Uint8Array(10), 0, 4), /1 ≤ k < n ≤ 255/);
    assert.throws(() => encodeSegment(new Uint8Array(10), 4, 256), /1 ≤ k < n ≤ 255/);
  });
});

describe('files to shards and back', () => {
  const base = { segmentBytes: 64 * 1024, k: 4, n: 8 };
  for (const encrypted of [true, false])
    for (const size of [0, 1, 64 * 1024 - 1, 64 * 1024, 2 * 64 * 1024 + 17]) {
      test(`${size} bytes, ${encrypted ? 'encrypted' : 'plain'}: round trip from every shard and from the last k only`, () => {
        const layout: Layout = { ...base, size, encrypted };
        const file = randomBytes(size);
        const key = encrypted ? randomBytes(32) : null;
        const enc = encodeFileToShards(file, layout, key);
        assert.equal(enc.cid, cidOf(file));
        assert.equal(enc.shardBytes, shardBytes(layout));
        for (const s of enc.shards) assert.equal(s.length, enc.shardBytes);
        assert.deepEqual(decodeAll(layout, key, enc.shards), file);
        const lastK = enc.shards.map((s, i) => (i >= layout.n - layout.k ? s : null));
        assert.deepEqual(decodeAll(layout, key, lastK), file);
        enc.shards.forEach((s, i) => {
          assert.deepEqual(Buffer.from(shardRoot(s)), Buffer.from(enc.shardRoots[i]!));
          assert.ok(shardInCommitment(enc.commitment, layout.n, enc.shardBytes, i, enc.shardRoots[i]!, enc.rootPaths[i]!));
        });
      });
    }

  test('encrypted shards do not contain the plaintext, and a flipped bit fails authentication at read', () => {
    const layout: Layout = { ...base, size: 50_000, encrypted: true };
    const file = Buffer.alloc(50_000, 'groundwork storage ');
    const key = randomBytes(32);
    const enc = encodeFileToShards(file, layout, key);
    for (const s of enc.shards) assert.equal(Buffer.from(s).includes(Buffer.from('groundwork storage')), false);
    const flipped = enc.shards.map((s) => s.slice());
    flipped[1]![100]! ^= 0x01;
    assert.throws(() => decodeAll(layout, key, flipped), DecryptionError);
    // The flipped shard no longer matches its commitment, which is how a reader finds which one.
    assert.notDeepEqual(Buffer.from(shardRoot(flipped[1]!)), Buffer.from(enc.shardRoots[1]!));
    assert.throws(() => decodeAll(layout, randomBytes(32), enc.shards), /failed authentication/);
  });
});

describe('commitments', () => {
  test('streaming in odd chunks gives the same root; every leaf of trees of 1..19 leaves proves', () => {
    for (let leaves = 1; leaves <= 19; leaves++) {
      const bytes = randomBytes((leaves - 1) * LEAF_BYTES + 1 + (leaves % 3) * 1000);
      assert.equal(leafCount(bytes.length), leaves);
      const h = new ShardHasher();
      for (let at = 0; at < bytes.length; at += 3001) h.update(bytes.subarray(at, at + 3001));
      const levels = treeLevels(h.finish());
      assert.deepEqual(Buffer.from(rootOf(levels)), Buffer.from(shardRoot(bytes)));
      for (let i = 0; i < leaves; i++) {
        const leaf = bytes.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES);
        const path = merklePath(levels, i);
        assert.deepEqual(Buffer.from(rootFromPath(sha256(leaf), i, leaves, path)!), Buffer.from(rootOf(levels)));
        if (path.length > 0) {
          const bad = path.map((p) => p.slice());
          bad[0]![0]! ^= 1;
          assert.notDeepEqual(Buffer.from(rootFromPath(sha256(leaf), i, leaves, bad)!), Buffer.from(rootOf(levels)));
          assert.equal(rootFromPath(sha256(leaf), i, leaves, path.slice(1)), null);
        }
      }
    }
  });

  test("a deal's commitment binds the shard count, the shard size and every root", () => {
    const roots = Array.from({ length: 8 }, () => randomBytes(32));
    const { commitment, levels } = dealCommitment(1000, roots);
    assert.ok(shardInCommitment(commitment, 8, 1000, 3, roots[3]!, merklePath(levels, 3)));
    assert.equal(shardInCommitment(commitment, 8, 1001, 3, roots[3]!, merklePath(levels, 3)), false);
    assert.equal(shardInCommitment(commitment, 8, 1000, 4, roots[3]!, merklePath(levels, 3)), false);
    assert.equal(shardInCommitment(commitment, 8, 1000, 3, roots[4]!, merklePath(levels, 3)), false);
    assert.notDeepEqual(Buffer.from(dealCommitment(1000, roots.slice(0, 7)).commitment), Buffer.from(commitment));
  });
});

describe('storage proofs', () => {
  const shard = randomBytes(20 * LEAF_BYTES + 123);
  const h = new ShardHasher();
  h.update(shard);
  const levels = treeLevels(h.finish());
  const root = rootOf(levels);
  const entropy = `0x${'ab'.repeat(32)}`;
  const deal = `0x${'12'.repeat(32)}`;
  const answer = (i: number) => ({
    index: i,
    leaf: shard.subarray(i * LEAF_BYTES, Math.min(shard.length, (i + 1) * LEAF_BYTES)),
    path: merklePath(levels, i),
  });

  test('challenged leaves follow from the entropy, deal, shard and epoch, and cover the shard', () => {
    const a = challengedLeaves(entropy, deal, 0, 7, shard.length, 4);
    assert.deepEqual(challengedLeaves(entropy, deal, 0, 7, shard.length, 4), a);
    assert.notDeepEqual(challengedLeaves(entropy, deal, 1, 7, shard.length, 4), a);
    assert.notDeepEqual(challengedLeaves(entropy, deal, 0, 8, shard.length, 4), a);
    const seen = new Set(challengedLeaves(entropy, deal, 0, 7, shard.length, 2000));
    assert.equal(seen.size, 21, 'every leaf of the shard is challenged sometime');
  });

  test('honest answers pass; each kind of bad answer fails with its reason', () => {
    const idx = challengedLeaves(entropy, deal, 2, 3, shard.length, 3);
    assert.deepEqual(checkShardProof(root, shard.length, idx, idx.map(answer)), { ok: true });
    const reason = (answers: ReturnType<typeof answer>[]) => {
      const r = checkShardProof(root, shard.length, idx, answers);
      return r.ok ? 'ok' : r.reason;
    };
    assert.equal(reason(idx.slice(1).map(answer)), 'wrong-leaf-count');
    assert.equal(reason(idx.map((i) => answer((i + 1) % 21))), 'wrong-leaf');
    const flipped = idx.map(answer).map((a) => ({ ...a, leaf: a.leaf.slice() }));
    flipped[0]!.leaf[5]! ^= 0x10;
    assert.equal(reason(flipped), 'wrong-data');
    assert.equal(reason(idx.map(answer).map((a) => ({ ...a, leaf: a.leaf.subarray(1) }))), 'wrong-leaf-size');
    assert.equal(reason(idx.map(answer).map((a) => ({ ...a, path: a.path.slice(1) }))), 'malformed-path');
  });
});

describe('reputation and durability', () => {
  test("Storj's beta model disqualifies a perfect provider after 41 failures in a row, not 40", () => {
    let r = initialReputation(STORJ_REPUTATION);
    for (let i = 0; i < 40; i++) r = recordAudit(r, false, STORJ_REPUTATION);
    assert.equal(isDisqualified(r, STORJ_REPUTATION), false);
    r = recordAudit(r, false, STORJ_REPUTATION);
    assert.equal(isDisqualified(r, STORJ_REPUTATION), true);
    for (let i = 0; i < 100; i++) r = recordAudit(r, true, STORJ_REPUTATION);
    assert.equal(isDisqualified(r, STORJ_REPUTATION), false, 'passing audits restore the score');
  });

  test('durability grows with healthy shards and falls with the loss rate; too few shards is certain loss', () => {
    const p = 0.00005435;
    const d8 = durability(8, 4, p, 1);
    const d6 = durability(6, 4, p, 1);
    assert.ok(d8.nines > d6.nines && d6.nines > durability(5, 4, p, 1).nines);
    assert.ok(durability(8, 4, 10 * p, 1).nines < d8.nines);
    assert.deepEqual(durability(3, 4, p, 1), { lossPerYear: 1, nines: 0 });
    // 5 healthy, 4 needed: a window loses the file when 2 or more of 5 go; closed form for comparison.
    const q = p;
    const window = 1 - (1 - q) ** 5 - 5 * q * (1 - q) ** 4;
    const year = 1 - (1 - window) ** 365;
    assert.ok(Math.abs(durability(5, 4, p, 1).lossPerYear - year) / year < 1e-6);
  });
});

describe('retrieval orders', () => {
  const consumer = privateKeyToAccount(`0x${'11'.repeat(32)}`);
  const domain = orderDomain(31337, `0x${'22'.repeat(20)}`);
  const order: Order = {
    allowance: `0x${'33'.repeat(32)}`,
    deal: `0x${'44'.repeat(32)}`,
    shard: 3,
    device: `0x${'55'.repeat(32)}`,
    offset: 0,
    length: 65_536,
    credits: '1',
    serial: `0x${'66'.repeat(32)}`,
  };

  test('the price per read rounds up to whole credits, at least one', () => {
    assert.equal(retrievalCredits(0, 700), 1n);
    assert.equal(retrievalCredits(1, 700), 1n);
    assert.equal(retrievalCredits(1_000_000_000, 700), 700n);
    assert.equal(retrievalCredits(1_000_000_001, 700), 701n);
    assert.equal(retrievalCredits(2 ** 40, 700), 769_659n, '1 TiB at $7/TB');
    assert.throws(() => retrievalCredits(-1, 700), /whole number/);
  });

  test('a signed order recovers its consumer; any changed field recovers someone else', async () => {
    const signed = await signOrder(consumer, domain, order);
    assert.equal(await orderSigner(domain, signed), consumer.address);
    for (const tampered of [{ credits: '2' }, { shard: 4 }, { length: 65_537 }, { device: `0x${'77'.repeat(32)}` as const }])
      assert.notEqual(await orderSigner(domain, { ...signed, ...tampered }), consumer.address, JSON.stringify(tampered));
    assert.notEqual(await orderSigner(orderDomain(1, `0x${'22'.repeat(20)}`), signed), consumer.address, 'another chain');
  });

  test('the order header round-trips and refuses what is not an order, naming the field', async () => {
    const signed = await signOrder(consumer, domain, order);
    assert.deepEqual(decodeOrderHeader(encodeOrderHeader(signed)), { ok: true, order: signed });
    assert.deepEqual(decodeOrderHeader('%%%'), { ok: false, detail: 'the x-groundwork-order header is not base64url JSON' });
    const bad = decodeOrderHeader(Buffer.from(JSON.stringify({ ...signed, credits: '-1' })).toString('base64url'));
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.detail : '', /^x-groundwork-order: credits: must be a whole number/);
    assert.match((decodeOrderHeader('A'.repeat(3000)) as { detail: string }).detail, /over 2048/);
  });
});
