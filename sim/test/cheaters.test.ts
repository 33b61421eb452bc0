// Planted cheaters of each kind earn nothing for the challenges they cheat on, the artifact says
// why, and the honest devices are paid exactly as if the cheaters were not there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SCORE_SCALE, computeRewards, type EpochArtifact } from '@groundwork/protocol';
import { startTestnet, type Behaviour, type Testnet } from '../src/index.ts';

const BEHAVIOURS: Behaviour[] = ['honest', 'honest', 'late', 'wrong-key', 'replay', 'offline'];

describe('cheaters', () => {
  let net: Testnet;
  let a: EpochArtifact;

  before(async () => {
    net = await startTestnet({ devices: BEHAVIOURS.length, epochSeconds: 6, behaviour: (i) => BEHAVIOURS[i]! });
    // The second whole epoch with the agents connected: the replayer has used up its one honest
    // answer by then (its first challenge came at the latest in the first whole epoch).
    const epoch = net.firstFullEpoch + 1;
    await net.waitForEpoch(epoch, 90_000);
    const res = await fetch(`${net.oracle!.url}/v1/epochs/${epoch}/artifact`);
    a = JSON.parse(await res.text()) as EpochArtifact;
  });
  after(async () => net?.stop());

  const device = (i: number) => net.providers[i]!.device;
  const score = (i: number) => BigInt(a.result.networks[0]!.scores.find((s) => s.device === device(i))!.score);
  const reasons = (i: number) => new Set(a.result.networks[0]!.rejections.filter((r) => r.device === device(i)).map((r) => r.reason));
  const reward = (i: number) => BigInt(a.result.devices.find((d) => d.device === device(i))?.total ?? '0');

  test('honest devices answer every challenge', () => {
    assert.equal(score(0), SCORE_SCALE);
    assert.equal(score(1), SCORE_SCALE);
    assert.deepEqual(reasons(0), new Set());
  });

  test('a late answer earns nothing and is marked late', () => {
    assert.equal(score(2), 0n);
    assert.ok(reasons(2).has('late'), [...reasons(2)].join());
    assert.match(
      a.result.networks[0]!.rejections.find((r) => r.device === device(2) && r.reason === 'late')!.detail,
      /ms after the deadline/,
    );
  });

  test("an answer signed with another device's key is refused at ingest and recorded", () => {
    assert.equal(score(3), 0n);
    assert.ok(reasons(3).has('bad-signature'), [...reasons(3)].join());
    assert.ok(reasons(3).has('unanswered'));
  });

  test('a replayed old answer earns nothing', () => {
    assert.equal(score(4), 0n);
    assert.ok(reasons(4).has('unknown-challenge'), [...reasons(4)].join());
  });

  test('an offline device is marked unanswered', () => {
    assert.equal(score(5), 0n);
    assert.deepEqual(reasons(5), new Set(['unanswered']));
  });

  test('cheaters are paid nothing and honest rewards equal a run without them', () => {
    for (const i of [2, 3, 4, 5]) assert.equal(reward(i), 0n, `provider ${i}`);
    const net0 = a.inputs.networks[0]!;
    const honestOnly = computeRewards(
      [
        {
          kind: 'uptime',
          budget: BigInt(net0.budget),
          usageShareBps: 5000,
          devices: [0, 1].map((i) => ({ device: device(i), owner: net.providers[i]!.owner, score: SCORE_SCALE, usage: 0n })),
        },
      ],
      new Map(),
    );
    for (const i of [0, 1]) assert.equal(reward(i), honestOnly.devices.find((d) => d.device === device(i))!.total);
    assert.equal(reward(0) + reward(1), BigInt(net0.budget));
  });
});
