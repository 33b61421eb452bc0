// The storage plug-in's parts on their own: placement, what a proven shard-epoch earns, repair
// rebuilding shards byte for byte, the provider's shard store refusing what it was not placed or
// what does not reach the root, and the verifier judging challenge rows from their evidence alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { type Address, bytesToHex, type Hex, keccak256, toHex } from 'viem';
import {
  DeviceTable,
  deviceIdHex,
  deviceIdOf,
  devicePublicKey,
  generateDeviceKey,
  ObjectRows,
  signReport,
  type VerifierInput,
} from '@groundwork/protocol';
import { encodeFileToShards, rebuildShards } from '../src/codec.ts';
import { dealCommitment, merklePath, shardRoot } from '../src/commitment.ts';
import { challengedLeaves, challengeEntropy } from '../src/proof.ts';
import {
  bundleHash,
  type ChallengeRow,
  DEFAULT_STORAGE_PARAMETERS,
  placeShards,
  repairAt,
  ShardStore,
  type StorageParameters,
  shardEpochCredits,
  verifyStorage,
} from '../src/plugin/index.ts';

const DEAL = keccak256(toHex('a deal')) as Hex;

describe('placement', () => {
  const c = (device: string, owner: string, freeBytes = 1000, reputation = 1) => ({ device, owner, freeBytes, reputation });
  test('one shard per device, owners spread first, only devices with room', () => {
    const pool = [c('a', 'o1'), c('b', 'o1'), c('c', 'o2'), c('d', 'o3'), c('e', 'o4', 10)];
    const placed = placeShards(pool, 3, 100, DEAL)!;
    assert.equal(new Set(placed).size, 3);
    assert.ok(!placed.includes('e'), 'a device without room gets nothing');
    assert.deepEqual(new Set(placed.map((d) => pool.find((p) => p.device === d)!.owner)), new Set(['o1', 'o2', 'o3']));
    // Four shards on three owners with room: one owner holds two, never one device.
    const four = placeShards(pool, 4, 100, DEAL)!;
    assert.deepEqual(new Set(four), new Set(['a', 'b', 'c', 'd']));
    assert.equal(placeShards(pool, 5, 100, DEAL), null, 'too few devices with room');
    assert.deepEqual(placeShards(pool, 3, 100, DEAL), placed, 'the same deal places the same way');
  });
  test('repair placement skips the deal’s devices and spreads away from the owners it already uses', () => {
    const pool = [c('a', 'o1'), c('b', 'o1'), c('c', 'o2'), c('d', 'o3')];
    const placed = placeShards(pool, 1, 100, DEAL, new Set(['a', 'c']), new Map([['o1', 1]]))!;
    assert.deepEqual(placed, ['d']);
  });
  test('the repair threshold: 0 means any loss; never below k or at n', () => {
    assert.equal(repairAt(0, 4, 8), 7);
    assert.equal(repairAt(5, 4, 8), 5);
    assert.equal(repairAt(2, 4, 8), 4);
    assert.equal(repairAt(9, 4, 8), 7);
  });
});

describe('shard-epoch credits', () => {
  test('summed over shards and epochs never more than the deal accrued, and within one unit per payment of it', () => {
    const escrowed = 1_000_003n;
    const deal = { start: 1003, end: 1003 + 3600, stop: 1003 + 3600, shards: 8 };
    let paid = 0n;
    let payments = 0n;
    for (let from = 1000; from < deal.end; from += 6) {
      for (let s = 0; s < 8; s++) {
        paid += shardEpochCredits(escrowed, deal, from, from + 6);
        payments++;
      }
      const accrued = (escrowed * BigInt(Math.min(from + 6, deal.stop) - deal.start)) / BigInt(deal.end - deal.start);
      assert.ok(paid <= accrued, `by ${from + 6}: paid ${paid}, accrued ${accrued}`);
    }
    assert.ok(escrowed - paid < payments, `paid ${paid} of ${escrowed}`);
  });
  test('nothing for an epoch after the termination, part of the one it falls in', () => {
    const deal = { start: 0, end: 3600, stop: 100, shards: 2 };
    assert.equal(shardEpochCredits(7200n, deal, 96, 102), 4n);
    assert.equal(shardEpochCredits(7200n, deal, 102, 108), 0n);
  });
});

describe('repair', () => {
  test('any n − k shards lost are rebuilt byte for byte, without the key', () => {
    const file = new Uint8Array(randomBytes(200_000));
    const layout = { size: file.length, segmentBytes: 65_536, k: 4, n: 8, encrypted: true };
    const { shards } = encodeFileToShards(file, layout, new Uint8Array(randomBytes(32)));
    for (const lost of [[0, 1, 2, 3], [4, 5, 6, 7], [1, 3, 5, 7], [6]]) {
      const present = shards.map((s, i) => (lost.includes(i) ? null : s));
      const rebuilt = rebuildShards(layout, present, lost);
      for (const [j, i] of lost.entries()) assert.ok(Buffer.from(rebuilt[j]!).equals(Buffer.from(shards[i]!)), `shard ${i} of ${lost}`);
    }
    assert.throws(
      () =>
        rebuildShards(
          layout,
          shards.map((s, i) => (i < 5 ? null : s)),
          [0],
        ),
      /needs 4 shards, 3 are present/,
    );
  });
});

describe('shard store', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-shards-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ShardStore(dir);
  const bytes = new Uint8Array(randomBytes(50_000));
  const root = bytesToHex(shardRoot(bytes));

  test('takes only a placed shard, of its size, reaching its root; nothing half-written stays', async () => {
    await assert.rejects(store.put(DEAL, 0, Readable.from([bytes])), /was not placed on this provider/);
    await store.hold(DEAL, 0, { root, bytes: bytes.length, until: 0 });
    const flipped = Uint8Array.from(bytes);
    flipped[123] = flipped[123]! ^ 1;
    await assert.rejects(store.put(DEAL, 0, Readable.from([flipped])), /is not shard 0's committed root/);
    await assert.rejects(store.put(DEAL, 0, Readable.from([bytes.subarray(0, 100)])), /100 were uploaded/);
    await assert.rejects(store.put(DEAL, 0, Readable.from([bytes, bytes])), /the upload is longer/);
    assert.equal(await store.has(DEAL, 0), false);
    assert.deepEqual(await store.put(DEAL, 0, Readable.from([bytes.subarray(0, 7), bytes.subarray(7)])), { root, bytes: bytes.length });
    assert.equal(await store.has(DEAL, 0), true);
    const read = await store.read(DEAL, 0, { start: 10, end: 19 });
    const chunks: Buffer[] = [];
    for await (const c of read.stream) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(Buffer.from(bytes.subarray(10, 20))));
    await assert.rejects(store.put('../etc' as Hex, 0, Readable.from([bytes])), /no shard 0 of deal/);
    // What a crash leaves mid-upload is swept; the shard itself stays.
    writeFileSync(path.join(dir, DEAL, `0.upload-1-abcdef`), 'partial');
    assert.equal(await store.sweep(), 1);
    assert.equal(await store.has(DEAL, 0), true);
  });

  test('the verifier scores a proven shard by its bytes and judges every other row by its evidence', async () => {
    const key = generateDeviceKey();
    const pub = devicePublicKey(key.publicKey);
    const device = deviceIdHex(deviceIdOf(pub));
    const other = generateDeviceKey();
    const devices = new DeviceTable();
    devices.push({
      device,
      owner: `0x${'1'.repeat(40)}` as Address,
      network: 'storage',
      keyX: pub.x,
      keyY: pub.y,
      stake: '10',
      registeredAt: 1,
    });
    const roots = [root, ...[1, 2, 3].map((i) => bytesToHex(shardRoot(new Uint8Array([i]))))];
    const { commitment, levels } = dealCommitment(
      bytes.length,
      roots.map((r) => Buffer.from(r.slice(2), 'hex')),
    );
    const blockHash = keccak256(toHex('block'));
    const random = keccak256(toHex('random'));
    const epoch = 9;
    const leaves = challengedLeaves(
      challengeEntropy(blockHash, random),
      DEAL,
      0,
      epoch,
      bytes.length,
      DEFAULT_STORAGE_PARAMETERS.challengedLeaves,
    );
    const bundle = await store.prove(DEAL, 0, epoch, device, leaves);
    const domain = { chainId: 31337, registry: `0x${'5'.repeat(40)}` as Address };
    const sign = (b: Record<string, unknown>, k = key.privateKey) =>
      signReport({ v: 1, ...domain, network: 'storage', type: 'proof', device, epoch, body: b }, k);
    const body = { deal: DEAL, shard: 0, epoch, answer: bundleHash(bundle) };
    const row: ChallengeRow = {
      deal: DEAL,
      shard: 0,
      epoch,
      device,
      commitment: bytesToHex(commitment),
      shards: 4,
      shardBytes: bytes.length,
      root,
      rootPath: merklePath(levels, 0).map((x) => bytesToHex(x)),
      blockHash,
      random,
      leaves,
      deadline: 5000,
      outcome: 'passed',
      reason: '',
      receivedAt: 4000,
      faultRun: 0,
      report: sign(body),
      bundle,
    };
    const wrongLeaf = {
      ...bundle,
      leaves: bundle.leaves.map((l, i) =>
        i === 0 ? { ...l, leaf: Buffer.from(randomBytes(Buffer.from(l.leaf, 'base64').length)).toString('base64') } : l,
      ),
    };
    const verify = (rows: ChallengeRow[]) => {
      const t = new ObjectRows<unknown>();
      for (const r of rows) t.push(r);
      return verifyStorage({
        epoch,
        start: 0,
        end: 6,
        parameters: DEFAULT_STORAGE_PARAMETERS,
        devices,
        oracleInputs: t,
      } as unknown as VerifierInput<StorageParameters, ObjectRows<unknown>>);
    };
    const good = verify([row]);
    assert.equal(good.scores[0], 1_000_000);
    assert.deepEqual([...(good.detail.provenBytes as number[])], [bytes.length]);
    assert.equal(good.rejections.length, 0);
    const cases: [string, ChallengeRow][] = [
      ['late', { ...row, receivedAt: 6000 }],
      ['unanswered', { ...row, report: null, bundle: null, outcome: 'unanswered', receivedAt: null }],
      ['wrong-challenge', { ...row, leaves: leaves.map((l) => l + 1) }],
      ['not-in-deal', { ...row, root: roots[1]! }],
      ['bad-signature', { ...row, report: sign(body, other.privateKey) }],
      ['wrong-bundle', { ...row, bundle: { ...bundle, leaves: bundle.leaves.slice(1) } }],
      ['wrong-data', { ...row, bundle: wrongLeaf, report: sign({ ...body, answer: bundleHash(wrongLeaf) }) }],
    ];
    for (const [reason, r] of cases) {
      const out = verify([r]);
      assert.equal(out.scores[0], 0, reason);
      assert.equal(out.rejections.length, 1, reason);
      assert.equal(out.rejections.reason(0), reason);
      assert.equal((out.findings ?? []).length, reason === 'wrong-data' ? 1 : 0, `${reason}: a finding only for a signed wrong answer`);
    }
    // The fault that makes a shard lost (its run reaches faultsToRepair) is slashed at the fault
    // amount; earlier ones are not, and neither is a row whose challenge the oracle got wrong.
    const N = DEFAULT_STORAGE_PARAMETERS.faultsToRepair;
    const unanswered = { ...row, report: null, bundle: null, outcome: 'unanswered' as const, receivedAt: null };
    assert.equal((verify([{ ...unanswered, faultRun: N - 1 }]).findings ?? []).length, 0, 'a fault short of the repair line');
    const lost = verify([{ ...unanswered, faultRun: N }]).findings ?? [];
    assert.equal(lost.length, 1);
    assert.equal(lost[0]!.kind, 'lost-shard');
    assert.equal(lost[0]!.amount, DEFAULT_STORAGE_PARAMETERS.faultSlashAmount);
    assert.equal((lost[0]!.evidence as ChallengeRow).faultRun, N);
    assert.equal((verify([{ ...row, receivedAt: 6000, faultRun: N }]).findings ?? [])[0]?.kind, 'lost-shard', 'a late proof counts');
    assert.equal((verify([{ ...row, leaves: leaves.map((l) => l + 1), faultRun: N }]).findings ?? []).length, 0, "the oracle's wrong draw");
    // A proof the verifier finds good is never slashed, whatever the oracle counted.
    assert.equal((verify([{ ...row, faultRun: N }]).findings ?? []).length, 0);
    // Both in one epoch: one finding for the device, the signed lie's.
    const wrong = { ...row, shard: 0, bundle: wrongLeaf, report: sign({ ...body, answer: bundleHash(wrongLeaf) }) };
    const both = verify([{ ...unanswered, faultRun: N }, wrong]).findings ?? [];
    assert.deepEqual(
      both.map((f) => [f.kind, f.amount]),
      [['lost-data', DEFAULT_STORAGE_PARAMETERS.slashAmount]],
    );
  });
});
