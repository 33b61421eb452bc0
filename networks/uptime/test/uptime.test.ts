// The uptime plug-in: the verifier's scoring and rejection reasons, the challenge planner, the
// parameter schema and the worker's answer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  SCORE_SCALE,
  deviceIdHex,
  deviceIdOf,
  devicePublicKey,
  generateDeviceKey,
  reportDigest,
  reportSchema,
  signReport,
  verifyReport,
  type AcceptedReport,
  type Challenge,
  type DeviceSnapshot,
  type Domain,
  type Rejection,
  type Report,
  verifyObjects,
  type WorkerContext,
  seededUnit,
} from '@groundwork/protocol';
import type { Hex } from 'viem';
import uptimeDefault, {
  ANSWER_TYPE,
  DEFAULT_PARAMETERS,
  KIND,
  answerBodySchema,
  parametersSchema,
  planChallenges,
  uptimeNetwork,
  verifyUptime,
  type UptimeParameters,
} from '../src/index.ts';

const domain: Domain = { chainId: 31337, registry: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const EPOCH = 5;
const START_MS = 1_700_000_000_000;
const DEADLINE_MS = DEFAULT_PARAMETERS.deadlineMs;

type Dev = { key: ReturnType<typeof generateDeviceKey>; id: Hex; snapshot: DeviceSnapshot };
function makeDevice(owner: Hex): Dev {
  const key = generateDeviceKey();
  const pub = devicePublicKey(key.publicKey);
  const id = deviceIdHex(deviceIdOf(pub));
  return { key, id, snapshot: { device: id, owner, network: KIND, keyX: pub.x, keyY: pub.y, stake: '0', registeredAt: 0 } };
}
const A = makeDevice('0x1111111111111111111111111111111111111111');
const B = makeDevice('0x2222222222222222222222222222222222222222');
const C = makeDevice('0x3333333333333333333333333333333333333333'); // never challenged

const nonce = (device: string, i: number): Hex => `0x${device.slice(-8)}${i.toString(16).padStart(56, '0')}`;
function challenge(d: Dev, i: number): Challenge {
  const issuedAt = START_MS + 10_000 * i;
  return { network: KIND, device: d.id, epoch: EPOCH, nonce: nonce(d.id, i), issuedAt, deadline: issuedAt + DEADLINE_MS };
}
const challengesA = [0, 1, 2].map((i) => challenge(A, i));
const challengesB = [0, 1, 2].map((i) => challenge(B, i));
const oracleInputs = [...challengesA, ...challengesB];

function answer(d: Dev, body: Record<string, unknown>, receivedAt: number, type = ANSWER_TYPE): AcceptedReport {
  const report = signReport({ v: 1, ...domain, network: KIND, type, device: d.id, epoch: EPOCH, body }, d.key.privateKey);
  return { report, digest: reportDigest(report), receivedAt };
}
/** An on-time answer, `delay` ms after the challenge was issued. */
const onTime = (d: Dev, c: Challenge, delay = 100): AcceptedReport => answer(d, { nonce: c.nonce }, c.issuedAt + delay);

function verify(
  reports: AcceptedReport[],
  inputs: unknown[] = oracleInputs,
  devices: DeviceSnapshot[] = [A.snapshot, B.snapshot, C.snapshot],
) {
  return verifyObjects(uptimeNetwork, {
    epoch: EPOCH,
    start: START_MS / 1000,
    end: START_MS / 1000 + 30,
    parameters: DEFAULT_PARAMETERS,
    devices,
    reports,
    oracleInputs: inputs,
  });
}
const scoreOf = (out: ReturnType<typeof verify>, d: Dev) => out.scores.find((s) => s.device === d.id);
const rejectionsOf = (out: ReturnType<typeof verify>, reason: string): Rejection[] => out.rejections.filter((r) => r.reason === reason);

describe('verifyUptime', () => {
  test('every challenge answered in time scores SCORE_SCALE; scores come in snapshot order', () => {
    const out = verify([...challengesA.map((c) => onTime(A, c)), ...challengesB.map((c) => onTime(B, c))]);
    assert.deepEqual(
      out.scores.map((s) => s.device),
      [A.id, B.id, C.id],
    );
    assert.deepEqual(scoreOf(out, A), { device: A.id, score: SCORE_SCALE, detail: { challenges: 3, answered: 3 } });
    assert.deepEqual(scoreOf(out, B), { device: B.id, score: SCORE_SCALE, detail: { challenges: 3, answered: 3 } });
    assert.deepEqual(out.rejections, []);
  });

  test('2 of 3 answered scores floor(2 × 10^6 / 3) and lists the third as unanswered (digest null)', () => {
    const out = verify([onTime(A, challengesA[0]!), onTime(A, challengesA[2]!), ...challengesB.map((c) => onTime(B, c))]);
    assert.equal(scoreOf(out, A)!.score, 666_666n);
    assert.equal(scoreOf(out, A)!.score, (2n * SCORE_SCALE) / 3n);
    assert.deepEqual(scoreOf(out, A)!.detail, { challenges: 3, answered: 2 });
    const unanswered = rejectionsOf(out, 'unanswered');
    assert.equal(unanswered.length, 1);
    assert.equal(unanswered[0]!.device, A.id);
    assert.equal(unanswered[0]!.digest, null);
    assert.match(unanswered[0]!.detail, new RegExp(challengesA[1]!.nonce));
    assert.equal(out.rejections.length, 1);
  });

  test('an answer received after the deadline is late (with the ms in the detail); at the deadline it counts', () => {
    const c0 = challengesA[0]!;
    const c1 = challengesA[1]!;
    const late = answer(A, { nonce: c0.nonce }, c0.deadline + 250);
    const justInTime = answer(A, { nonce: c1.nonce }, c1.deadline);
    const out = verify([late, justInTime]);
    const lates = rejectionsOf(out, 'late');
    assert.equal(lates.length, 1);
    assert.deepEqual({ device: lates[0]!.device, digest: lates[0]!.digest }, { device: A.id, digest: late.digest });
    assert.match(lates[0]!.detail, /\b250 ms after the deadline/);
    assert.match(lates[0]!.detail, new RegExp(`\\(${c0.deadline}\\)`));
    assert.deepEqual(scoreOf(out, A)!.detail, { challenges: 3, answered: 1 });
    // The late challenge is still unanswered.
    assert.ok(rejectionsOf(out, 'unanswered').some((r) => r.detail.includes(c0.nonce)));
  });

  test('a nonce not issued to the device is an unknown challenge, including another device’s nonce', () => {
    const invented = answer(A, { nonce: `0x${'ee'.repeat(32)}` }, START_MS + 100);
    const stolen = answer(A, { nonce: challengesB[0]!.nonce }, challengesB[0]!.issuedAt + 100);
    const out = verify([invented, stolen]);
    const unknown = rejectionsOf(out, 'unknown-challenge');
    assert.deepEqual(unknown.map((r) => r.digest).sort(), [invented.digest, stolen.digest].sort());
    for (const r of unknown) {
      assert.equal(r.device, A.id);
      assert.match(r.detail, new RegExp(`epoch ${EPOCH}`));
    }
    assert.equal(scoreOf(out, A)!.score, 0n);
    assert.equal(scoreOf(out, B)!.score, 0n, "B's challenge is not answered by A's report");
  });

  test('a challenge answered twice: the later copy is a duplicate, whatever the input order', () => {
    const c = challengesA[0]!;
    const first = answer(A, { nonce: c.nonce }, c.issuedAt + 100);
    const second = answer(A, { nonce: c.nonce }, c.issuedAt + 200);
    assert.notEqual(first.digest, second.digest);
    for (const reports of [
      [first, second],
      [second, first],
    ]) {
      const out = verify(reports);
      const dups = rejectionsOf(out, 'duplicate-answer');
      assert.equal(dups.length, 1);
      assert.equal(dups[0]!.digest, second.digest);
      assert.equal(dups[0]!.device, A.id);
      assert.deepEqual(scoreOf(out, A)!.detail, { challenges: 3, answered: 1 });
      assert.deepEqual(out, verify([first, second]));
    }
  });

  test('a duplicate that comes after the deadline is still a duplicate, and the on-time first copy counts', () => {
    const c = challengesA[0]!;
    const first = answer(A, { nonce: c.nonce }, c.issuedAt + 100);
    const lateCopy = answer(A, { nonce: c.nonce }, c.deadline + 1);
    const out = verify([lateCopy, first]);
    assert.deepEqual(
      out.rejections.filter((r) => r.digest !== null).map((r) => [r.reason, r.digest]),
      [['duplicate-answer', lateCopy.digest]],
    );
    assert.equal(scoreOf(out, A)!.detail.answered, 1);
  });

  test('equal receive times: the tie is broken by digest, so the result does not depend on input order', () => {
    const c = challengesA[0]!;
    const x = answer(A, { nonce: c.nonce }, c.issuedAt + 100);
    const y = answer(A, { nonce: c.nonce }, c.issuedAt + 100);
    const later = x.digest < y.digest ? y : x; // the higher digest sorts second
    for (const reports of [
      [x, y],
      [y, x],
    ]) {
      const dups = rejectionsOf(verify(reports), 'duplicate-answer');
      assert.deepEqual(
        dups.map((r) => r.digest),
        [later.digest],
      );
    }
  });

  test('unanswered challenges are each listed with digest null and the challenge in the detail', () => {
    const out = verify([]);
    const unanswered = rejectionsOf(out, 'unanswered');
    assert.equal(unanswered.length, 6);
    assert.deepEqual(
      unanswered.map((r) => r.device),
      [A.id, A.id, A.id, B.id, B.id, B.id],
    );
    for (const [i, r] of unanswered.entries()) {
      const c = oracleInputs[i]!;
      assert.equal(r.digest, null);
      assert.equal(r.detail, `challenge ${c.nonce} issued at ${c.issuedAt} got no valid answer by its deadline ${c.deadline}`);
    }
    for (const d of [A, B, C]) assert.equal(scoreOf(out, d)!.score, 0n);
  });

  test('a device with no challenges scores 0 with detail challenges 0, even if it sends reports', () => {
    const out = verify([answer(C, { nonce: `0x${'cc'.repeat(32)}` }, START_MS)]);
    assert.deepEqual(scoreOf(out, C), { device: C.id, score: 0n, detail: { challenges: 0, answered: 0 } });
    assert.deepEqual(
      rejectionsOf(out, 'unknown-challenge').map((r) => r.device),
      [C.id],
    );
  });

  test('a report of another type is unknown-type', () => {
    const r = answer(A, { nonce: challengesA[0]!.nonce }, challengesA[0]!.issuedAt + 1, 'uptime.ping');
    const out = verify([r]);
    const rej = rejectionsOf(out, 'unknown-type');
    assert.equal(rej.length, 1);
    assert.equal(rej[0]!.digest, r.digest);
    assert.match(rej[0]!.detail, /uptime\.ping/);
    assert.equal(scoreOf(out, A)!.score, 0n);
  });

  test('a malformed body is malformed-body', () => {
    const c = challengesA[0]!;
    const bodies: Record<string, unknown>[] = [
      {},
      { nonce: 'xyz' },
      { nonce: `0x${'AB'.repeat(32)}` }, // uppercase hex
      { nonce: c.nonce.slice(0, 64) },
      { nonce: c.nonce, extra: 1 },
      { nonce: 1 },
    ];
    const reports = bodies.map((b, i) => answer(A, b, c.issuedAt + i));
    const out = verify(reports);
    assert.equal(rejectionsOf(out, 'malformed-body').length, bodies.length);
    assert.equal(scoreOf(out, A)!.score, 0n);
  });

  test('reports from devices outside the snapshot get no score entry; the score list follows the snapshot', () => {
    const out = verify(
      challengesA.map((c) => onTime(A, c)),
      oracleInputs,
      [B.snapshot],
    );
    assert.deepEqual(
      out.scores.map((s) => s.device),
      [B.id],
    );
  });

  test('a challenge listed twice counts once, so it cannot cap the score', () => {
    const out = verify(
      challengesA.map((c) => onTime(A, c)),
      [...oracleInputs, challengesA[0]!],
    );
    assert.equal(scoreOf(out, A)!.score, SCORE_SCALE);
    assert.equal(scoreOf(out, A)!.detail.challenges, 3);
  });

  test('malformed oracle inputs are refused (they are the oracle’s own record)', () => {
    assert.throws(() => verify([], [{ ...challengesA[0]!, nonce: 'bad' }]));
  });
});

describe('planChallenges', () => {
  test('count = challengesPerEpoch, within [startMs, endMs − deadlineMs − 500], one per slot', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const next = seededUnit(seed);
      const parameters: UptimeParameters = {
        challengesPerEpoch: 1 + Math.floor(next() * 40),
        deadlineMs: 100 + Math.floor(next() * 5000),
        usageShareBps: 0,
      };
      const startMs = START_MS + Math.floor(next() * 1e6);
      const endMs = startMs + parameters.deadlineMs + 501 + Math.floor(next() * 120_000);
      const times = planChallenges({ startMs, endMs, parameters, random: seededUnit(seed * 7) });
      const latest = endMs - parameters.deadlineMs - 500;
      const slot = (latest - startMs) / parameters.challengesPerEpoch;
      assert.equal(times.length, parameters.challengesPerEpoch, `seed ${seed}`);
      times.forEach((t, i) => {
        assert.ok(Number.isInteger(t), `seed ${seed}: ${t}`);
        assert.ok(t >= startMs && t <= latest, `seed ${seed}: ${t} outside [${startMs}, ${latest}]`);
        assert.ok(
          t >= Math.floor(startMs + slot * i) && t <= startMs + slot * (i + 1),
          `seed ${seed}: challenge ${i} at ${t} is not in its slot`,
        );
        if (i > 0) assert.ok(t >= times[i - 1]!, `seed ${seed}: not in order`);
      });
    }
  });

  test('with random() at its extremes the times stay within the bounds', () => {
    const args = { startMs: 0, endMs: 30_000, parameters: DEFAULT_PARAMETERS };
    assert.deepEqual(planChallenges({ ...args, random: () => 0 }), [0, 8500, 17_000]);
    // Just below 1: the end of each slot (float rounding may land on the slot's upper edge, never past it).
    const top = planChallenges({ ...args, random: () => 1 - 2 ** -53 });
    assert.equal(top.length, 3);
    top.forEach((t, i) => {
      assert.ok(t >= 8500 * (i + 1) - 1 && t <= 8500 * (i + 1), `${t}`);
    });
    assert.ok(top[2]! <= 30_000 - DEFAULT_PARAMETERS.deadlineMs - 500);
    assert.deepEqual(planChallenges({ ...args, random: () => 0.999 }), [8491, 16_991, 25_491]);
  });

  test('deterministic for a fixed random()', () => {
    const args = { startMs: START_MS, endMs: START_MS + 30_000, parameters: { ...DEFAULT_PARAMETERS, challengesPerEpoch: 10 } };
    assert.deepEqual(planChallenges({ ...args, random: seededUnit(9) }), planChallenges({ ...args, random: seededUnit(9) }));
    assert.notDeepEqual(planChallenges({ ...args, random: seededUnit(9) }), planChallenges({ ...args, random: seededUnit(10) }));
  });

  test('an epoch too short for the deadline gives one challenge at startMs', () => {
    const p = DEFAULT_PARAMETERS;
    assert.deepEqual(planChallenges({ startMs: 1000, endMs: 1000 + p.deadlineMs + 500, parameters: p, random: () => 0.5 }), [1000]);
    assert.deepEqual(planChallenges({ startMs: 1000, endMs: 1000, parameters: p, random: () => 0.5 }), [1000]);
    assert.deepEqual(planChallenges({ startMs: 1000, endMs: 500, parameters: p, random: () => 0.5 }), [1000]);
    // One millisecond more and it plans the full count.
    assert.equal(
      planChallenges({ startMs: 1000, endMs: 1000 + p.deadlineMs + 501, parameters: p, random: () => 0.5 }).length,
      p.challengesPerEpoch,
    );
  });

  test('is the plug-in’s challenger, with the deadline from the parameters', () => {
    assert.equal(uptimeNetwork.challenger!.plan, planChallenges);
    assert.equal(uptimeNetwork.challenger!.deadlineMs({ ...DEFAULT_PARAMETERS, deadlineMs: 1234 }), 1234);
  });
});

describe('parametersSchema', () => {
  test('accepts the defaults and the bounds', () => {
    assert.ok(parametersSchema.safeParse(DEFAULT_PARAMETERS).success);
    assert.ok(parametersSchema.safeParse({ challengesPerEpoch: 1, deadlineMs: 100, usageShareBps: 0 }).success);
    assert.ok(parametersSchema.safeParse({ challengesPerEpoch: 1000, deadlineMs: 600_000, usageShareBps: 10_000 }).success);
    assert.equal(uptimeNetwork.parameters.schema, parametersSchema);
    assert.deepEqual(uptimeNetwork.parameters.defaults, DEFAULT_PARAMETERS);
    for (const k of Object.keys(DEFAULT_PARAMETERS)) assert.ok(uptimeNetwork.parameters.references[k], `no reference for ${k}`);
  });

  test('refuses out-of-range values, fractions, wrong types, unknown and missing keys', () => {
    const bad: Record<string, unknown>[] = [
      { challengesPerEpoch: 0 },
      { challengesPerEpoch: 1001 },
      { challengesPerEpoch: 1.5 },
      { challengesPerEpoch: '3' },
      { deadlineMs: 99 },
      { deadlineMs: 600_001 },
      { deadlineMs: 1000.5 },
      { usageShareBps: -1 },
      { usageShareBps: 10_001 },
      { usageShareBps: Number.NaN },
      { extra: 1 },
    ];
    for (const change of bad)
      assert.equal(parametersSchema.safeParse({ ...DEFAULT_PARAMETERS, ...change }).success, false, JSON.stringify(change));
    const { deadlineMs: _omit, ...missing } = DEFAULT_PARAMETERS;
    assert.equal(parametersSchema.safeParse(missing).success, false);
  });

  test('usageShareBps comes straight from the parameters', () => {
    assert.equal(uptimeNetwork.usageShareBps({ ...DEFAULT_PARAMETERS, usageShareBps: 1234 }), 1234);
  });
});

describe('worker', () => {
  // `uptime` has no services: a worker that tried to reach them would fail the test.
  const workerContext = (epoch: () => number): WorkerContext => ({
    device: A.id,
    domain,
    key: A.key.privateKey,
    epoch,
    log: () => {},
    oracleUrl: 'http://127.0.0.1:1',
    send: () => assert.fail('uptime sends nothing to services'),
    submit: () => assert.fail('uptime answers challenges only'),
  });

  test('onChallenge answers with a report that verifies and carries the challenge’s nonce and epoch', async () => {
    const c: Challenge = { ...challengesA[1]!, epoch: 77 };
    const ctx = workerContext(() => 76);
    const report = (await uptimeNetwork.worker.onChallenge!(c, ctx)) as Report;
    assert.ok(report);
    assert.equal(verifyReport(report, A.key.publicKey), true);
    assert.equal(verifyReport(report, B.key.publicKey), false);
    assert.deepEqual(report.body, { nonce: c.nonce });
    assert.equal(report.epoch, 77, 'the challenge’s epoch, not the agent clock’s');
    assert.equal(report.device, A.id);
    assert.equal(report.network, KIND);
    assert.equal(report.type, ANSWER_TYPE);
    assert.equal(report.chainId, domain.chainId);
    assert.equal(report.registry, domain.registry);
    assert.ok(reportSchema.safeParse(report).success);
    assert.ok(uptimeNetwork.reportTypes[ANSWER_TYPE]!.safeParse(report.body).success);
    assert.ok(answerBodySchema.safeParse(report.body).success);
  });

  test('the answer counts when the verifier sees it in time', async () => {
    const ctx = workerContext(() => EPOCH);
    const reports: AcceptedReport[] = [];
    for (const c of challengesA) {
      const report = (await uptimeNetwork.worker.onChallenge!(c, ctx)) as Report;
      reports.push({ report, digest: reportDigest(report), receivedAt: c.issuedAt + 50 });
    }
    assert.equal(scoreOf(verify(reports), A)!.score, SCORE_SCALE);
  });

  test('the default export is the plug-in', () => {
    assert.equal(uptimeDefault, uptimeNetwork);
    assert.equal(uptimeNetwork.kind, 'uptime');
    assert.equal(uptimeNetwork.verify, verifyUptime);
  });
});
