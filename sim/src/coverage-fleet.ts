// A coverage fleet in the simulated city, and one beacon round of it played through the world with
// no oracle in between: every hotspot beacons once, every radio that hears it reports a witness,
// received when the world says it arrives. The reports are what the hotspots' workers would send;
// signed with the hotspots' keys when they have them (the witness benchmark checks signatures).
// Deterministic: the same world, fleet and seed give the same reports.
import { createHash, type KeyObject } from 'node:crypto';
import {
  BEACON_TYPE,
  beaconFrequency,
  beaconPayload,
  type CoverageInput,
  type EntropyRow,
  entropyId,
  type HotspotRow,
  KIND,
  type RoundReport,
  WITNESS_TYPE,
} from '@groundwork/network-coverage';
import { type Domain, reportDigest, signReport } from '@groundwork/protocol';
import type { Hex } from 'viem';
import type { CoverageWorld } from './coverage-world.ts';

export type FleetHotspot = {
  /** The device id; also its radio's id in the world. */
  device: Hex;
  /** What it asserted on chain (res 12): where it is, unless it lies. */
  cell: string | null;
  key?: KeyObject;
};

function hex(seed: string, bytes: number): Hex {
  return `0x${createHash('sha256')
    .update(seed)
    .digest('hex')
    .slice(0, bytes * 2)}`;
}

/** The oracle's rows for one round: an entropy and each hotspot's place and radio. */
export function fleetRows(
  world: CoverageWorld,
  fleet: readonly FleetHotspot[],
  startMs: number,
  seed: number,
): { rows: CoverageInput[]; entropy: EntropyRow } {
  const blockHash = hex(`block|${seed}|${startMs}`, 32);
  const random = hex(`random|${seed}|${startMs}`, 32);
  const entropy: EntropyRow = { kind: 'entropy', id: entropyId(blockHash, random), start: startMs, blockNumber: 1, blockHash, random };
  const hotspots: HotspotRow[] = fleet.map((h) => {
    const r = world.radios.get(h.device)!;
    return {
      kind: 'hotspot',
      device: h.device,
      cell: h.cell,
      gainDdbi: Math.round(r.gainDbi * 10),
      elevationM: r.elevationM,
      region: r.region,
    };
  });
  return { rows: [entropy, ...hotspots], entropy };
}

export type RoundOptions = {
  world: CoverageWorld;
  fleet: readonly FleetHotspot[];
  entropy: EntropyRow;
  seed: number;
  /** Signs each report (for the reports' digests and the signature benchmark). */
  domain?: Domain;
  epoch?: number;
  /** Which hotspots beacon (default all). */
  beacons?: (h: FleetHotspot) => boolean;
};

/** Every beacon and witness of one round, in receive order. */
export function playRound(o: RoundOptions): { reports: RoundReport[]; signed: ReturnType<typeof signReport>[] } {
  const out: { report: RoundReport; signed: ReturnType<typeof signReport> | null }[] = [];
  const inFleet = new Map(o.fleet.map((h) => [h.device as string, h]));
  const make = (h: FleetHotspot, type: string, body: Record<string, unknown>, receivedAt: number) => {
    const unsigned = {
      v: 1 as const,
      chainId: o.domain?.chainId ?? 31337,
      registry: o.domain?.registry ?? (`0x${'00'.repeat(20)}` as Hex),
      network: KIND,
      type,
      device: h.device,
      epoch: o.epoch ?? 0,
      body,
    };
    const signed = h.key ? signReport(unsigned, h.key) : null;
    const digest = signed ? reportDigest(signed) : hex(JSON.stringify(unsigned), 32);
    out.push({ report: { digest, device: h.device, type, body, receivedAt }, signed });
  };
  o.fleet.forEach((h, i) => {
    if (o.beacons && !o.beacons(h)) return;
    const radio = o.world.radios.get(h.device)!;
    const at = o.entropy.start + 1000 + i * 37;
    const localEntropy = hex(`local|${o.seed}|${h.device}|${o.entropy.id}`, 16);
    const payload = beaconPayload(o.entropy.id, h.device, localEntropy);
    const frequencyHz = beaconFrequency(radio.region, i % 8);
    make(h, BEACON_TYPE, { entropy: o.entropy.id, localEntropy, payload, frequencyHz, txPowerDdbm: Math.round(radio.txPowerDbm * 10) }, at);
    for (const heard of o.world.transmit(h.device, payload, frequencyHz)) {
      const w = inFleet.get(heard.receiver);
      if (!w) continue;
      make(
        w,
        WITNESS_TYPE,
        { payload, frequencyHz: heard.frequencyHz, signalDdbm: Math.round(heard.rssiDbm * 10), snrDdb: Math.round(heard.snrDb * 10) },
        at + heard.arrivalMs,
      );
    }
  });
  out.sort((a, b) => a.report.receivedAt - b.report.receivedAt || (a.report.digest < b.report.digest ? -1 : 1));
  return { reports: out.map((x) => x.report), signed: out.flatMap((x) => (x.signed ? [x.signed] : [])) };
}
