// One epoch of proof of coverage judged from its inputs alone: the oracle's rows (entropy, the
// hotspots' asserted places and radios, the reciprocity history) and the hotspots' signed reports
// in receive order. The verifier scores an epoch with it, and the service carries its reciprocity
// history into the next epoch with it, so both reach the same answer from the same inputs.
import type { Hex } from 'viem';
import { RECIPROCITY_WINDOW_MS } from '../rules.ts';
import type { Beacon, CheckContext, Entropy, Hotspot, Witness } from '../checks.ts';
import { type RoundResult, scoreRound } from '../poc.ts';
import type { CoverageParameters } from './parameters.ts';
import {
  BEACON_TYPE,
  beaconBodySchema,
  beaconPayload,
  type CoverageInput,
  entropyId,
  type HistoryRow,
  WITNESS_TYPE,
  witnessBodySchema,
} from './wire.ts';

export type RoundReport = { digest: string; device: string; type: string; body: unknown; receivedAt: number };
export type RoundInputs = {
  startMs: number;
  endMs: number;
  parameters: CoverageParameters;
  rows: readonly CoverageInput[];
  /** In receive order (time, then digest). */
  reports: readonly RoundReport[];
};
export type RoundRefusal = { device: string; digest: string | null; reason: string; detail: string };
export type JudgedRound = {
  round: RoundResult;
  /** Reports that are not beacons or witnesses at all, and oracle rows that do not hold. */
  refused: RoundRefusal[];
  /** The reciprocity history the next epoch starts from. */
  history: HistoryRow[];
  beacons: Beacon[];
  witnesses: Witness[];
};

/** Witness reasons that say the link the witness claims could not physically exist. */
export const IMPOSSIBLE_REASONS: ReadonlySet<string> = new Set(['rssi-above-free-space', 'too-far']);

export function judgeRound(input: RoundInputs): JudgedRound {
  const refused: RoundRefusal[] = [];
  const hotspots = new Map<string, Hotspot>();
  const entropy = new Map<string, Entropy>();
  const history = new Map<string, HistoryRow>();
  for (const row of input.rows) {
    if (row.kind === 'hotspot')
      hotspots.set(row.device, { id: row.device, cell: row.cell, gainDbi: row.gainDdbi / 10, region: row.region });
    else if (row.kind === 'history') history.set(row.device, row);
    else if (row.kind === 'credit-price') continue;
    else if (entropyId(row.blockHash as `0x${string}`, row.random as `0x${string}`) !== row.id)
      // The oracle's own row does not hold: no beacon can use it (the beacons say unknown-entropy).
      refused.push({ device: '', digest: null, reason: 'bad-entropy', detail: `entropy ${row.id} is not keccak256(block hash ‖ random)` });
    else entropy.set(row.id, { id: row.id, start: row.start, data: row.id });
  }
  const beacons: Beacon[] = [];
  const heard: Omit<Witness, 'beacon'>[] = [];
  for (const r of input.reports) {
    if (r.type === BEACON_TYPE) {
      const b = beaconBodySchema.safeParse(r.body);
      if (!b.success) refused.push({ device: r.device, digest: r.digest, reason: 'malformed-body', detail: b.error.issues[0]!.message });
      else {
        const { txPowerDdbm, ...rest } = b.data;
        beacons.push({ digest: r.digest, hotspot: r.device, receivedAt: r.receivedAt, ...rest, txPowerDbm: txPowerDdbm / 10 });
      }
    } else if (r.type === WITNESS_TYPE) {
      const w = witnessBodySchema.safeParse(r.body);
      if (!w.success) refused.push({ device: r.device, digest: r.digest, reason: 'malformed-body', detail: w.error.issues[0]!.message });
      else {
        const { payload, frequencyHz, signalDdbm, snrDdb } = w.data;
        heard.push({
          digest: r.digest,
          hotspot: r.device,
          receivedAt: r.receivedAt,
          payload,
          frequencyHz,
          rssiDbm: signalDdbm / 10,
          snrDb: snrDdb / 10,
        });
      }
    } else
      refused.push({
        device: r.device,
        digest: r.digest,
        reason: 'unknown-type',
        detail: `coverage takes beacons and witnesses, not ${r.type}`,
      });
  }
  // A radio hears a payload, not a report: each witness belongs to the first beacon that carried it.
  const byPayload = new Map<string, string>();
  for (const b of beacons) if (!byPayload.has(b.payload)) byPayload.set(b.payload, b.digest);
  const witnesses: Witness[] = heard.map((w) => ({ ...w, beacon: byPayload.get(w.payload) ?? '' }));

  const denied = new Set<string>(input.parameters.denylist);
  const ctx: CheckContext = {
    hotspot: (id) => hotspots.get(id),
    entropy: (id) => entropy.get(id),
    denied: (id) => denied.has(id),
    expectedPayload: (e, h, b) => beaconPayload(e.id, h.id, b.localEntropy ?? '0x'),
    beaconIntervalMs: Math.floor((input.endMs - input.startMs) / input.parameters.beaconsPerEpoch),
    beaconIntervalOriginMs: input.startMs,
    lastBeaconAt: () => null,
    lastValidWitnessAt: (id) => history.get(id)?.witnessedAt ?? null,
    lastWitnessedBeaconAt: (id) => history.get(id)?.beaconWitnessedAt ?? null,
  };
  const round = scoreRound(beacons, witnesses, ctx);
  return { round, refused, history: nextHistory(history, round, input.endMs), beacons, witnesses };
}

/** HIP-106's memory after the round: the latest of before and now, forgetting what is older than 48 h. */
function nextHistory(before: Map<string, HistoryRow>, round: RoundResult, endMs: number): HistoryRow[] {
  const horizon = endMs - RECIPROCITY_WINDOW_MS;
  const keep = (t: number | null | undefined) => (t === undefined || t === null || t < horizon ? null : t);
  const latest = (a: number | null | undefined, b: number | undefined) => keep(Math.max(a ?? -1, b ?? -1));
  const devices = new Set([...before.keys(), ...round.witnessedAt.keys(), ...round.beaconWitnessedAt.keys()]);
  const out: HistoryRow[] = [];
  for (const device of [...devices].sort()) {
    const h = before.get(device);
    const row: HistoryRow = {
      kind: 'history',
      device: device as Hex,
      witnessedAt: latest(h?.witnessedAt, round.witnessedAt.get(device)),
      beaconWitnessedAt: latest(h?.beaconWitnessedAt, round.beaconWitnessedAt.get(device)),
    };
    if (row.witnessedAt !== null || row.beaconWitnessedAt !== null) out.push(row);
  }
  return out;
}
