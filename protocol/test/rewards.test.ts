// Reward math: pool split, per-device floors, owner sums, cumulative leaves, and the invariants
// the distributor relies on (never pay more than the budget; prior amounts are never lost).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Address, Hex } from 'viem';
import { seededRandom } from '../src/random.ts';
import { RewardInputError, SCORE_SCALE, computeRewards, splitPools, type DeviceActivity, type NetworkRewardInput } from '../src/rewards.ts';

/** A random bigint below 2^bits. */
function randBig(next: () => number, bits: number): bigint {
  let v = 0n;
  for (let b = 0; b < bits; b += 32) v = (v << 32n) | BigInt(next());
  return v & ((1n << BigInt(bits)) - 1n);
}

const dev = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`;
const isRewardInputError = (e: unknown) => e instanceof RewardInputError && e.name === 'RewardInputError';

describe('splitPools', () => {
  test('both pools present: usage gets floor(budget × bps / 10000), proof the rest', () => {
    assert.deepEqual(splitPools(1001n, 3000, true, true), { usagePool: 300n, proofPool: 701n });
    assert.deepEqual(splitPools(999n, 5000, true, true), { usagePool: 499n, proofPool: 500n });
    assert.deepEqual(splitPools(1n, 9999, true, true), { usagePool: 0n, proofPool: 1n });
    assert.deepEqual(splitPools(1000n, 0, true, true), { usagePool: 0n, proofPool: 1000n });
    assert.deepEqual(splitPools(1000n, 10_000, true, true), { usagePool: 1000n, proofPool: 0n });
    const big = 10n ** 30n + 7n;
    assert.deepEqual(splitPools(big, 1234, true, true), { usagePool: (big * 1234n) / 10_000n, proofPool: big - (big * 1234n) / 10_000n });
  });

  test('only usage: the whole budget goes to usage, whatever the bps', () => {
    assert.deepEqual(splitPools(1001n, 3000, true, false), { usagePool: 1001n, proofPool: 0n });
    assert.deepEqual(splitPools(1001n, 0, true, false), { usagePool: 1001n, proofPool: 0n });
  });

  test('only scores: the whole budget goes to proof, whatever the bps', () => {
    assert.deepEqual(splitPools(1001n, 3000, false, true), { usagePool: 0n, proofPool: 1001n });
    assert.deepEqual(splitPools(1001n, 10_000, false, true), { usagePool: 0n, proofPool: 1001n });
  });

  test('neither: nothing is allocated (the budget stays undistributed)', () => {
    assert.deepEqual(splitPools(1001n, 3000, false, false), { usagePool: 0n, proofPool: 0n });
  });

  test('a usage cap (what the usage is worth): the usage pool is at most the cap, the rest flows back to proof', () => {
    assert.deepEqual(splitPools(1000n, 5000, true, true, 120n), { usagePool: 120n, proofPool: 880n });
    assert.deepEqual(splitPools(1000n, 5000, true, true, 900n), { usagePool: 500n, proofPool: 500n }, 'never above the share');
    assert.deepEqual(splitPools(1000n, 5000, true, true, 0n), { usagePool: 0n, proofPool: 1000n });
    assert.deepEqual(
      splitPools(1000n, 5000, true, false, 120n),
      { usagePool: 120n, proofPool: 0n },
      'usage alone: the rest is undistributed',
    );
    assert.deepEqual(splitPools(1000n, 5000, false, true, 120n), { usagePool: 0n, proofPool: 1000n });
    assert.throws(() => splitPools(1000n, 5000, true, true, -1n), isRewardInputError);
  });

  test('refuses bps that are not an integer in 0..10000', () => {
    for (const bps of [-1, 10_001, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => splitPools(100n, bps, true, true), isRewardInputError, String(bps));
      // Checked even when no pool would use it.
      assert.throws(() => splitPools(100n, bps, false, false), isRewardInputError, String(bps));
    }
  });
});

describe('computeRewards on a hand-computed example', () => {
  // Owners in mixed case; outputs are lowercase and sorted.
  const O1 = '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' as Address;
  const O2 = '0x0A0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0A' as Address;
  const O3 = '0xBbBBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' as Address;
  const O4 = '0x1111111111111111111111111111111111111111' as Address;
  const O5 = '0xDdDDDDDDDDDDDDDDDDDDDDDdDDdddDDDDDddDDdD' as Address;
  const lc = (a: Address) => a.toLowerCase() as Address;

  const networks: NetworkRewardInput[] = [
    {
      // usagePool floor(1001 × 3000 / 10000) = 300, proofPool 701; scores sum 1.5e6, usage sums 7.
      kind: 'uptime',
      budget: 1001n,
      usageShareBps: 3000,
      devices: [
        { device: dev(1), owner: O1, score: 1_000_000n, usage: 2n }, // proof floor(701×2/3)=467, usage floor(300×2/7)=85
        { device: dev(2), owner: O2, score: 500_000n, usage: 3n }, //   proof floor(701/3)=233,   usage floor(300×3/7)=128
        { device: dev(3), owner: O1, score: 0n, usage: 2n }, //         proof 0,                  usage 85
      ],
    },
    {
      // Scores only: proofPool 100. Sum 666,667: 49, 49 and 0 (the last is left out: it earned nothing).
      kind: 'storage',
      budget: 100n,
      usageShareBps: 5000,
      devices: [
        { device: dev(4), owner: O3, score: 333_333n, usage: 0n },
        { device: dev(5), owner: O2, score: 333_333n, usage: 0n },
        { device: dev(6), owner: O1, score: 1n, usage: 0n },
      ],
    },
    // Neither scores nor usage: the whole budget is undistributed.
    { kind: 'idle', budget: 50n, usageShareBps: 3000, devices: [{ device: dev(7), owner: O4, score: 0n, usage: 0n }] },
    // Usage only, with 0 bps: usage still takes the whole budget.
    { kind: 'cdn', budget: 10n, usageShareBps: 0, devices: [{ device: dev(8), owner: O4, score: 0n, usage: 5n }] },
  ];
  const prior = new Map<string, bigint>([
    [O1, 1000n], // gets more this epoch
    [O5, 7n], // earns nothing this epoch: keeps 7
    [lc(O3), 0n],
  ]);
  const r = computeRewards(networks, prior);

  test('per-network pools, paid and undistributed', () => {
    assert.deepEqual(r.networks, [
      { kind: 'uptime', budget: 1001n, usagePool: 300n, proofPool: 701n, paid: 998n, undistributed: 3n },
      { kind: 'storage', budget: 100n, usagePool: 0n, proofPool: 100n, paid: 98n, undistributed: 2n },
      { kind: 'idle', budget: 50n, usagePool: 0n, proofPool: 0n, paid: 0n, undistributed: 50n },
      { kind: 'cdn', budget: 10n, usagePool: 10n, proofPool: 0n, paid: 10n, undistributed: 0n },
    ]);
    assert.equal(r.paid, 1106n);
    assert.equal(r.undistributed, 55n);
  });

  test('per-device amounts, in input order, devices that earned nothing left out, owners lowercased', () => {
    assert.deepEqual(r.devices, [
      { network: 'uptime', device: dev(1), owner: lc(O1), proof: 467n, usage: 85n, total: 552n },
      { network: 'uptime', device: dev(2), owner: lc(O2), proof: 233n, usage: 128n, total: 361n },
      { network: 'uptime', device: dev(3), owner: lc(O1), proof: 0n, usage: 85n, total: 85n },
      { network: 'storage', device: dev(4), owner: lc(O3), proof: 49n, usage: 0n, total: 49n },
      { network: 'storage', device: dev(5), owner: lc(O2), proof: 49n, usage: 0n, total: 49n },
      { network: 'cdn', device: dev(8), owner: lc(O4), proof: 0n, usage: 10n, total: 10n },
    ]);
  });

  test('per-owner sums across devices and networks, sorted by lowercase address', () => {
    assert.deepEqual(r.owners, [
      { account: lc(O2), amount: 410n }, // 361 + 49
      { account: lc(O4), amount: 10n },
      { account: lc(O3), amount: 49n },
      { account: lc(O1), amount: 637n }, // 552 + 85
    ]);
  });

  test('cumulative = prior + epoch, prior-only accounts kept, lowercased and sorted; total = Σ cumulative', () => {
    assert.deepEqual(r.cumulative, [
      { account: lc(O2), amount: 410n },
      { account: lc(O4), amount: 10n },
      { account: lc(O3), amount: 49n },
      { account: lc(O1), amount: 1637n },
      { account: lc(O5), amount: 7n },
    ]);
    assert.equal(r.total, 2113n);
  });

  test('no networks and no prior: everything empty and zero', () => {
    assert.deepEqual(computeRewards([], new Map()), {
      devices: [],
      networks: [],
      owners: [],
      cumulative: [],
      total: 0n,
      paid: 0n,
      undistributed: 0n,
    });
  });

  test('no networks: the cumulative leaves are the prior, lowercased and sorted', () => {
    const only = computeRewards(
      [],
      new Map([
        [O1, 5n],
        [O2, 6n],
      ]),
    );
    assert.deepEqual(only.cumulative, [
      { account: lc(O2), amount: 6n },
      { account: lc(O1), amount: 5n },
    ]);
    assert.equal(only.total, 11n);
    assert.deepEqual(only.owners, []);
  });
});

describe('computeRewards errors', () => {
  const owner = '0x1111111111111111111111111111111111111111' as Address;
  const one = (d: Partial<DeviceActivity>, budget = 100n, bps = 0): NetworkRewardInput[] => [
    { kind: 'n', budget, usageShareBps: bps, devices: [{ device: dev(1), owner, score: 1n, usage: 0n, ...d }] },
  ];

  test('refuses a score above SCORE_SCALE or below 0', () => {
    assert.throws(
      () => computeRewards(one({ score: SCORE_SCALE + 1n }), new Map()),
      (e) => isRewardInputError(e) && /outside 0\.\.1000000/.test((e as Error).message),
    );
    assert.throws(() => computeRewards(one({ score: -1n }), new Map()), isRewardInputError);
    assert.doesNotThrow(() => computeRewards(one({ score: SCORE_SCALE }), new Map()));
  });

  test('refuses negative usage, a negative budget and a negative prior', () => {
    assert.throws(
      () => computeRewards(one({ usage: -1n }), new Map()),
      (e) => isRewardInputError(e) && /negative usage/.test((e as Error).message),
    );
    assert.throws(
      () => computeRewards(one({}, -1n), new Map()),
      (e) => isRewardInputError(e) && /negative budget/.test((e as Error).message),
    );
    assert.throws(
      () => computeRewards(one({}), new Map([[owner, -1n]])),
      (e) => isRewardInputError(e) && /negative/.test((e as Error).message),
    );
  });

  test('refuses bad usageShareBps through splitPools', () => {
    assert.throws(() => computeRewards(one({}, 100n, 10_001), new Map()), isRewardInputError);
    assert.throws(() => computeRewards([{ kind: 'n', budget: 1n, usageShareBps: -1, devices: [] }], new Map()), isRewardInputError);
  });
});

describe('computeRewards properties (seeded random cases)', () => {
  const OWNERS = Array.from({ length: 6 }, (_, i) => `0x${(i + 10).toString(16).repeat(40)}` as Address);

  function randomCase(seed: number): { networks: NetworkRewardInput[]; prior: Map<string, bigint> } {
    const next = seededRandom(seed);
    const networks: NetworkRewardInput[] = Array.from({ length: 1 + (next() % 3) }, (_, n) => {
      const zeroScores = next() % 5 === 0;
      const zeroUsage = next() % 3 === 0;
      return {
        kind: `net${n}`,
        budget: next() % 10 === 0 ? 0n : randBig(next, 1 + (next() % 128)),
        usageShareBps: next() % 10_001,
        devices: Array.from({ length: next() % 12 }, (_, i) => ({
          device: dev(n * 1000 + i),
          owner: (next() % 2
            ? OWNERS[next() % OWNERS.length]!
            : OWNERS[next() % OWNERS.length]!.toUpperCase().replace('0X', '0x')) as Address,
          score: zeroScores || next() % 4 === 0 ? 0n : BigInt(next() % 1_000_001),
          usage: zeroUsage || next() % 3 === 0 ? 0n : randBig(next, 1 + (next() % 64)),
        })),
      };
    });
    const prior = new Map<string, bigint>();
    for (const o of OWNERS) if (next() % 2) prior.set(o, randBig(next, 1 + (next() % 100)));
    return { networks, prior };
  }

  test('paid + undistributed == budget per network; every device gets exactly floor(pool × w / Σw); sums agree', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const { networks, prior } = randomCase(seed);
      const r = computeRewards(networks, prior);
      const at = `seed ${seed}`;
      assert.equal(r.networks.length, networks.length, at);

      const expectedOwners = new Map<string, bigint>();
      let deviceIndex = 0;
      networks.forEach((net, n) => {
        const s = r.networks[n]!;
        assert.equal(s.kind, net.kind, at);
        assert.equal(s.budget, net.budget, at);
        assert.equal(s.paid + s.undistributed, net.budget, at);
        assert.ok(s.paid >= 0n && s.paid <= net.budget, at);
        assert.ok(s.usagePool + s.proofPool <= net.budget, at);
        const scoreSum = net.devices.reduce((a, d) => a + d.score, 0n);
        const usageSum = net.devices.reduce((a, d) => a + d.usage, 0n);
        assert.deepEqual(
          { usagePool: s.usagePool, proofPool: s.proofPool },
          splitPools(net.budget, net.usageShareBps, usageSum > 0n, scoreSum > 0n),
          at,
        );
        if (scoreSum > 0n || usageSum > 0n) assert.equal(s.usagePool + s.proofPool, net.budget, at);

        let paid = 0n;
        for (const d of net.devices) {
          const proof = scoreSum > 0n ? (s.proofPool * d.score) / scoreSum : 0n;
          const usage = usageSum > 0n ? (s.usagePool * d.usage) / usageSum : 0n;
          if (proof + usage === 0n) continue;
          const got = r.devices[deviceIndex++];
          assert.deepEqual(
            got,
            { network: net.kind, device: d.device, owner: d.owner.toLowerCase(), proof, usage, total: proof + usage },
            at,
          );
          paid += proof + usage;
          const o = d.owner.toLowerCase();
          expectedOwners.set(o, (expectedOwners.get(o) ?? 0n) + proof + usage);
        }
        assert.equal(s.paid, paid, at);
        // Rounding dust: less than one unit per device per pool.
        if (scoreSum > 0n || usageSum > 0n) assert.ok(s.undistributed <= 2n * BigInt(net.devices.length), `${at}: dust ${s.undistributed}`);
      });
      assert.equal(deviceIndex, r.devices.length, at);

      // Owners: sums of their devices, lowercase, sorted, no zero entries.
      assert.deepEqual(new Map(r.owners.map((o) => [o.account, o.amount])), expectedOwners, at);
      for (let i = 1; i < r.owners.length; i++) assert.ok(r.owners[i - 1]!.account < r.owners[i]!.account, at);
      for (const o of r.owners) assert.ok(o.amount > 0n && o.account === o.account.toLowerCase(), at);

      // Cumulative: prior + epoch for every account in either, sorted, lowercase.
      const accounts = new Set([...[...prior.keys()].map((a) => a.toLowerCase()), ...expectedOwners.keys()]);
      assert.equal(r.cumulative.length, accounts.size, at);
      for (let i = 1; i < r.cumulative.length; i++) assert.ok(r.cumulative[i - 1]!.account < r.cumulative[i]!.account, at);
      for (const c of r.cumulative) {
        assert.equal(c.account, c.account.toLowerCase(), at);
        assert.equal(c.amount, (prior.get(c.account) ?? 0n) + (expectedOwners.get(c.account) ?? 0n), at);
      }
      assert.equal(
        r.total,
        r.cumulative.reduce((a, c) => a + c.amount, 0n),
        at,
      );
      assert.equal(
        r.paid,
        r.networks.reduce((a, n) => a + n.paid, 0n),
        at,
      );
      assert.equal(
        r.undistributed,
        r.networks.reduce((a, n) => a + n.undistributed, 0n),
        at,
      );
      assert.equal(
        r.paid + r.undistributed,
        networks.reduce((a, n) => a + n.budget, 0n),
        at,
      );
      const priorTotal = [...prior.values()].reduce((a, v) => a + v, 0n);
      assert.equal(r.total, priorTotal + r.paid, at);
    }
  });

  test('a cheater scored 0 with no usage changes nobody else’s amounts, present or absent', () => {
    for (let seed = 1000; seed < 1100; seed++) {
      const { networks, prior } = randomCase(seed);
      const next = seededRandom(seed ^ 0x5a5a);
      const withCheater = networks.map((net, n) => {
        const devices = [...net.devices];
        const cheater = { device: dev(999_000 + n), owner: OWNERS[next() % OWNERS.length]!, score: 0n, usage: 0n };
        devices.splice(next() % (devices.length + 1), 0, cheater);
        return { ...net, devices };
      });
      assert.deepEqual(computeRewards(withCheater, prior), computeRewards(networks, prior), `seed ${seed}`);
    }
  });
});
