// Issues each network's challenges: at the start of every epoch it plans random times for every
// registered device, and when one comes due it writes the challenge to the database (so the epoch
// artifact has it even if the oracle then dies) and pushes it down the device's socket.
import { randomBytes, randomInt } from 'node:crypto';
import type { Hex } from 'viem';
import type { Challenge, EpochClock, NetworkPlugins } from '@groundwork/protocol';
import type { Database } from './db/database.ts';
import type { DeviceCache, KnownDevice } from './devices.ts';
import type { OracleMetrics } from './metrics.ts';
import type { SocketHub } from './sockets.ts';

type Due = { at: number; device: Hex; network: string; epoch: number };

export class Challenger {
  private queue: Due[] = [];
  private plannedEpoch = -1;
  private readonly planned = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly o: {
      db: Database;
      devices: DeviceCache;
      hub: SocketHub;
      clock: EpochClock;
      plugins: NetworkPlugins;
      parameters: Readonly<Record<string, unknown>>;
      metrics: OracleMetrics;
      now?: () => number;
      tickMs?: number;
      log?: (line: string) => void;
    },
  ) {}

  start(): void {
    const tick = () => {
      void this.tick()
        // A challenge the database would not take was neither recorded nor sent, so it counts
        // for no device; it is logged and the rest of the plan goes on (a throw here would end
        // the process: nothing awaits the tick).
        .catch((err) => this.o.log?.(`challenger: ${(err as Error).message.split('\n')[0]}`))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.o.tickMs ?? 50);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Plans the rest of the current epoch for devices that just registered. */
  addDevices(devices: readonly KnownDevice[]): void {
    const now = this.now();
    const epoch = this.o.clock.epochAtMs(now);
    if (epoch === this.plannedEpoch) for (const d of devices) this.planDevice(d, epoch, now);
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = this.now();
      const epoch = this.o.clock.epochAtMs(now);
      if (epoch !== this.plannedEpoch) this.planEpoch(epoch, now);
      while (this.queue.length && this.queue[0]!.at <= now) await this.issue(this.queue.shift()!, now);
    } finally {
      this.busy = false;
    }
  }

  private planEpoch(epoch: number, now: number): void {
    this.plannedEpoch = epoch;
    this.planned.clear();
    this.queue = [];
    for (const d of this.o.devices.all()) this.planDevice(d, epoch, now);
  }

  private planDevice(d: KnownDevice, epoch: number, now: number): void {
    const plugin = this.o.plugins[d.network];
    if (!plugin?.challenger || this.planned.has(d.device)) return;
    this.planned.add(d.device);
    const startMs = this.o.clock.start(epoch) * 1000;
    const endMs = this.o.clock.end(epoch) * 1000;
    const times = plugin.challenger.plan({
      epoch,
      startMs,
      endMs,
      parameters: this.o.parameters[d.network],
      random: () => randomInt(0, 2 ** 32) / 2 ** 32,
    });
    // Times already past when a device is added mid-epoch (or the oracle restarts) are skipped.
    for (const at of times) if (at >= now) this.queue.push({ at, device: d.device, network: d.network, epoch });
    this.queue.sort((a, b) => a.at - b.at);
  }

  private async issue(due: Due, now: number): Promise<void> {
    const plugin = this.o.plugins[due.network]!;
    const challenge: Challenge = {
      network: due.network,
      device: due.device,
      epoch: due.epoch,
      nonce: `0x${randomBytes(32).toString('hex')}`,
      issuedAt: now,
      deadline: now + plugin.challenger!.deadlineMs(this.o.parameters[due.network]),
    };
    await this.o.db.query('insert into challenges (network, device, epoch, nonce, issued_at, deadline) values ($1,$2,$3,$4,$5,$6)', [
      challenge.network,
      challenge.device,
      challenge.epoch,
      challenge.nonce,
      challenge.issuedAt,
      challenge.deadline,
    ]);
    const delivered = this.o.hub.send(due.device, { type: 'challenge', challenge });
    this.o.metrics.challengesIssued.inc({ network: due.network, delivered: String(delivered) });
  }
}
