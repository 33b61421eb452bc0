// Proof of coverage in the simulated city, without a chain: hotspots beacon, the world says who
// hears each beacon (RSSI, SNR, frequency, arrival), hearers send witness reports, and the
// coverage checks score the round. Honest hotspots' beacons are witnessed; a spoofer asserting a
// place far from its radio, a witness farm (radios in one spot asserting places apart), a second
// key beside its hotspot, forged and replayed witness reports are all refused with their reasons.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { latLngToCell } from 'h3-js';
import {
  type Beacon,
  type CheckContext,
  type Entropy,
  type Hotspot,
  MAX_WITNESSES_PER_POC,
  type RoundResult,
  scoreRound,
  type Witness,
} from '@groundwork/network-coverage';
import { CoverageWorld } from '../src/coverage-world.ts';

const FREQUENCY = 904.3e6;
const HONEST = 60;

type City = { world: CoverageWorld; hotspots: Map<string, Hotspot>; cheaters: Set<string> };

function city(withCheaters: boolean): City {
  const world = new CoverageWorld({ seed: 7, radiusKm: 12 });
  const hotspots = new Map<string, Hotspot>();
  const add = (id: string, at: [number, number], asserted?: [number, number]) => {
    const r = world.place(id, at);
    hotspots.set(id, {
      id,
      cell: asserted ? latLngToCell(asserted[0], asserted[1], 12) : world.cellOf(id),
      gainDbi: r.gainDbi,
      region: r.region,
    });
  };
  // Honest hotspots first: the world's placement stream is the same with or without cheaters.
  for (let i = 0; i < HONEST; i++) add(`h${i}`, world.randomPlace());
  const cheaters = new Set<string>();
  if (withCheaters) {
    // A spoofer: its radio is in the city, it asserts a town 150 km away.
    add('spoofer', world.randomPlace(), world.offset(world.centre, 150, 0));
    // A witness farm: four radios on one roof asserting places 3 km apart.
    const roof = world.randomPlace();
    for (let k = 0; k < 4; k++) add(`farm${k}`, roof, world.offset(roof, 3 * (k + 1), 3));
    // A second key beside h0, asserting a place 2 km off.
    const h0 = world.radios.get('h0')!;
    add('h0-bis', [h0.lat, h0.lng], world.offset([h0.lat, h0.lng], 2, 0));
    for (const id of ['spoofer', 'farm0', 'farm1', 'farm2', 'farm3', 'h0-bis']) cheaters.add(id);
  }
  return { world, hotspots, cheaters };
}

/** One round: every hotspot beacons once; every hearer that is a hotspot sends a witness report. */
function round(c: City, r: number, history: Pick<CheckContext, 'lastValidWitnessAt' | 'lastWitnessedBeaconAt'>) {
  const entropy: Entropy = { id: `e${r}`, start: 1_000_000 + r * 6 * 3600_000, data: `entropy-${r}` };
  const beacons: Beacon[] = [];
  const witnesses: Witness[] = [];
  for (const id of c.hotspots.keys()) {
    const sentAt = entropy.start + 10_000;
    const payload = `${entropy.data}:${id}`;
    const beacon: Beacon = {
      digest: `b-${r}-${id}`,
      hotspot: id,
      entropy: entropy.id,
      receivedAt: sentAt + 400,
      payload,
      frequencyHz: FREQUENCY,
      txPowerDbm: 27,
    };
    beacons.push(beacon);
    for (const heard of c.world.transmit(id, payload, FREQUENCY)) {
      if (!c.hotspots.has(heard.receiver)) continue;
      witnesses.push({
        digest: `w-${r}-${id}-${heard.receiver}`,
        hotspot: heard.receiver,
        beacon: beacon.digest,
        receivedAt: sentAt + heard.arrivalMs,
        payload,
        frequencyHz: heard.frequencyHz,
        rssiDbm: heard.rssiDbm,
        snrDb: heard.snrDb,
      });
    }
  }
  const ctx: CheckContext = {
    hotspot: (id) => c.hotspots.get(id),
    entropy: (id) => (id === entropy.id ? entropy : undefined),
    denied: () => false,
    expectedPayload: (e, h) => `${e.data}:${h.id}`,
    beaconIntervalMs: 6 * 3600_000,
    lastBeaconAt: () => null,
    ...history,
  };
  return { entropy, beacons, witnesses, ctx };
}

/** Two rounds: the first teaches reciprocity (HIP-106), the second is scored. */
function scored(c: City, extra: (r: ReturnType<typeof round>) => Witness[] = () => []): RoundResult {
  const first = round(c, 0, { lastValidWitnessAt: () => 0, lastWitnessedBeaconAt: () => 0 });
  const warm = scoreRound(first.beacons, first.witnesses, first.ctx);
  const second = round(c, 1, {
    lastValidWitnessAt: (id) => warm.witnessedAt.get(id) ?? null,
    lastWitnessedBeaconAt: (id) => warm.beaconWitnessedAt.get(id) ?? null,
  });
  return scoreRound(second.beacons, [...second.witnesses, ...extra(second)], second.ctx);
}

describe('proof of coverage in the simulated city', () => {
  test('honest hotspots beacon and witness each other within the rules', () => {
    const r = scored(city(false));
    const witnessed = [...r.selected.values()].filter((s) => s.length > 0).length;
    assert.ok(witnessed >= HONEST * 0.8, `${witnessed} of ${HONEST} beacons have valid witnesses`);
    assert.ok([...r.selected.values()].every((s) => s.length <= MAX_WITNESSES_PER_POC));
    // Honest links are refused only by the rules about geometry (too close), never as impossible.
    const impossible = r.rejections.filter((x) => ['rssi-above-free-space', 'too-far', 'invalid-payload'].includes(x.reason));
    assert.ok(
      impossible.length <= r.rejections.length * 0.02 + 1,
      `honest links refused as impossible: ${JSON.stringify(impossible.slice(0, 3))}`,
    );
    assert.ok(r.beaconShares.size >= HONEST * 0.8 && r.witnessShares.size >= HONEST * 0.8);
  });

  test('the spoofer, the witness farm and the second key are refused for physically impossible links', () => {
    const c = city(true);
    const r = scored(c);
    const against = (id: string) =>
      r.rejections.filter((x) => x.hotspot === id || x.digest.includes(`-${id}-`) || x.digest.endsWith(`-${id}`));
    // The spoofer asserts 150 km away: every link it has is beyond the 100 km limit.
    const spoofer = against('spoofer');
    assert.ok(
      spoofer.length > 0 && spoofer.every((x) => x.reason === 'too-far' || x.reason === 'no-valid-witnesses'),
      JSON.stringify(spoofer.slice(0, 3)),
    );
    assert.equal(r.beaconShares.get('spoofer') ?? 0, 0);
    assert.equal(r.witnessShares.get('spoofer') ?? 0, 0);
    // The farm's radios hear each other at a few dBm: far above free space over the kilometres they assert.
    for (let k = 0; k < 4; k++) {
      const mates = r.rejections.filter((x) => x.kind === 'witness' && x.hotspot === `farm${k}` && /-farm\d-/.test(x.digest));
      assert.equal(mates.length, 3, `farm${k} witnessed its three mates`);
      assert.ok(
        mates.every((x) => x.reason === 'rssi-above-free-space'),
        JSON.stringify(mates),
      );
      const selectedFrom = [...r.selected.entries()].filter(([b]) => /-farm\d$/.test(b)).flatMap(([, ws]) => ws.map((w) => w.hotspot));
      assert.ok(!selectedFrom.some((h) => h.startsWith('farm')), 'no farm radio is a rewarded witness of another');
    }
    // The second key hears h0 from the same roof while asserting 2 km away.
    const bis = r.rejections.find((x) => x.kind === 'witness' && x.hotspot === 'h0-bis' && x.digest === 'w-1-h0-h0-bis');
    assert.equal(bis?.reason, 'rssi-above-free-space');
    assert.ok(!r.selected.get('b-1-h0')!.some((w) => w.hotspot === 'h0-bis'));
  });

  test('forged and replayed witness reports are refused', () => {
    const c = city(true);
    const r = scored(c, (rd) => {
      const honest = rd.witnesses.find((w) => w.hotspot === 'h5')!;
      return [
        // A witness of a beacon farm1 never heard: it cannot know the payload.
        { ...honest, digest: 'forged', hotspot: 'farm1', payload: 'guessed', rssiDbm: -125 },
        // h5's own report sent again, and copied by farm2 once it was published (minutes later).
        { ...honest, digest: 'again', receivedAt: honest.receivedAt + 50 },
        { ...honest, digest: 'replayed', hotspot: 'farm2', receivedAt: honest.receivedAt + 190_000 },
      ];
    });
    const reason = (d: string) => r.rejections.find((x) => x.digest === d)?.reason;
    assert.equal(reason('forged'), 'invalid-payload');
    assert.equal(reason('again'), 'duplicate');
    assert.equal(reason('replayed'), 'entropy-expired');
  });
});
