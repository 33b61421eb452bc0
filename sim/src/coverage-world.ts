// The physical world for the coverage network: radio cannot run here, so hotspots live in a
// simulated city, seeded, with a dense core and sparse suburbs. Each has a true position (where its
// radio is), antenna gain, elevation, transmit power and region; what it asserts on chain is its
// own business (a spoofer asserts somewhere else). A transmission is heard wherever the received
// power clears the receiver's sensitivity, with RSSI, SNR, frequency and arrival time.
//
// Propagation: free-space path loss, an urban excess loss growing with distance (log-distance,
// exponent `pathLossExponent` beyond 100 m) on top of a fixed clutter loss (`clutterDb`: walls,
// roofs, antennas a few metres up), and log-normal shadowing (σ `shadowingDb`). Real links lose
// more than free space, which is why Helium's RSSI check can refuse any signal above the
// free-space maximum: here an honest link beats it only when its fade exceeds the excess loss
// (with the defaults, 2.5σ on the shortest links: well under 1% of them).
//
// The agent's coverage worker sees only `RadioWorld` (transmit, and what its own radio heard):
// a LoRa concentrator's packet forwarder could stand in its place.
import { cellToLatLng, greatCircleDistance, latLngToCell } from 'h3-js';
import type { HeardPacket, HotspotRadio } from '@groundwork/network-coverage';
import { seededUnit } from '@groundwork/protocol';

export type RadioSpec = {
  /** Transmit power (dBm), antenna gain (dBi), antenna height (m), LoRa region. */
  txPowerDbm: number;
  gainDbi: number;
  elevationM: number;
  region: string;
  /** Weakest signal it decodes (dBm). */
  sensitivityDbm: number;
};

export type Radio = RadioSpec & { id: string; lat: number; lng: number };

export type Reception = {
  receiver: string;
  rssiDbm: number;
  snrDb: number;
  frequencyHz: number;
  /** Milliseconds after the transmission at which the receiver has the packet (airtime + forwarding). */
  arrivalMs: number;
};

/** The narrow interface between a hotspot's software and its radio. */
export interface RadioWorld {
  /** Sends `payload` from `from`'s radio; returns who heard it (the world's ground truth). */
  transmit(from: string, payload: string, frequencyHz: number): Reception[];
}

export type WorldOptions = {
  seed: number;
  /** The city's centre and radius (km); 60% of hotspots fall in the core (a fifth of the radius). */
  centre?: [number, number];
  radiusKm?: number;
  noiseFloorDbm?: number;
  shadowingDb?: number;
  pathLossExponent?: number;
  clutterDb?: number;
};

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class CoverageWorld implements RadioWorld {
  readonly radios = new Map<string, Radio>();
  readonly centre: [number, number];
  readonly radiusKm: number;
  private readonly random: () => number;
  private readonly seed: number;
  private readonly noiseFloor: number;
  private readonly sigma: number;
  private readonly exponent: number;
  private readonly clutter: number;
  private readonly listeners = new Map<string, Set<(p: HeardPacket) => void>>();
  private readonly inFlight = new Set<NodeJS.Timeout>();

  constructor(o: WorldOptions) {
    this.seed = o.seed;
    this.random = seededUnit(o.seed);
    this.centre = o.centre ?? [37.7749, -122.4194];
    this.radiusKm = o.radiusKm ?? 15;
    this.noiseFloor = o.noiseFloorDbm ?? -120;
    this.sigma = o.shadowingDb ?? 6;
    this.exponent = o.pathLossExponent ?? 3.2;
    this.clutter = o.clutterDb ?? 15;
  }

  /** A point in the city: the dense core or the sparse suburbs. */
  randomPlace(): [number, number] {
    const core = this.random() < 0.6;
    const r = (core ? 0.2 : 1) * this.radiusKm * Math.sqrt(this.random());
    const angle = 2 * Math.PI * this.random();
    return this.offset(this.centre, r * Math.cos(angle), r * Math.sin(angle));
  }

  /** The point `eastKm` east and `northKm` north of `from`. */
  offset(from: [number, number], eastKm: number, northKm: number): [number, number] {
    const lat = from[0] + northKm / 110.574;
    const lng = from[1] + eastKm / (111.32 * Math.cos((from[0] * Math.PI) / 180));
    return [lat, lng];
  }

  place(id: string, at: [number, number], spec: Partial<RadioSpec> = {}): Radio {
    const radio: Radio = {
      id,
      lat: at[0],
      lng: at[1],
      txPowerDbm: spec.txPowerDbm ?? 27,
      gainDbi: spec.gainDbi ?? 1.2 + Math.round(this.random() * 68) / 10,
      elevationM: spec.elevationM ?? Math.round(this.random() * 30),
      region: spec.region ?? 'US915',
      sensitivityDbm: spec.sensitivityDbm ?? -130,
    };
    this.radios.set(id, radio);
    return radio;
  }

  /** The res-12 cell of a radio's true position (what an honest hotspot asserts). */
  cellOf(id: string): string {
    const r = this.radios.get(id)!;
    return latLngToCell(r.lat, r.lng, 12);
  }

  distanceM(a: Radio, b: { lat: number; lng: number }): number {
    const flat = greatCircleDistance([a.lat, a.lng], [b.lat, b.lng], 'm');
    return Math.hypot(flat, a.elevationM - ((b as Radio).elevationM ?? 0));
  }

  /** Mean received power over `d` metres at `f` Hz, before shadowing. */
  meanRssi(from: Radio, to: Radio, d: number, f: number): number {
    const fspl = 20 * Math.log10((4 * Math.PI * Math.max(d, 1) * f) / 299_792_458);
    const excess = 10 * (this.exponent - 2) * Math.log10(Math.max(d, 100) / 100);
    return from.txPowerDbm + from.gainDbi + to.gainDbi - fspl - excess - this.clutter;
  }

  /** Transmits and hands each reception to the receiver's listeners when it arrives. */
  deliver(from: string, frame: string, frequencyHz: number): Reception[] {
    const heard = this.transmit(from, frame, frequencyHz);
    for (const h of heard) {
      const listeners = this.listeners.get(h.receiver);
      if (!listeners?.size) continue;
      const t = setTimeout(() => {
        this.inFlight.delete(t);
        for (const l of listeners) l({ frame, rssiDbm: h.rssiDbm, snrDb: h.snrDb, frequencyHz: h.frequencyHz });
      }, h.arrivalMs);
      this.inFlight.add(t);
    }
    return heard;
  }

  listen(id: string, listener: (p: HeardPacket) => void): () => void {
    const set = this.listeners.get(id) ?? new Set();
    this.listeners.set(id, set);
    set.add(listener);
    return () => set.delete(listener);
  }

  silence(id: string): void {
    this.listeners.delete(id);
  }

  /** Drops every reception still in the air (the world is being torn down). */
  stop(): void {
    for (const t of this.inFlight) clearTimeout(t);
    this.inFlight.clear();
    this.listeners.clear();
  }

  transmit(from: string, payload: string, frequencyHz: number): Reception[] {
    const tx = this.radios.get(from);
    if (!tx) throw new Error(`no radio ${from} in the world`);
    const heard: Reception[] = [];
    for (const rx of this.radios.values()) {
      if (rx.id === from || rx.region !== tx.region) continue;
      // Each link's fade comes from its own seeded stream (seed, sender, receiver, packet), so
      // adding radios to the world leaves every other link as it was.
      const link = seededUnit(fnv1a(`${this.seed}|${from}|${rx.id}|${payload}`));
      const u = Math.max(link(), 1e-12);
      const fade = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * link());
      const d = this.distanceM(tx, rx);
      const rssi = this.meanRssi(tx, rx, d, frequencyHz) + this.sigma * fade;
      if (rssi < rx.sensitivityDbm) continue;
      heard.push({
        receiver: rx.id,
        rssiDbm: Math.round(rssi * 10) / 10,
        // A LoRa receiver's SNR saturates near +15 dB however strong the signal (SX1301 reports).
        snrDb: Math.round(Math.min(rssi - this.noiseFloor, 15) * 10) / 10,
        frequencyHz: frequencyHz + Math.round((link() - 0.5) * 2000),
        // Light takes microseconds; the packet's airtime and the forwarder's backhaul take the rest.
        arrivalMs: 300 + Math.round(link() * 1200),
      });
    }
    return heard;
  }
}

/**
 * A radio of the world as its hotspot's software sees it (the coverage worker's HotspotRadio): what
 * it transmits is heard where the world says, each reception delivered after its arrival time.
 */
export function worldRadio(world: CoverageWorld, id: string): HotspotRadio & { close(): void } {
  const r = world.radios.get(id);
  if (!r) throw new Error(`no radio ${id} in the world`);
  return {
    spec: { txPowerDbm: r.txPowerDbm, gainDbi: r.gainDbi, elevationM: r.elevationM, region: r.region },
    transmit: (frame, frequencyHz) => world.deliver(id, frame, frequencyHz),
    listen: (listener) => world.listen(id, listener),
    close: () => world.silence(id),
  };
}

/** The centre of a cell, as [lat, lng]. */
export function cellCentre(cell: string): [number, number] {
  const [lat, lng] = cellToLatLng(cell);
  return [lat, lng];
}
