// The reward math on columns (what the epoch close runs) against the object API and a naive
// reference, and RewardTree.fromColumns against RewardTree.of and OpenZeppelin's tree.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { bytesToHex, type Address, type Hex } from 'viem';
import { RewardTree, RewardTreeError } from '../src/merkle.ts';
import { seededRandom } from '../src/random.ts';
import {
  AccountTable,
  RewardInputError,
  computeRewardColumns,
  computeRewards,
  priorColumns,
  type NetworkRewardColumns,
  type NetworkRewardInput,
} from '../src/rewards.ts';

const dev = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`;
const isRewardInputError = (message: RegExp) => (e: unknown) => e instanceof RewardInputError && message.test((e as Error).message);

/** Accounts that share their first 4 (or 19) bytes in small groups, so the sort's tie-breaking runs. */
function crowdedAccounts(next: () => number, n: number): Address[] {
  const prefixes = [0x00000000, 0xffffffff, 0x12345678];
  const out = new Set<string>();
  while (out.size < n) {
    const bytes = new Uint8Array(20);
    new DataView(bytes.buffer).setUint32(0, prefixes[next() % prefixes.length]!);
    if (next() % 3 === 0)
      bytes.fill(0xab, 4, 19); // differ only in the last byte
    else for (let j = 4; j < 20; j++) bytes[j] = next() & 0xff;
    bytes[19] = next() & 0xff;
    out.add(bytesToHex(bytes));
  }
  return [...out] as Address[];
}

describe('computeRewardColumns', () => {
  test('cumulative leaves are prior + earned for each account, strictly sorted, on crowded prefixes (200 seeded cases)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const next = seededRandom(seed);
      const accounts = crowdedAccounts(next, 3 + (next() % 60));
      const networks: NetworkRewardInput[] = [
        {
          kind: 'n',
          budget: BigInt(next()) * 1_000_003n,
          usageShareBps: next() % 10_001,
          devices: Array.from({ length: next() % 80 }, (_, i) => ({
            device: dev(i),
            owner: (next() % 2
              ? accounts[next() % accounts.length]!
              : accounts[next() % accounts.length]!.toUpperCase().replace('0X', '0x')) as Address,
            score: BigInt(next() % 1_000_001) * BigInt(next() % 2),
            usage: next() % 4 === 0 ? BigInt(next()) : 0n,
          })),
        },
      ];
      const prior = new Map<string, bigint>();
      for (const a of accounts) if (next() % 2) prior.set(a, BigInt(next()));
      const r = computeRewards(networks, prior);

      const earned = new Map<string, bigint>();
      for (const d of r.devices) earned.set(d.owner, (earned.get(d.owner) ?? 0n) + d.total);
      const expected = [...new Set([...prior.keys(), ...earned.keys()])]
        .sort()
        .map((account) => ({ account, amount: (prior.get(account) ?? 0n) + (earned.get(account) ?? 0n) }));
      assert.deepEqual(r.cumulative, expected, `seed ${seed}`);
      assert.deepEqual(
        r.owners,
        expected.filter((c) => earned.has(c.account)).map((c) => ({ account: c.account, amount: earned.get(c.account)! })),
        `seed ${seed}`,
      );
    }
  });

  test('a usage value caps the usage pool at what the usage is worth; the rest goes to proof', () => {
    const owners = new AccountTable();
    const ownerOf = Uint32Array.from([0, 1], (i) => owners.indexOf(`0x${String(i + 1).repeat(40)}` as Address, () => `device ${i}`));
    const net = (usageValue?: NetworkRewardColumns['usageValue']): NetworkRewardColumns => ({
      kind: 'coverage',
      budget: 10_000n,
      usageShareBps: 5000,
      scores: Uint32Array.from([1_000_000, 0]),
      ownerOf,
      usage: { index: Uint32Array.from([1]), credits: [30n] },
      ...(usageValue ? { usageValue } : {}),
    });
    const run = (n: NetworkRewardColumns) =>
      computeRewardColumns({ owners: owners.accounts, networks: [n], prior: priorColumns(new Map()) }).networks[0]!;
    assert.equal(run(net()).usagePool, 5000n, 'uncapped: half the budget for 30 credits');
    // 30 credits at 7 token units per 2 credits are worth 105.
    const capped = run(net({ credits: 2n, tokens: 7n }));
    assert.equal(capped.usagePool, 105n);
    assert.equal(capped.proofPool, 9895n);
    assert.deepEqual(capped.usage, [105n]);
    assert.equal(run(net({ credits: 1n, tokens: 0n })).usagePool, 0n, 'worth nothing: all to proof');
    assert.throws(() => run(net({ credits: 0n, tokens: 1n })), /usage value/);
  });

  test('equals computeRewards on the same devices, column by column', () => {
    const next = seededRandom(99);
    const accounts = crowdedAccounts(next, 40);
    const devices = Array.from({ length: 500 }, (_, i) => ({
      device: dev(i),
      owner: accounts[next() % 40]!,
      score: BigInt(next() % 1_000_001),
      usage: i % 7 === 0 ? BigInt(next()) : 0n,
    }));
    const prior = new Map(accounts.slice(0, 10).map((a, i) => [a, BigInt(i * 1000)]));
    const objects = computeRewards([{ kind: 'n', budget: 10n ** 24n, usageShareBps: 2500, devices }], prior);

    const owners = new AccountTable();
    const ownerOf = Uint32Array.from(devices, (d, i) => owners.indexOf(d.owner, () => `device ${i}`));
    const usageDevices = devices.flatMap((d, i) => (d.usage > 0n ? [i] : []));
    const net: NetworkRewardColumns = {
      kind: 'n',
      budget: 10n ** 24n,
      usageShareBps: 2500,
      scores: Uint32Array.from(devices, (d) => Number(d.score)),
      ownerOf,
      usage: { index: Uint32Array.from(usageDevices), credits: usageDevices.map((i) => devices[i]!.usage) },
    };
    const columns = computeRewardColumns({ owners: owners.accounts, networks: [net], prior: priorColumns(prior) });
    assert.equal(columns.total, objects.total);
    assert.equal(columns.paid, objects.paid);
    assert.deepEqual(
      columns.cumulative.amounts,
      objects.cumulative.map((c) => c.amount),
    );
    const leafAccounts = Array.from({ length: columns.cumulative.amounts.length }, (_, l) =>
      bytesToHex(columns.cumulative.accounts.subarray(20 * l, 20 * l + 20)),
    );
    assert.deepEqual(
      leafAccounts,
      objects.cumulative.map((c) => c.account),
    );
    const usageAt = new Map(usageDevices.map((i, k) => [i, columns.networks[0]!.usage[k]!]));
    const perDevice = devices.flatMap((_, i) => {
      const proof = columns.networks[0]!.proof[i]!;
      const usage = usageAt.get(i) ?? 0n;
      return proof + usage === 0n ? [] : [proof + usage];
    });
    assert.deepEqual(
      perDevice,
      objects.devices.map((d) => d.total),
    );
  });

  test('refuses a prior account listed twice (in any case, and around an earner), naming it', () => {
    const a = '0x00000000000000000000000000000000000000aa' as Address;
    const devices = [{ device: dev(1), owner: a, score: 1n, usage: 0n }];
    const twice = new Map<string, bigint>([
      [a, 1n],
      [a.toUpperCase().replace('0X', '0x'), 2n],
    ]);
    assert.throws(() => computeRewards([], twice), isRewardInputError(/prior accounts: 0x0+aa is listed twice/));
    assert.throws(
      () => computeRewards([{ kind: 'n', budget: 10n, usageShareBps: 0, devices }], twice),
      isRewardInputError(/prior accounts: 0x0+aa is listed twice/),
    );
  });

  test('refuses malformed columns, naming what is wrong', () => {
    const owners = new Uint8Array(40);
    owners[19] = 1;
    owners[39] = 2;
    const base: NetworkRewardColumns = {
      kind: 'n',
      budget: 100n,
      usageShareBps: 0,
      scores: Uint32Array.of(1, 2),
      ownerOf: Uint32Array.of(0, 1),
      usage: { index: new Uint32Array(0), credits: [] },
    };
    const noPrior = { accounts: new Uint8Array(0), amounts: [] as bigint[] };
    const run = (net: Partial<NetworkRewardColumns>, extra: { owners?: Uint8Array; prior?: typeof noPrior } = {}) =>
      computeRewardColumns({ owners: extra.owners ?? owners, networks: [{ ...base, ...net }], prior: extra.prior ?? noPrior });
    assert.doesNotThrow(() => run({}));
    assert.throws(() => run({ scores: Uint32Array.of(1, 1_000_001) }), isRewardInputError(/device 1: score 1000001 outside 0\.\.1000000/));
    assert.throws(() => run({ ownerOf: Uint32Array.of(0, 2) }), isRewardInputError(/device 1: owner index 2 is not an owner/));
    assert.throws(() => run({ ownerOf: Uint32Array.of(0) }), isRewardInputError(/2 scores but 1 owners/));
    assert.throws(
      () => run({ usage: { index: Uint32Array.of(1, 0), credits: [1n, 1n] } }),
      isRewardInputError(/usage index 0 is out of order/),
    );
    assert.throws(
      () => run({ usage: { index: Uint32Array.of(2), credits: [1n] } }),
      isRewardInputError(/usage index 2 is out of order or not a device/),
    );
    assert.throws(() => run({ usage: { index: Uint32Array.of(0), credits: [] } }), isRewardInputError(/1 usage indexes but 0 credits/));
    assert.throws(() => run({ usage: { index: Uint32Array.of(0), credits: [-1n] } }), isRewardInputError(/device 0: negative usage/));
    assert.throws(() => run({ budget: -1n }), isRewardInputError(/negative budget/));
    assert.throws(() => run({}, { owners: new Uint8Array(39) }), isRewardInputError(/owners: expected 20 bytes per account/));
    const same = new Uint8Array(40).fill(7);
    assert.throws(
      () => run({}, { owners: same }),
      isRewardInputError(/owners: 0x0707070707070707070707070707070707070707 is listed twice/),
    );
    assert.throws(
      () => run({}, { prior: { accounts: new Uint8Array(20), amounts: [] } }),
      isRewardInputError(/prior: 1 accounts but 0 amounts/),
    );
    assert.throws(
      () => run({}, { prior: { accounts: new Uint8Array(20), amounts: [-5n] } }),
      isRewardInputError(/prior cumulative of 0x0+ is negative/),
    );
  });

  test('AccountTable: one index per account in any case; refuses what is not an address', () => {
    const t = new AccountTable();
    const a = '0xAbCdEf0000000000000000000000000000000001';
    assert.equal(
      t.indexOf(a, () => 'x'),
      0,
    );
    assert.equal(
      t.indexOf(a.toLowerCase(), () => 'x'),
      0,
    );
    assert.equal(
      t.indexOf('0x0000000000000000000000000000000000000002', () => 'x'),
      1,
    );
    assert.deepEqual(t.lower, [a.toLowerCase(), '0x0000000000000000000000000000000000000002']);
    assert.equal(bytesToHex(t.accounts), `${a.toLowerCase()}0000000000000000000000000000000000000002`);
    assert.throws(() => t.indexOf('0x12', () => 'device 0x01'), isRewardInputError(/device 0x01: owner is not an address/));
    for (let i = 0; i < 3000; i++) t.indexOf(`0x${i.toString(16).padStart(40, '1')}`, () => 'grow'); // past the first buffer
    assert.equal(t.accounts.length, 20 * t.lower.length);
  });
});

describe('RewardTree.fromColumns', () => {
  const next = seededRandom(5);
  const accounts = crowdedAccounts(next, 300);
  const amounts = accounts.map((_, i) => (i % 5 === 0 ? 0n : BigInt(next()) << BigInt(next() % 200)));
  const bytes = new Uint8Array(20 * accounts.length);
  accounts.forEach((a, i) => {
    bytes.set(Buffer.from(a.slice(2), 'hex'), 20 * i);
  });

  test("same root and proofs as RewardTree.of and OpenZeppelin's StandardMerkleTree", () => {
    const tree = RewardTree.fromColumns(bytes, amounts);
    const ofTree = RewardTree.of(accounts.map((account, i) => ({ account, amount: amounts[i]! })));
    const oz = StandardMerkleTree.of(
      accounts.map((a, i) => [a, amounts[i]!]),
      ['address', 'uint256'],
    );
    assert.equal(tree.root, oz.root);
    assert.equal(tree.root, ofTree.root);
    for (let i = 0; i < accounts.length; i += 7) {
      assert.deepEqual(tree.proof(i), oz.getProof(i));
      assert.deepEqual(tree.proofFor(accounts[i]!), { amount: amounts[i], proof: oz.getProof(i) });
    }
  });

  test('refuses mismatched columns, no leaves, a bad amount or an account twice, naming the index', () => {
    const refuses = (a: Uint8Array, m: bigint[], message: RegExp) =>
      assert.throws(
        () => RewardTree.fromColumns(a, m),
        (e) => e instanceof RewardTreeError && message.test((e as Error).message),
      );
    refuses(bytes.subarray(0, 20), [1n, 2n], /20 account bytes per amount/);
    refuses(new Uint8Array(0), [], /at least one leaf/);
    refuses(bytes.subarray(0, 40), [1n, -1n], /amounts\[1\]\.amount -1 is outside uint256/);
    refuses(bytes.subarray(0, 40), [1n, 1n << 256n], /amounts\[1\]\.amount \d+ is outside uint256/);
    const twice = new Uint8Array(60);
    twice.set(bytes.subarray(0, 20), 0);
    twice.set(bytes.subarray(20, 40), 20);
    twice.set(bytes.subarray(0, 20), 40);
    refuses(twice, [1n, 2n, 3n], /leaves\[2\]\.account 0x[0-9a-f]{40} is already leaves\[0\]/);
  });
});
