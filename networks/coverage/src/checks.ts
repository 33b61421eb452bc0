// Helium IoT's beacon and witness checks (iot_verifier/src/poc.rs), in its order, each failure a
// reason code that goes into the epoch artifact, and the witness selection (HIP-83: the 14
// earliest valid by receive time). Pure: the chain's snapshot, the entropy and the reports' history
// come in through the context.
import { cellToLatLng, cellToParent, getResolution, gridDistance, greatCircleDistance } from 'h3-js';
import { maxReceivedDbm } from './radio.ts';
import {
  CELL_DISTANCE_RESOLUTION,
  ENTROPY_LIFESPAN_MS,
  MAX_FREQUENCY_DELTA_HZ,
  MAX_LAG_AFTER_FIRST_WITNESS_MS,
  MAX_WITNESS_DISTANCE_M,
  MAX_WITNESS_LAG_MS,
  MAX_WITNESSES_PER_POC,
  MIN_CELL_DISTANCE,
  RECIPROCITY_WINDOW_MS,
  REGIONS,
} from './rules.ts';

export type Hotspot = { id: string; cell: string | null; gainDbi: number; region: string };
export type Entropy = { id: string; start: number; data: string };
export type Beacon = {
  digest: string;
  hotspot: string;
  entropy: string;
  receivedAt: number;
  payload: string;
  frequencyHz: number;
  txPowerDbm: number;
  /** The beaconer's own randomness mixed into the payload (gateway-rs: local entropy). */
  localEntropy?: string;
};
export type Witness = {
  digest: string;
  hotspot: string;
  beacon: string;
  receivedAt: number;
  payload: string;
  frequencyHz: number;
  rssiDbm: number;
  snrDb: number;
};

export type CheckContext = {
  hotspot(id: string): Hotspot | undefined;
  entropy(id: string): Entropy | undefined;
  /** The denylist (hotspots, and beaconer–witness edges). */
  denied(id: string): boolean;
  deniedEdge?(beaconer: string, witness: string): boolean;
  /** What the beacon's payload must be: derived from the entropy, the beaconer (and its local entropy). */
  expectedPayload(entropy: Entropy, hotspot: Hotspot, beacon: Beacon): string;
  beaconIntervalMs: number;
  /** Where the beacon intervals start counting (unix ms; default 0): an epoch's start, so its intervals divide it. */
  beaconIntervalOriginMs?: number;
  /** When the hotspot's last valid beacon before this one was received, or null. */
  lastBeaconAt(id: string): number | null;
  /**
   * HIP-106: when it last witnessed validly, and when its last valid beacon that had a valid
   * witness was. "Valid" here is every check but reciprocity itself (so a new network can start:
   * the first round passes everything else and counts for the next), as RECIPROCITY_REASONS say.
   */
  lastValidWitnessAt(id: string): number | null;
  lastWitnessedBeaconAt(id: string): number | null;
};

/** Reasons from reciprocity alone: the report earns nothing, but counts in the reciprocity history. */
export const RECIPROCITY_REASONS: ReadonlySet<string> = new Set(['no-valid-witnesses', 'no-valid-beacons']);

export type Verdict = { ok: true } | { ok: false; reason: string; detail: string };
const ok: Verdict = { ok: true };
const no = (reason: string, detail: string): Verdict => ({ ok: false, reason, detail });

export function verifyBeacon(b: Beacon, ctx: CheckContext): Verdict {
  const h = ctx.hotspot(b.hotspot);
  if (!h) return no('unknown-gateway', `${b.hotspot} is not a registered hotspot`);
  if (!h.cell) return no('no-location', `${b.hotspot} has no asserted location`);
  if (ctx.denied(b.hotspot)) return no('denied', `${b.hotspot} is on the denylist`);
  const e = ctx.entropy(b.entropy);
  if (!e) return no('unknown-entropy', `no entropy ${b.entropy}`);
  if (b.receivedAt < e.start || b.receivedAt > e.start + ENTROPY_LIFESPAN_MS)
    return no('entropy-expired', `received ${b.receivedAt - e.start} ms after its entropy (valid for ${ENTROPY_LIFESPAN_MS} ms)`);
  const last = ctx.lastBeaconAt(b.hotspot);
  const interval = (t: number) => Math.floor((t - (ctx.beaconIntervalOriginMs ?? 0)) / ctx.beaconIntervalMs);
  if (last !== null && interval(last) === interval(b.receivedAt))
    return no('irregular-interval', `a beacon already came in this ${ctx.beaconIntervalMs / 1000} s interval`);
  const region = REGIONS[h.region];
  if (!region || b.frequencyHz < region.minHz || b.frequencyHz > region.maxHz)
    return no('invalid-frequency', `${b.frequencyHz} Hz is outside ${h.region}'s band`);
  if (b.txPowerDbm + h.gainDbi > region.maxEirpDbm)
    return no('invalid-tx-power', `${b.txPowerDbm} dBm through ${h.gainDbi} dBi is above ${h.region}'s ${region.maxEirpDbm} dBm EIRP`);
  if (b.payload !== ctx.expectedPayload(e, h, b)) return no('invalid-payload', 'the payload is not the one the entropy gives this hotspot');
  const witnessed = ctx.lastValidWitnessAt(b.hotspot);
  if (witnessed === null || b.receivedAt - witnessed > RECIPROCITY_WINDOW_MS)
    return no('no-valid-witnesses', 'HIP-106: the beaconer has not witnessed validly in the last 48 h');
  return ok;
}

/** Metres between two cells' centres. */
export function cellDistanceM(a: string, b: string): number {
  const [la, lo] = cellToLatLng(a);
  const [lb, lob] = cellToLatLng(b);
  return greatCircleDistance([la, lo], [lb, lob], 'm');
}

function cellsApart(a: string, b: string): number {
  const at = (c: string) => (getResolution(c) > CELL_DISTANCE_RESOLUTION ? cellToParent(c, CELL_DISTANCE_RESOLUTION) : c);
  try {
    return gridDistance(at(a), at(b));
  } catch {
    return Number.POSITIVE_INFINITY; // too far apart (or across a pentagon) for H3 to count
  }
}

/**
 * Each witness's verdict, in input order, and the rewarded ones: the 14 earliest valid. `beacon`
 * must itself have passed verifyBeacon.
 */
export function verifyWitnesses(
  beacon: Beacon,
  witnesses: readonly Witness[],
  ctx: CheckContext,
): { verdicts: Verdict[]; selected: Witness[] } {
  const beaconer = ctx.hotspot(beacon.hotspot)!;
  const entropy = ctx.entropy(beacon.entropy)!;
  const first = Math.min(...witnesses.map((w) => w.receivedAt));
  const seen = new Set<string>();
  const verdicts = witnesses.map((w): Verdict => {
    const h = ctx.hotspot(w.hotspot);
    if (!h) return no('unknown-gateway', `${w.hotspot} is not a registered hotspot`);
    if (!h.cell) return no('no-location', `${w.hotspot} has no asserted location`);
    if (ctx.denied(w.hotspot) || ctx.deniedEdge?.(beacon.hotspot, w.hotspot)) return no('denied', `${w.hotspot} is on the denylist`);
    if (w.hotspot === beacon.hotspot) return no('self-witness', 'a hotspot cannot witness its own beacon');
    if (w.receivedAt < entropy.start || w.receivedAt > entropy.start + ENTROPY_LIFESPAN_MS)
      return no('entropy-expired', `received ${w.receivedAt - entropy.start} ms after the beacon's entropy`);
    const lag = w.receivedAt - beacon.receivedAt;
    if (first < beacon.receivedAt ? w.receivedAt - first > MAX_LAG_AFTER_FIRST_WITNESS_MS : lag > MAX_WITNESS_LAG_MS)
      return no('too-late', `${lag} ms after the beacon`);
    if (w.payload !== beacon.payload) return no('invalid-payload', 'not the beacon’s payload');
    if (Math.abs(w.frequencyHz - beacon.frequencyHz) > MAX_FREQUENCY_DELTA_HZ)
      return no('invalid-frequency', `${w.frequencyHz} Hz, the beacon was at ${beacon.frequencyHz} Hz`);
    if (h.region !== beaconer.region) return no('invalid-region', `${h.region}, the beaconer is in ${beaconer.region}`);
    const cells = cellsApart(beaconer.cell!, h.cell);
    if (cells < MIN_CELL_DISTANCE)
      return no('too-close', `${cells} cells apart at resolution ${CELL_DISTANCE_RESOLUTION}, fewer than ${MIN_CELL_DISTANCE}`);
    const distance = cellDistanceM(beaconer.cell!, h.cell);
    if (distance > MAX_WITNESS_DISTANCE_M) return no('too-far', `${Math.round(distance)} m apart, more than ${MAX_WITNESS_DISTANCE_M}`);
    const max = maxReceivedDbm(beacon.txPowerDbm, beaconer.gainDbi, h.gainDbi, distance, beacon.frequencyHz);
    if (w.rssiDbm > max)
      return no(
        'rssi-above-free-space',
        `${w.rssiDbm.toFixed(1)} dBm heard over ${Math.round(distance)} m; free space allows at most ${max.toFixed(1)}`,
      );
    if (seen.has(w.hotspot)) return no('duplicate', `${w.hotspot} witnessed this beacon already`);
    const reciprocal = ctx.lastWitnessedBeaconAt(w.hotspot);
    if (reciprocal === null || w.receivedAt - reciprocal > RECIPROCITY_WINDOW_MS)
      return no('no-valid-beacons', 'HIP-106: the witness has no valid, witnessed beacon in the last 48 h');
    seen.add(w.hotspot);
    return ok;
  });
  const selected = witnesses
    .filter((_, i) => verdicts[i]!.ok)
    .sort((a, b) => a.receivedAt - b.receivedAt || (a.digest < b.digest ? -1 : 1))
    .slice(0, MAX_WITNESSES_PER_POC);
  return { verdicts, selected };
}
