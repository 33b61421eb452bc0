// The packet router: how consumers pay for the coverage they use (Helium's packet router and
// packet verifier). A consumer (an IoT application) opens an allowance of credits on chain and
// registers its sensors with it; a hotspot that hears a sensor's uplink forwards it here; the
// router checks the uplink's MIC with the sensor's key, takes each frame once (from the first
// hotspot that delivers it), charges 1 credit per 24 bytes (at least 1) against the allowance and
// refuses frames once the allowance is spent. The credits are burned to the hotspots that carried
// the frames in periodic batches (the allowance ledger's settlements), which is the data-transfer
// usage the epoch pays for. The application reads its delivered frames back from the router.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { allowanceLedger } from '@groundwork/contracts';
import { jsonBody, parseWith, type ServiceContext, ServiceError, type ServiceRoute } from '@groundwork/protocol';
import { type Hex, recoverMessageAddress } from 'viem';
import { z } from 'zod';
import { packetCredits } from '../radio.ts';
import type { CoverageParameters } from './parameters.ts';
import type { CoveragePayload, Uplink } from './wire.ts';

/** The text a consumer signs (EIP-191) to attach a sensor to its allowance. */
export function sensorRegistrationText(chainId: number, sensor: string, allowance: string, keyHash: string): string {
  return `Groundwork coverage: route sensor ${sensor} to allowance ${allowance} on chain ${chainId} (key ${keyHash})`;
}

/** The uplink's MIC: HMAC-SHA256 over sensor, frame counter and data with the sensor's key, first 8 bytes. */
export function uplinkMic(key: Uint8Array, sensor: string, fcnt: number, data: string): string {
  return createHmac('sha256', key).update(`${sensor}:${fcnt}:${data}`).digest('hex').slice(0, 16);
}

export function keyHash(key: Uint8Array): string {
  return createHmac('sha256', 'groundwork-sensor-key').update(key).digest('hex').slice(0, 16);
}

const sensorSchema = z
  .object({
    sensor: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits'),
    key: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits (a 128-bit session key)'),
    allowance: z.string().regex(/^0x[0-9a-f]{64}$/, 'must be 0x and 64 lowercase hex digits'),
    signature: z.string().regex(/^0x[0-9a-f]{130}$/, 'must be a 65-byte signature in hex'),
  })
  .strict();

const SCHEMA = [
  `create table if not exists coverage_sensors (sensor text primary key, key text not null, allowance text not null,
     consumer text not null, created_at bigint not null)`,
  `create table if not exists coverage_uplinks (sensor text not null, fcnt bigint not null, data text not null, hotspot text not null,
     rssi double precision not null, snr double precision not null, credits text not null, received_at bigint not null,
     primary key (sensor, fcnt))`,
];

export type PacketRouter = {
  schema: string[];
  routes: ServiceRoute[];
  onUplink(hotspot: Hex, p: Extract<CoveragePayload, { kind: 'uplink' }>): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): Record<string, unknown>;
};

export function packetRouter(ctx: ServiceContext<CoverageParameters>): PacketRouter {
  // Not the first quorum key (it posts roots, outside the settlements' one-at-a-time sending).
  const sender = ctx.chain.signers.at(-1);
  const ledger = allowanceLedger({
    ctx: ctx as ServiceContext<unknown>,
    sender,
    prefix: 'coverage',
    columns: [
      ['sensor', 'text not null'],
      ['fcnt', 'bigint not null'],
      ['bytes', 'int not null'],
    ],
    label: 'a coverage allowance',
  });
  const sensors = new Map<string, { key: Buffer; allowance: Hex; consumer: string }>();
  const stats = { delivered: 0, duplicates: 0, refused: 0, failed: 0, badMic: 0, unknownSensor: 0, credits: 0n };
  let timer: NodeJS.Timeout | null = null;
  let settling = false;

  async function onUplink(hotspot: Hex, p: Extract<CoveragePayload, { kind: 'uplink' }>): Promise<void> {
    const u: Uplink = p.uplink;
    const s = sensors.get(u.sensor);
    if (!s) {
      stats.unknownSensor++;
      return;
    }
    const mic = Buffer.from(uplinkMic(s.key, u.sensor, u.fcnt, u.data), 'hex');
    if (!timingSafeEqual(mic, Buffer.from(u.mic, 'hex'))) {
      stats.badMic++;
      return;
    }
    const bytes = Buffer.from(u.data, 'base64').length;
    const credits = packetCredits(bytes, ctx.parameters.bytesPerCredit);
    try {
      const taken = await ledger.reserve({
        allowance: s.allowance,
        serial: `${u.sensor}:${u.fcnt}`,
        signer: s.consumer,
        device: hotspot,
        credits,
        values: [u.sensor, u.fcnt, bytes],
      });
      // Heard by several hotspots: the first to deliver it carried it, the rest are copies.
      if (taken.again) {
        stats.duplicates++;
        return;
      }
    } catch (err) {
      if (!(err instanceof ServiceError)) {
        // Not a refusal: the chain or the database failed on this copy; another hotspot's copy may still be taken.
        stats.failed++;
        ctx.log(`uplink ${u.sensor}:${u.fcnt} from ${hotspot.slice(0, 10)} not taken: ${(err as Error).message.split('\n')[0]}`);
        return;
      }
      stats.refused++;
      ctx.log(`uplink ${u.sensor}:${u.fcnt} refused: ${err.reason}: ${err.message}`);
      return;
    }
    await ctx.db.query(
      `insert into coverage_uplinks (sensor, fcnt, data, hotspot, rssi, snr, credits, received_at) values ($1,$2,$3,$4,$5,$6,$7,$8)
       on conflict do nothing`,
      [u.sensor, u.fcnt, u.data, hotspot, p.signalDdbm / 10, p.snrDdb / 10, credits.toString(), Date.now()],
    );
    stats.delivered++;
    stats.credits += credits;
  }

  async function register(raw: unknown): Promise<unknown> {
    const r = parseWith(sensorSchema, raw);
    const key = Buffer.from(r.key, 'hex');
    const consumer = (
      await recoverMessageAddress({
        message: sensorRegistrationText(ctx.chain.chainId, r.sensor, r.allowance, keyHash(key)),
        signature: r.signature as Hex,
      }).catch(() => {
        throw new ServiceError(400, 'bad-signature', 'the registration’s signature cannot be recovered');
      })
    ).toLowerCase();
    const job = await ledger.readJob(r.allowance as Hex);
    if (job.consumer.toLowerCase() !== consumer)
      throw new ServiceError(
        403,
        'wrong-signer',
        `signed by ${consumer}; allowance ${r.allowance} belongs to ${job.consumer.toLowerCase()}`,
      );
    if (job.network !== ctx.networkId) throw new ServiceError(400, 'wrong-network', `allowance ${r.allowance} is not a coverage allowance`);
    const [had] = await ctx.db.query<{ consumer: string }>('select consumer from coverage_sensors where sensor = $1', [r.sensor]);
    if (had && had.consumer !== consumer) throw new ServiceError(409, 'sensor-taken', `sensor ${r.sensor} is routed for ${had.consumer}`);
    await ctx.db.query(
      `insert into coverage_sensors (sensor, key, allowance, consumer, created_at) values ($1,$2,$3,$4,$5)
       on conflict (sensor) do update set key = $2, allowance = $3`,
      [r.sensor, r.key, r.allowance, consumer, Date.now()],
    );
    await ledger.remember(r.allowance as Hex, job);
    sensors.set(r.sensor, { key, allowance: r.allowance as Hex, consumer });
    return { sensor: r.sensor, allowance: r.allowance, consumer };
  }

  const routes: ServiceRoute[] = [
    ...ledger.routes,
    {
      method: 'POST',
      path: 'sensors',
      maxBodyBytes: 2048,
      handle: async (req) => {
        const raw = jsonBody(req);
        return { status: 201, json: await register(raw) };
      },
    },
    {
      // The application's inbox: the frames its sensor got through, with who carried them and the cost.
      method: 'GET',
      path: 'sensors/([0-9a-f]{16})/uplinks',
      handle: async (req) => {
        const sensor = req.params[0]!;
        if (!sensors.has(sensor)) throw new ServiceError(404, 'unknown-sensor', `sensor ${sensor} is not routed by this oracle`);
        const after = Number(req.query.get('after') ?? -1);
        if (!Number.isInteger(after) || after < -1) throw new ServiceError(400, 'bad-after', 'after must be a frame counter');
        const rows = await ctx.db.query<{
          fcnt: string;
          data: string;
          hotspot: string;
          rssi: number;
          snr: number;
          credits: string;
          received_at: string;
        }>(
          'select fcnt::text as fcnt, data, hotspot, rssi, snr, credits, received_at::text as received_at from coverage_uplinks where sensor = $1 and fcnt > $2 order by fcnt limit 1000',
          [sensor, after],
        );
        return {
          json: {
            sensor,
            uplinks: rows.map((r) => ({
              fcnt: Number(r.fcnt),
              data: r.data,
              hotspot: r.hotspot,
              rssiDbm: r.rssi,
              snrDb: r.snr,
              credits: r.credits,
              receivedAt: Number(r.received_at),
            })),
          },
        };
      },
    },
  ];

  return {
    schema: [...SCHEMA, ...ledger.schema],
    routes,
    onUplink,
    async start() {
      for (const r of await ctx.db.query<{ sensor: string; key: string; allowance: string; consumer: string }>(
        'select sensor, key, allowance, consumer from coverage_sensors',
      ))
        sensors.set(r.sensor, { key: Buffer.from(r.key, 'hex'), allowance: r.allowance as Hex, consumer: r.consumer });
      // Burns in batches, as Helium's packet verifier does every minute (burn_period).
      timer = setInterval(() => {
        if (settling) return;
        settling = true;
        void ledger
          .step(Date.now())
          .catch((err) => ctx.log(`settling packets failed: ${(err as Error).message.split('\n')[0]}`))
          .finally(() => {
            settling = false;
          });
      }, 500);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      while (settling) await new Promise((r) => setTimeout(r, 20));
    },
    status: () => ({ ...stats, credits: stats.credits.toString(), ...ledger.status(), sensors: sensors.size }),
  };
}
