// In-memory view of registered devices for ingest: one parsed public key per device, so a
// signature check costs one verify and no key import.
import type { KeyObject } from 'node:crypto';
import type { Address, Hex } from 'viem';
import { publicKeyFromCoordinates } from '@groundwork/protocol';
import type { Queryable } from './db/database.ts';

export type KnownDevice = { device: Hex; network: string; owner: Address; keyX: Hex; keyY: Hex; key: KeyObject; registeredAt: number };

export class DeviceCache {
  private readonly byId = new Map<string, KnownDevice>();

  get size(): number {
    return this.byId.size;
  }

  get(device: string): KnownDevice | undefined {
    return this.byId.get(device);
  }

  all(): KnownDevice[] {
    return [...this.byId.values()];
  }

  /** Forgets the devices the mirror no longer has (after the follower rewound it), then reloads every device. */
  async reload(db: Queryable): Promise<KnownDevice[]> {
    const present = new Set((await db.query<{ device: string }>('select device from devices')).map((r) => r.device));
    for (const device of [...this.byId.keys()]) if (!present.has(device)) this.byId.delete(device);
    return this.load(db);
  }

  /** Loads (or reloads) `devices`, or every device when none are named. */
  async load(db: Queryable, devices?: readonly string[]): Promise<KnownDevice[]> {
    const rows = devices
      ? await db.query('select * from devices where device = any($1)', [devices])
      : await db.query('select * from devices');
    const loaded: KnownDevice[] = [];
    for (const r of rows) {
      const known: KnownDevice = {
        device: r.device,
        network: r.network,
        owner: r.owner,
        keyX: r.key_x,
        keyY: r.key_y,
        key: publicKeyFromCoordinates({ x: r.key_x, y: r.key_y }),
        registeredAt: Number(r.registered_at),
      };
      const isNew = !this.byId.has(known.device);
      this.byId.set(known.device, known);
      if (isNew) loaded.push(known);
    }
    return loaded;
  }
}
