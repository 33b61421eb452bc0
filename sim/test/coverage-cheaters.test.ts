// The coverage network's cheaters, in the simulated city, judged by the verifier's own round
// (round.ts) and its repeat-offender rule: a spoofer asserting a place 150 km from where its radio
// is, a witness farm (four hotspots on one roof asserting four places), a hotspot witnessing itself
// through a second key, and a forger that replays old witnesses, invents payloads and inflates the
// RSSI of what it heard. Each earns nothing, every refused report says why, the repeat offenders
// are named with their evidence, and the honest hotspots' shares are exactly those of the same
// world (same seed) without the cheaters.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { latLngToCell } from 'h3-js';
import {
  DEFAULT_COVERAGE_PARAMETERS,
  type HotspotRow,
  judgeRound,
  type RoundReport,
  repeatOffenders,
  WITNESS_TYPE,
} from '@groundwork/network-coverage';
import type { Hex } from 'viem';
import { CoverageWorld, type FleetHotspot, fleetRows, playRound } from '../src/index.ts';

const SEED = 11;
const EPOCH_MS = 60_000;
const T0 = 1_800_000_000_000;
const id = (name: string): Hex => `0x${createHash('sha256').update(name).digest('hex')}`;

function city(withCheaters: boolean) {
  const world = new CoverageWorld({ seed: SEED, radiusKm: 3 });
  const fleet: FleetHotspot[] = [];
  const add = (name: string, at: [number, number], asserted: [number, number] = at) => {
    const device = id(name);
    world.place(device, at);
    fleet.push({ device, cell: latLngToCell(asserted[0], asserted[1], 12) });
    return device;
  };
  // Honest hotspots first, so the world's own draws (places, gains) are the same in both cities.
  const honest = Array.from({ length: 12 }, (_, i) => add(`honest-${i}`, world.randomPlace()));
  const cheaters: Record<string, Hex[]> = { spoofer: [], farm: [], twin: [], forger: [] };
  if (withCheaters) {
    const c = world.centre;
    cheaters.spoofer!.push(add('spoofer', world.offset(c, 0.8, 0.4), world.offset(c, 150, 0)));
    const roof = world.offset(c, 0, 150);
    for (let k = 0; k < 4; k++)
      cheaters.farm!.push(add(`farm-${k}`, world.offset(roof, k * 0.002, 0), world.offset(roof, 2 * (k - 1.5), 2 * (k % 2))));
    const home = world.offset(c, 0, -150);
    cheaters.twin!.push(add('twin-a', home), add('twin-b', world.offset(home, 0.003, 0), world.offset(home, 1, 0)));
    cheaters.forger!.push(add('forger', world.offset(c, -0.7, -0.5)));
  }
  return { world, fleet, honest, cheaters };
}

/** Two rounds (the first builds HIP-106's reciprocity history); the forger's reports added to the second. */
function play(withCheaters: boolean) {
  const { world, fleet, honest, cheaters } = city(withCheaters);
  const forger = cheaters.forger![0];
  const parameters = DEFAULT_COVERAGE_PARAMETERS;
  let history: HotspotRow[] | ReturnType<typeof judgeRound>['history'] = [];
  let judged: ReturnType<typeof judgeRound> | null = null;
  let firstRoundForgery: RoundReport[] = [];
  const forged: RoundReport[] = [];
  for (let r = 0; r < 2; r++) {
    const startMs = T0 + r * EPOCH_MS;
    const { rows, entropy } = fleetRows(world, fleet, startMs, SEED + r);
    // The forger beacons nothing and reports nothing it heard honestly.
    let { reports } = playRound({ world, fleet, entropy, seed: SEED, beacons: (h) => h.device !== forger });
    if (forger) {
      const heard = reports.filter((x) => x.device === forger);
      reports = reports.filter((x) => x.device !== forger);
      const mine = (body: Record<string, unknown>, at: number, tag: string): RoundReport => ({
        digest: id(`forged-${r}-${tag}`),
        device: forger,
        type: WITNESS_TYPE,
        body,
        receivedAt: at,
      });
      // What it heard, each 60 dB stronger than it was: witnesses from a place closer than its own.
      heard.forEach((h, k) => {
        const b = h.body as { signalDdbm: number };
        forged.push(mine({ ...(h.body as object), signalDdbm: b.signalDdbm + 600 }, h.receivedAt, `loud-${k}`));
      });
      // Last round's witnesses sent again, and a payload it made up.
      for (const [k, old] of firstRoundForgery.entries())
        forged.push(mine(old.body as Record<string, unknown>, startMs + 2000 + k, `replay-${k}`));
      forged.push(
        mine({ payload: id(`invented-${r}`), frequencyHz: 903_900_000, signalDdbm: -1000, snrDdb: 50 }, startMs + 2500, 'invented'),
      );
      if (r === 0) firstRoundForgery = heard;
      reports = [...reports, ...forged.splice(0)].sort((a, b) => a.receivedAt - b.receivedAt || (a.digest < b.digest ? -1 : 1));
    }
    judged = judgeRound({ startMs, endMs: startMs + EPOCH_MS, parameters, rows: [...rows, ...history], reports });
    history = judged.history;
  }
  const { rows } = fleetRows(world, fleet, T0 + EPOCH_MS, SEED + 1);
  const places = new Map(rows.filter((r): r is HotspotRow => r.kind === 'hotspot').map((r) => [r.device, r]));
  return { judged: judged!, honest, cheaters, findings: repeatOffenders(parameters, judged!, places) };
}

const clean = play(false);
const dirty = play(true);

test('honest hotspots earn, and their shares are the same with the cheaters as without them (same seed)', () => {
  const earning = clean.honest.filter((h) => (clean.judged.round.witnessShares.get(h) ?? 0) > 0);
  assert.ok(earning.length >= 8, `most honest hotspots witness validly (${earning.length} of 12)`);
  assert.ok(
    clean.honest.some((h) => (clean.judged.round.beaconShares.get(h) ?? 0) > 0),
    'honest beacons are rewarded',
  );
  for (const h of clean.honest) {
    assert.equal(
      dirty.judged.round.beaconShares.get(h) ?? 0,
      clean.judged.round.beaconShares.get(h) ?? 0,
      `beacon share of ${h.slice(0, 10)}`,
    );
    assert.equal(
      dirty.judged.round.witnessShares.get(h) ?? 0,
      clean.judged.round.witnessShares.get(h) ?? 0,
      `witness share of ${h.slice(0, 10)}`,
    );
  }
});

test('every cheater earns nothing, and each of its refused reports says why', () => {
  const reasons = (device: Hex, kind: 'beacon' | 'witness') =>
    new Set(dirty.judged.round.rejections.filter((r) => r.hotspot === device && r.kind === kind).map((r) => r.reason));
  for (const device of Object.values(dirty.cheaters).flat()) {
    assert.equal(dirty.judged.round.beaconShares.get(device) ?? 0, 0, `${device.slice(0, 10)} earns no beacon share`);
    assert.equal(dirty.judged.round.witnessShares.get(device) ?? 0, 0, `${device.slice(0, 10)} earns no witness share`);
  }
  const [spoofer] = dirty.cheaters.spoofer!;
  assert.deepEqual(
    reasons(spoofer!, 'witness'),
    new Set(['too-far']),
    'the spoofer heard beacons from over 100 km away, by its own assert',
  );
  assert.deepEqual(
    reasons(spoofer!, 'beacon'),
    new Set(['no-valid-witnesses']),
    'HIP-106: a spoofer that never witnesses validly beacons for nothing',
  );
  for (const member of dirty.cheaters.farm!)
    assert.deepEqual(reasons(member, 'witness'), new Set(['rssi-above-free-space']), 'the farm hears itself louder than free space allows');
  for (const twin of dirty.cheaters.twin!)
    assert.deepEqual(
      reasons(twin, 'witness'),
      new Set(['rssi-above-free-space']),
      'a second key on the same radio mast hears the first impossibly loud',
    );
  const [forger] = dirty.cheaters.forger!;
  const forgery = reasons(forger!, 'witness');
  assert.ok(forgery.has('rssi-above-free-space') && forgery.has('unknown-beacon'), 'inflated signals, replayed and invented payloads');
  // (and the spoofer's beacon, which it heard from over 100 km away by the spoofer's assert)
  for (const r of forgery) assert.ok(['rssi-above-free-space', 'unknown-beacon', 'too-far'].includes(r), r);
  // Honest hotspots that heard the spoofer's beacon are refused for it, and only for it.
  const honestTooFar = dirty.judged.round.rejections.filter((r) => dirty.honest.includes(r.hotspot as Hex) && r.reason === 'too-far');
  assert.ok(honestTooFar.length > 0, 'honest neighbours heard the spoofer');
  const spooferBeacon = dirty.judged.beacons.find((b) => b.hotspot === spoofer)!.digest;
  for (const r of honestTooFar) assert.equal(dirty.judged.witnesses.find((w) => w.digest === r.digest)!.beacon, spooferBeacon);
});

test('repeat offenders are named with the reports that prove it; the honest and the one-link twins are not', () => {
  const accused = new Set(dirty.findings.map((f) => f.device));
  assert.ok(accused.has(dirty.cheaters.spoofer![0]!), 'the spoofer');
  for (const m of dirty.cheaters.farm!) assert.ok(accused.has(m), 'each farm member');
  assert.ok(accused.has(dirty.cheaters.forger![0]!), 'the forger');
  for (const h of dirty.honest) assert.ok(!accused.has(h), 'no honest hotspot, not even the spoofer’s neighbours');
  for (const t of dirty.cheaters.twin!) assert.ok(!accused.has(t), 'a twin has one impossible link: refused, not slashed');
  assert.equal(clean.findings.length, 0, 'nobody is accused in the honest city');
  assert.deepEqual([...dirty.judged.refused], [], 'every report parsed');
  const spoofer = dirty.findings.find((f) => f.device === dirty.cheaters.spoofer![0])!;
  const evidence = spoofer.evidence as { impossible: { witnessReport: string; reason: string; distanceM: number }[] };
  assert.ok(evidence.impossible.length >= 3);
  for (const e of evidence.impossible) {
    assert.equal(e.reason, 'too-far');
    assert.ok(e.distanceM > 100_000, `${e.distanceM} m`);
    assert.ok(
      dirty.judged.witnesses.some((w) => w.digest === e.witnessReport),
      'the evidence names reports in the round',
    );
  }
});
