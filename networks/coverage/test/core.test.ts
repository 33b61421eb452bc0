// The coverage network's pure core against Helium's numbers: reward units, pools, HIP-17 limits
// and scales, free-space loss, data credits, and each beacon and witness check's refusal.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cellToParent, gridDisk, latLngToCell } from 'h3-js';
import {
  type Beacon,
  beaconerUnits,
  type CheckContext,
  coveragePools,
  DEFAULT_TX_SCALE,
  freeSpacePathLoss,
  type Hotspot,
  hexDensity,
  maxReceivedDbm,
  packetCredits,
  verifyBeacon,
  verifyWitnesses,
  type Witness,
  witnessUnits,
} from '../src/index.ts';

describe('reward units and pools', () => {
  test('beaconer and witness units (reward_share.rs)', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map(beaconerUnits), [0, 0.25, 0.5, 0.75, 1]);
    assert.ok(Math.abs(beaconerUnits(5) - 1.2) < 1e-12, '2 − 0.8');
    assert.ok(Math.abs(beaconerUnits(14) - (2 - 0.8 ** 10)) < 1e-12);
    assert.deepEqual([1, 4].map(witnessUnits), [1, 1]);
    assert.ok(Math.abs(witnessUnits(5) - 3.8 / 5) < 1e-12);
    assert.ok(witnessUnits(14) < witnessUnits(5), 'a crowded beacon pays each witness less');
  });

  test('pools: 6% beacons, 24% witnesses, data up to 50%, the unused data share back 20:80', () => {
    const E = 1_000_000n;
    assert.deepEqual(coveragePools(E, 0n), { beacon: 60_000n + 100_000n, witness: 240_000n + 400_000n, data: 0n });
    assert.deepEqual(coveragePools(E, 900_000n), { beacon: 60_000n, witness: 240_000n, data: 500_000n });
    const p = coveragePools(E, 123_457n);
    assert.equal(p.data, 123_457n);
    assert.ok(p.beacon + p.witness + p.data <= (E * 8_000n) / 10_000n);
  });

  test('data credits: 1 per 24 bytes, at least 1', () => {
    assert.deepEqual(
      [0, 1, 24, 25, 48, 240].map((b) => packetCredits(b)),
      [1n, 1n, 1n, 2n, 2n, 10n],
    );
    assert.throws(() => packetCredits(-1), /whole number/);
  });

  test('free-space path loss: 91.7 dB over 1 km at 915 MHz', () => {
    assert.ok(Math.abs(freeSpacePathLoss(1000, 915e6) - 91.67) < 0.01);
    assert.ok(Math.abs(freeSpacePathLoss(10_000, 915e6) - freeSpacePathLoss(1000, 915e6) - 20) < 1e-9, '20 dB a decade');
    assert.ok(Math.abs(maxReceivedDbm(27, 3, 2, 1000, 915e6) - (32 - 91.67)) < 0.01);
  });
});

describe('HIP-17 transmit scaling', () => {
  const at = (lat: number, lng: number) => latLngToCell(lat, lng, 12);
  test('a lone hotspot scales by 1, hotspots sharing a res-10 hex share it, an unknown hex gets 0.2', () => {
    const alone = at(37.0, -122.0);
    const crowd = [at(37.5, -121.5), at(37.50001, -121.50001), at(37.50002, -121.5)];
    assert.equal(new Set(crowd.map((c) => cellToParent(c, 10))).size, 1, 'the three share a res-10 hex');
    const map = hexDensity([alone, ...crowd]);
    assert.equal(map.scaleOf(alone), 1);
    for (const c of crowd) assert.ok(Math.abs(map.scaleOf(c) - 1 / 3) < 1e-12, 'res 10 allows one: 1/3 each');
    assert.equal(map.scaleOf(at(10, 10)), DEFAULT_TX_SCALE);
    const h10 = map.hexes.get(cellToParent(crowd[0]!, 10))!;
    assert.deepEqual(h10, { resolution: 10, unclipped: 3, limit: 1, clipped: 1 });
  });

  test('the res-7 limit grows with occupied neighbours: min(10, 5 × (max(occupied − 4, 0) + 1))', () => {
    // Six neighbours of a res-7 hex each get 5 hotspots in distinct res-8 hexes (each counts 1).
    const centre = latLngToCell(40, -100, 7);
    const cells: string[] = [];
    for (const hex of gridDisk(centre, 1)) {
      const kids = gridDisk(latLngToCell(...cellCentre(hex), 8), 2)
        .filter((k) => cellToParent(k, 7) === hex)
        .slice(0, 5);
      for (const k of kids) cells.push(latLngToCell(...cellCentre(k), 12));
    }
    const map = hexDensity(cells);
    const h = map.hexes.get(centre)!;
    assert.equal(h.resolution, 7);
    // The centre's six neighbours all reach the target of 5: limit = min(10, 5 × (6 − 4 + 1)) = 10.
    assert.equal(h.limit, 10);
  });
});

import { cellToLatLng } from 'h3-js';
function cellCentre(c: string): [number, number] {
  const [lat, lng] = cellToLatLng(c);
  return [lat, lng];
}

describe('beacon and witness checks', () => {
  const cell = (lat: number, lng: number) => latLngToCell(lat, lng, 12);
  const hotspots = new Map<string, Hotspot>([
    ['a', { id: 'a', cell: cell(37.77, -122.42), gainDbi: 3, region: 'US915' }],
    ['b', { id: 'b', cell: cell(37.78, -122.41), gainDbi: 3, region: 'US915' }],
    ['near', { id: 'near', cell: cell(37.7701, -122.4201), gainDbi: 3, region: 'US915' }],
    ['far', { id: 'far', cell: cell(40.0, -122.42), gainDbi: 3, region: 'US915' }],
    ['eu', { id: 'eu', cell: cell(37.79, -122.4), gainDbi: 3, region: 'EU868' }],
    ['ghost', { id: 'ghost', cell: null, gainDbi: 3, region: 'US915' }],
  ]);
  const entropy = { id: 'e1', start: 1_000_000, data: 'abc' };
  const ctx: CheckContext = {
    hotspot: (id) => hotspots.get(id),
    entropy: (id) => (id === 'e1' ? entropy : undefined),
    denied: (id) => id === 'banned',
    expectedPayload: (e, h) => `${e.data}:${h.id}`,
    beaconIntervalMs: 6 * 3600_000,
    lastBeaconAt: () => null,
    lastValidWitnessAt: () => 999_000,
    lastWitnessedBeaconAt: () => 999_000,
  };
  const beacon: Beacon = {
    digest: 'd0',
    hotspot: 'a',
    entropy: 'e1',
    receivedAt: 1_010_000,
    payload: 'abc:a',
    frequencyHz: 904.3e6,
    txPowerDbm: 27,
  };
  const w = (over: Partial<Witness>): Witness => ({
    digest: `w-${over.hotspot ?? 'b'}-${over.receivedAt ?? 0}`,
    hotspot: 'b',
    beacon: 'd0',
    receivedAt: 1_010_500,
    payload: 'abc:a',
    frequencyHz: 904.3e6,
    rssiDbm: -110,
    snrDb: 5,
    ...over,
  });

  test('a good beacon passes; each beacon check refuses with its reason', () => {
    assert.deepEqual(verifyBeacon(beacon, ctx), { ok: true });
    const reason = (b: Partial<Beacon>, c: Partial<CheckContext> = {}) => {
      const v = verifyBeacon({ ...beacon, ...b }, { ...ctx, ...c });
      return v.ok ? 'ok' : v.reason;
    };
    assert.equal(reason({ hotspot: 'nobody' }), 'unknown-gateway');
    assert.equal(reason({ hotspot: 'ghost' }), 'no-location');
    assert.equal(reason({}, { denied: (id) => id === 'a' }), 'denied');
    assert.equal(reason({ entropy: 'e9' }), 'unknown-entropy');
    assert.equal(reason({ receivedAt: entropy.start + 180_001 }), 'entropy-expired');
    assert.equal(reason({}, { lastBeaconAt: () => 1_005_000 }), 'irregular-interval');
    assert.equal(reason({ payload: 'forged' }), 'invalid-payload');
    assert.equal(reason({}, { lastValidWitnessAt: () => null }), 'no-valid-witnesses');
  });

  test('each witness check refuses with its reason; the 14 earliest valid ones are selected', () => {
    const cases: [Partial<Witness>, string][] = [
      [{ hotspot: 'nobody' }, 'unknown-gateway'],
      [{ hotspot: 'ghost' }, 'no-location'],
      [{ hotspot: 'a' }, 'self-witness'],
      [{ receivedAt: entropy.start + 200_000 }, 'entropy-expired'],
      [{ receivedAt: beacon.receivedAt + 4_001 }, 'too-late'],
      [{ payload: 'replayed' }, 'invalid-payload'],
      [{ frequencyHz: 904.3e6 + 100_001 }, 'invalid-frequency'],
      [{ hotspot: 'eu' }, 'invalid-region'],
      [{ hotspot: 'near' }, 'too-close'],
      [{ hotspot: 'far' }, 'too-far'],
      [{ rssiDbm: -20 }, 'rssi-above-free-space'],
    ];
    for (const [over, reason] of cases) {
      const { verdicts, selected } = verifyWitnesses(beacon, [w(over)], ctx);
      assert.equal(verdicts[0]!.ok ? 'ok' : (verdicts[0] as { reason: string }).reason, reason, JSON.stringify(over));
      assert.equal(selected.length, 0);
    }
    const twice = verifyWitnesses(beacon, [w({}), w({ receivedAt: 1_010_600 })], ctx);
    assert.deepEqual(
      twice.verdicts.map((v) => (v.ok ? 'ok' : v.reason)),
      ['ok', 'duplicate'],
    );
    const none = verifyWitnesses(beacon, [w({})], { ...ctx, lastWitnessedBeaconAt: () => null });
    assert.equal((none.verdicts[0] as { reason: string }).reason, 'no-valid-beacons');
    // Twenty valid witnesses at distinct places: the 14 earliest are rewarded.
    const many: Witness[] = [];
    for (let i = 0; i < 20; i++) {
      const id = `h${i}`;
      hotspots.set(id, { id, cell: cell(37.8 + i * 0.01, -122.3), gainDbi: 3, region: 'US915' });
      many.push(w({ hotspot: id, receivedAt: 1_013_000 - i * 100 }));
    }
    const r = verifyWitnesses(beacon, many, ctx);
    assert.ok(r.verdicts.every((v) => v.ok));
    assert.deepEqual(
      r.selected.map((x) => x.hotspot),
      Array.from({ length: 14 }, (_, k) => `h${19 - k}`),
    );
  });
});
