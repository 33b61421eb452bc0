// The coverage network's worker: what runs on the hotspot. It sees its radio through one narrow
// interface (HotspotRadio), which the simulated city implements here and a LoRa concentrator's
// packet forwarder could implement in the field. When the oracle hands out entropy it beacons
// once, at a random moment of the window, and reports the beacon signed; every beacon its radio
// hears it reports as a signed witness, with the RSSI, SNR and frequency the radio measured; every
// sensor uplink it hears it forwards to the oracle's packet router, which pays for it.
import { randomBytes, randomInt } from 'node:crypto';
import { type Report, signWorkerReport, type Worker, type WorkerContext } from '@groundwork/protocol';
import { REGIONS } from '../rules.ts';
import { BEACON_TYPE, beaconPayload, KIND, servicePayloadSchema, uplinkSchema, WITNESS_TYPE } from './wire.ts';

export type HeardPacket = { frame: string; rssiDbm: number; snrDb: number; frequencyHz: number };

/** A hotspot's radio, as its software sees it. */
export interface HotspotRadio {
  readonly spec: { txPowerDbm: number; gainDbi: number; elevationM: number; region: string };
  /** Sends a frame on `frequencyHz`. */
  transmit(frame: string, frequencyHz: number): void;
  /** Calls `listener` with every frame the radio hears; returns how to stop. */
  listen(listener: (packet: HeardPacket) => void): () => void;
}

const BEACON_FRAME = /^0x[0-9a-f]{64}$/;

/** A channel of the region's uplink plan: 200 kHz apart from the bottom of its band. */
export function beaconFrequency(region: string, channel = randomInt(0, 8)): number {
  const r = REGIONS[region];
  if (!r) throw new RangeError(`unknown region ${region}`);
  return r.minHz + 300_000 + 200_000 * channel;
}

export type CoverageWorker = Worker & { stats: { beacons: number; witnesses: number; uplinks: number }; close(): void };

export function coverageWorker(radio: HotspotRadio): CoverageWorker {
  let ctx: WorkerContext | null = null;
  const stats = { beacons: 0, witnesses: 0, uplinks: 0 };
  const timers = new Set<NodeJS.Timeout>();

  const sign = (c: WorkerContext, type: string, body: Record<string, unknown>): Report => signWorkerReport(c, KIND, type, body);

  function submit(c: WorkerContext, report: Report, what: string): void {
    void c
      .submit(report)
      .then((r) => {
        if (!r.ok) c.log(`${what} refused: ${r.reason}: ${r.detail}`);
      })
      .catch((err) => c.log(`${what} not sent: ${(err as Error).message}`));
  }

  const stop = radio.listen((p) => {
    const c = ctx;
    if (!c) return;
    if (BEACON_FRAME.test(p.frame)) {
      stats.witnesses++;
      submit(
        c,
        sign(c, WITNESS_TYPE, {
          payload: p.frame,
          frequencyHz: Math.round(p.frequencyHz),
          signalDdbm: Math.round(p.rssiDbm * 10),
          snrDdb: Math.round(p.snrDb * 10),
        }),
        'witness',
      );
      return;
    }
    let uplink: unknown;
    try {
      uplink = JSON.parse(p.frame);
    } catch {
      return; // noise, or another network's frame
    }
    const u = uplinkSchema.safeParse(uplink);
    if (!u.success) return;
    stats.uplinks++;
    c.send({
      kind: 'uplink',
      uplink: u.data,
      signalDdbm: Math.round(p.rssiDbm * 10),
      snrDdb: Math.round(p.snrDb * 10),
      frequencyHz: Math.round(p.frequencyHz),
    });
  });

  function beacon(c: WorkerContext, entropy: string): void {
    const localEntropy = `0x${randomBytes(16).toString('hex')}`;
    const payload = beaconPayload(entropy, c.device, localEntropy);
    const frequencyHz = beaconFrequency(radio.spec.region);
    // Reported first, then sent: the witnesses' reports then reach the oracle after the beacon's.
    submit(
      c,
      sign(c, BEACON_TYPE, { entropy, localEntropy, payload, frequencyHz, txPowerDdbm: Math.round(radio.spec.txPowerDbm * 10) }),
      'beacon',
    );
    radio.transmit(payload, frequencyHz);
    stats.beacons++;
  }

  return {
    stats,
    hello(c) {
      ctx = c;
      const { gainDbi, elevationM, region } = radio.spec;
      return { gainDdbi: Math.round(gainDbi * 10), elevationM: Math.round(elevationM), region };
    },
    onService(payload, c) {
      ctx = c;
      const p = servicePayloadSchema.safeParse(payload);
      if (!p.success || p.data.kind !== 'entropy') return;
      // At a random moment of the first half of the window: hotspots do not all key up at once.
      const id = p.data.id;
      const t = setTimeout(
        () => {
          timers.delete(t);
          beacon(c, id);
        },
        randomInt(0, Math.max(1, Math.floor(p.data.windowMs / 2))),
      );
      timers.add(t);
    },
    close() {
      stop();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      ctx = null;
    },
  };
}
