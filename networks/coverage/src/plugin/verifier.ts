// The coverage network's verifier: pure, so `epoch verify` reaches the same scores from the
// artifact alone. Every beacon and witness is judged (round.ts: Helium's checks in order), each
// refused report keeps its reason, and each hotspot's proof score is its share of the beacon and
// witness pools (6% and 24% of the emission, so 1:4), relative to the epoch's best. A hotspot
// whose witnesses were mostly physically impossible, from several beaconers, is a repeat offender:
// a finding, with the reports that prove it.
import { type Finding, RejectionTable, SCORE_SCALE, type VerifierInput, type VerifierOutput } from '@groundwork/protocol';
import type { Hex } from 'viem';
import { cellDistanceM } from '../checks.ts';
import { maxReceivedDbm } from '../radio.ts';
import { BEACON_POOL_BPS, WITNESS_POOL_BPS } from '../rules.ts';
import type { CoverageParameters } from './parameters.ts';
import { IMPOSSIBLE_REASONS, type JudgedRound, judgeRound, type RoundReport } from './round.ts';
import { type CoverageInput, coverageInputSchema } from './wire.ts';

export function verifyCoverage(input: VerifierInput<CoverageParameters, { rows: unknown[] }>): VerifierOutput {
  const { devices, reports, parameters } = input;
  const rows: CoverageInput[] = input.oracleInputs.rows.map((r) => coverageInputSchema.parse(r));
  const judged: RoundReport[] = Array.from(input.order, (r) => ({
    digest: reports.digest.get(r)!,
    device: reports.device.get(r)!,
    type: reports.type.get(r)!,
    body: JSON.parse(reports.body.get(r)),
    receivedAt: reports.receivedAt.get(r),
  }));
  const { round, refused, beacons, witnesses } = judgeRound({
    startMs: input.start * 1000,
    endMs: input.end * 1000,
    parameters,
    rows,
    reports: judged,
  });
  const rejections = new RejectionTable();
  for (const r of refused)
    rejections.push({ device: (r.device || null) as Hex | null, digest: r.digest as Hex | null, reason: r.reason, detail: r.detail });
  for (const r of round.rejections)
    rejections.push({ device: r.hotspot as Hex, digest: r.digest as Hex, reason: r.reason, detail: r.detail });

  const n = devices.length;
  const totalBeacon = sum(round.beaconShares);
  const totalWitness = sum(round.witnessShares);
  // Each pool split pro rata by shares (reward_share.rs), as one score: the pools' 1:4 ratio.
  const weight = new Float64Array(n);
  const beaconPpm = new Array<number>(n).fill(0);
  const witnessPpm = new Array<number>(n).fill(0);
  const scalePpm = new Array<number>(n).fill(0);
  const beaconsSent = new Array<number>(n).fill(0);
  const witnessed = new Array<number>(n).fill(0);
  for (let d = 0; d < n; d++) {
    const id = devices.device.get(d)!;
    const b = round.beaconShares.get(id) ?? 0;
    const w = round.witnessShares.get(id) ?? 0;
    weight[d] =
      (totalBeacon > 0 ? (BEACON_POOL_BPS * b) / totalBeacon : 0) + (totalWitness > 0 ? (WITNESS_POOL_BPS * w) / totalWitness : 0);
    beaconPpm[d] = Math.round(b * 1e6);
    witnessPpm[d] = Math.round(w * 1e6);
  }
  for (const [, selected] of round.selected) for (const w of selected) bump(witnessed, devices.rowOfId(w.hotspot as Hex));
  const rewardedBeacons = new Set(round.selected.keys());
  for (const b of beacons) if (rewardedBeacons.has(b.digest)) bump(beaconsSent, devices.rowOfId(b.hotspot as Hex));
  const rowsById = new Map(rows.filter((r) => r.kind === 'hotspot').map((r) => [r.device, r]));
  const price = rows.find((r) => r.kind === 'credit-price');
  for (let d = 0; d < n; d++) {
    const cell = rowsById.get(devices.device.get(d)!)?.cell;
    scalePpm[d] = cell ? Math.round(round.density.scaleOf(cell) * 1e6) : 0;
  }
  const top = Math.max(0, ...weight);
  const scores = new Uint32Array(n);
  if (top > 0) for (let d = 0; d < n; d++) scores[d] = Math.floor((weight[d]! / top) * Number(SCORE_SCALE));
  return {
    scores,
    detail: {
      beaconsRewarded: beaconsSent,
      witnessesRewarded: witnessed,
      beaconSharePpm: beaconPpm,
      witnessSharePpm: witnessPpm,
      txScalePpm: scalePpm,
    },
    rejections,
    findings: repeatOffenders(parameters, { round, beacons, witnesses }, rowsById),
    // The data-transfer pool is worth at most the credits burned; with no price recorded it pays
    // nothing and the whole budget goes to proof of coverage (the unused data share flows back).
    usageValue: price ? { credits: price.credits, tokens: price.tokens } : { credits: '1', tokens: '0' },
  };
}

/**
 * Hotspots whose witnesses were physically impossible at least `impossibleWitnessesToSlash` times,
 * from as many beaconers, and more often than possible. An honest neighbour of a spoofer hears the
 * spoofer's impossible beacons too, but from one beaconer, among many possible links.
 */
export function repeatOffenders(
  p: CoverageParameters,
  judged: Pick<JudgedRound, 'round' | 'beacons' | 'witnesses'>,
  hotspots: ReadonlyMap<string, { cell: string | null; gainDdbi: number }>,
): Finding[] {
  if (p.impossibleWitnessesToSlash === 0) return [];
  const { beacons, witnesses } = judged;
  const reasonOf = new Map(judged.round.rejections.filter((r) => r.kind === 'witness').map((r) => [r.digest, r.reason]));
  const beaconOf = new Map(beacons.map((b) => [b.digest, b]));
  const tally = new Map<string, { impossible: typeof witnesses; beaconers: Set<string>; possible: number }>();
  for (const w of witnesses) {
    const reason = reasonOf.get(w.digest);
    // Only witnesses of a beacon that passed judged the link at all.
    if (reason === 'unknown-beacon' || reason === 'invalid-beacon' || reason === 'unknown-gateway' || reason === 'no-location') continue;
    const t = tally.get(w.hotspot) ?? { impossible: [], beaconers: new Set<string>(), possible: 0 };
    tally.set(w.hotspot, t);
    if (reason && IMPOSSIBLE_REASONS.has(reason)) {
      (t.impossible as (typeof w)[]).push(w);
      t.beaconers.add(beaconOf.get(w.beacon)?.hotspot ?? '');
    } else t.possible++;
  }
  const findings: Finding[] = [];
  for (const [device, t] of [...tally].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (t.impossible.length < p.impossibleWitnessesToSlash || t.beaconers.size < p.impossibleWitnessesToSlash) continue;
    if (t.impossible.length <= t.possible) continue;
    const at = hotspots.get(device);
    findings.push({
      device: device as Hex,
      kind: 'impossible-witnesses',
      amount: p.slashAmount,
      evidence: {
        witness: device,
        witnessCell: at?.cell ?? null,
        possible: t.possible,
        impossible: t.impossible.map((w) => {
          const b = beaconOf.get(w.beacon)!;
          const bh = hotspots.get(b.hotspot);
          const distanceM = bh?.cell && at?.cell ? Math.round(cellDistanceM(bh.cell, at.cell)) : null;
          return {
            witnessReport: w.digest,
            beaconReport: b.digest,
            beaconer: b.hotspot,
            beaconerCell: bh?.cell ?? null,
            distanceM,
            signalDdbm: Math.round(w.rssiDbm * 10),
            freeSpaceMaxDdbm:
              distanceM === null || !bh
                ? null
                : Math.floor(maxReceivedDbm(b.txPowerDbm, bh.gainDdbi / 10, at!.gainDdbi / 10, distanceM, b.frequencyHz) * 10),
            reason: reasonOf.get(w.digest)!,
          };
        }),
      },
    });
  }
  return findings;
}

function sum(m: ReadonlyMap<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}

function bump(a: number[], row: number): void {
  if (row >= 0) a[row]!++;
}
