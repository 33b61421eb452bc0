// One round of proof of coverage, scored: every beacon and witness checked (checks.ts), the 14
// earliest valid witnesses selected, and each hotspot's shares: its hex's transmit scale (HIP-17,
// over the hotspots active in the round) × its reward units. Every refused report keeps its
// reason. The round also says what reciprocity learns from it (reports valid but for reciprocity).
import { type Beacon, type CheckContext, RECIPROCITY_REASONS, verifyBeacon, verifyWitnesses, type Witness } from './checks.ts';
import { type DensityMap, hexDensity } from './hex-density.ts';
import { beaconerUnits, witnessUnits } from './reward-units.ts';

export type Rejection = { digest: string; hotspot: string; kind: 'beacon' | 'witness'; reason: string; detail: string };

export type RoundResult = {
  /** Shares by hotspot (beacon and witness pools are split by these). */
  beaconShares: Map<string, number>;
  witnessShares: Map<string, number>;
  rejections: Rejection[];
  /** Rewarded witnesses per beacon digest. */
  selected: Map<string, Witness[]>;
  density: DensityMap;
  /** For reciprocity: hotspots that witnessed validly, and those whose beacon had a valid witness (every check but reciprocity). */
  witnessedAt: Map<string, number>;
  beaconWitnessedAt: Map<string, number>;
};

export function scoreRound(beacons: readonly Beacon[], witnesses: readonly Witness[], ctx: CheckContext): RoundResult {
  const rejections: Rejection[] = [];
  const byBeacon = new Map<string, Witness[]>();
  for (const w of witnesses) {
    const list = byBeacon.get(w.beacon);
    if (list) list.push(w);
    else byBeacon.set(w.beacon, [w]);
  }
  const witnessedAt = new Map<string, number>();
  const beaconWitnessedAt = new Map<string, number>();
  const valid: { beacon: Beacon; rewarded: boolean; selected: Witness[] }[] = [];
  const known = new Set(beacons.map((b) => b.digest));
  for (const w of witnesses)
    if (!known.has(w.beacon))
      rejections.push({ digest: w.digest, hotspot: w.hotspot, kind: 'witness', reason: 'unknown-beacon', detail: `no beacon ${w.beacon}` });
  // Beacons earlier in this round count for the interval check (the context knows earlier rounds).
  const beaconedAt = new Map<string, number>();
  const roundCtx: CheckContext = { ...ctx, lastBeaconAt: (id) => beaconedAt.get(id) ?? ctx.lastBeaconAt(id) };
  for (const b of beacons) {
    const v = verifyBeacon(b, roundCtx);
    if (v.ok || RECIPROCITY_REASONS.has(v.reason)) beaconedAt.set(b.hotspot, b.receivedAt);
    const reciprocityOnly = !v.ok && RECIPROCITY_REASONS.has(v.reason);
    const list = byBeacon.get(b.digest) ?? [];
    if (!v.ok && !reciprocityOnly) {
      rejections.push({ digest: b.digest, hotspot: b.hotspot, kind: 'beacon', reason: v.reason, detail: v.detail });
      for (const w of list)
        rejections.push({
          digest: w.digest,
          hotspot: w.hotspot,
          kind: 'witness',
          reason: 'invalid-beacon',
          detail: `its beacon was refused: ${v.reason}`,
        });
      continue;
    }
    const { verdicts, selected } = verifyWitnesses(b, list, ctx);
    let validWitnesses = 0;
    verdicts.forEach((wv, i) => {
      const w = list[i]!;
      if (wv.ok || RECIPROCITY_REASONS.has(wv.reason)) {
        witnessedAt.set(w.hotspot, Math.max(witnessedAt.get(w.hotspot) ?? 0, w.receivedAt));
        validWitnesses++;
      }
      if (!wv.ok) rejections.push({ digest: w.digest, hotspot: w.hotspot, kind: 'witness', reason: wv.reason, detail: wv.detail });
    });
    if (validWitnesses > 0) beaconWitnessedAt.set(b.hotspot, Math.max(beaconWitnessedAt.get(b.hotspot) ?? 0, b.receivedAt));
    if (reciprocityOnly)
      rejections.push({
        digest: b.digest,
        hotspot: b.hotspot,
        kind: 'beacon',
        reason: (v as { reason: string }).reason,
        detail: (v as { detail: string }).detail,
      });
    valid.push({ beacon: b, rewarded: v.ok, selected });
  }
  // HIP-17 over the hotspots active in this round: a rewarded beacon.
  const density = hexDensity(valid.filter((x) => x.rewarded).map((x) => ctx.hotspot(x.beacon.hotspot)!.cell!));
  const beaconShares = new Map<string, number>();
  const witnessShares = new Map<string, number>();
  const selectedBy = new Map<string, Witness[]>();
  for (const { beacon, rewarded, selected } of valid) {
    if (!rewarded) continue;
    selectedBy.set(beacon.digest, selected);
    const n = selected.length;
    const bh = ctx.hotspot(beacon.hotspot)!;
    add(beaconShares, beacon.hotspot, density.scaleOf(bh.cell!) * beaconerUnits(n));
    for (const w of selected) add(witnessShares, w.hotspot, density.scaleOf(ctx.hotspot(w.hotspot)!.cell!) * witnessUnits(n));
  }
  return { beaconShares, witnessShares, rejections, selected: selectedBy, density, witnessedAt, beaconWitnessedAt };
}

function add(m: Map<string, number>, k: string, v: number): void {
  if (v > 0) m.set(k, (m.get(k) ?? 0) + v);
}
