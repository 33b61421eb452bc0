// The devnet's coverage side: hotspots' radios in the simulated city, an IoT consumer whose
// sensors send a reading every few seconds through whichever hotspots hear them (paid from its
// allowance), and the "air": a small HTTP endpoint where anything outside the devnet process (the
// CLI's `coverage send`) transmits a sensor frame at a place in the city. Only the simulated world
// needs it; a real sensor transmits over real radio.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { devnetAccounts } from '@groundwork/contracts';
import { CoverageClient, Sensor, uplinkSchema } from '@groundwork/network-coverage';
import { z } from 'zod';
import type { CoverageWorld } from './coverage-world.ts';
import { devnetFaucet } from './faucet.ts';
import type { Testnet } from './testnet.ts';

/** The account the IoT consumer pays from (devnet account 7: the gateway is 6). */
export const IOT_CONSUMER_ACCOUNT = 7;
/** A LoRaWAN US915 uplink channel. */
export const UPLINK_HZ = 903_900_000;

export type IotConsumer = {
  sensors: string[];
  stats: { sent: number; delivered: number; credits: bigint };
  stop(): Promise<void>;
};

/** Starts the consumer: an allowance, `sensors` sensors at random places, a reading from each every `intervalMs`. */
export async function startIotConsumer(o: {
  net: Testnet;
  world: CoverageWorld;
  sensors?: number;
  intervalMs: number;
  log?: (line: string) => void;
}): Promise<IotConsumer> {
  const log = o.log ?? (() => {});
  const account = devnetAccounts(IOT_CONSUMER_ACCOUNT);
  if ((await o.net.tokenBalance(account.address)) < 100n * 10n ** 18n)
    await devnetFaucet({ rpcUrl: o.net.rpcUrl, deployment: o.net.deployment, to: account.address });
  const client = new CoverageClient({
    oracleUrl: o.net.oracle!.url,
    rpcUrl: o.net.rpcUrl,
    deployment: o.net.deployment,
    privateKey: account.privateKey,
  });
  const allowance = await client.openAllowance(1_000_000n, { buyCredits: true });
  const sensors = Array.from({ length: o.sensors ?? 3 }, () => Sensor.random());
  for (const s of sensors) {
    await client.registerSensor(s, allowance.id);
    o.world.place(`sensor-${s.id}`, o.world.randomPlace(), { txPowerDbm: 20, gainDbi: 0 });
  }
  const stats = { sent: 0, delivered: 0, credits: 0n };
  const seen = new Map(sensors.map((s) => [s.id, -1]));
  let stopped = false;
  const timer = setInterval(() => {
    if (stopped) return;
    for (const s of sensors) {
      // A reading: temperature (centi-degrees), humidity, battery; 24 bytes with padding: 1 credit.
      const reading = Buffer.alloc(24);
      reading.writeInt16BE(Math.round(1800 + Math.random() * 700), 0);
      reading.writeUInt8(Math.round(30 + Math.random() * 50), 2);
      o.world.deliver(`sensor-${s.id}`, JSON.stringify(s.frame(reading)), UPLINK_HZ);
      stats.sent++;
    }
    void (async () => {
      for (const s of sensors) {
        const got = await client.uplinks(s.id, seen.get(s.id)).catch(() => []);
        for (const u of got) {
          stats.delivered++;
          stats.credits += BigInt(u.credits);
          seen.set(s.id, Math.max(seen.get(s.id)!, u.fcnt));
        }
      }
    })();
  }, o.intervalMs);
  timer.unref();
  log(
    `iot consumer ${account.address} · ${sensors.length} sensors · allowance ${allowance.id.slice(0, 10)} of ${allowance.credits} credits`,
  );
  return {
    sensors: sensors.map((s) => s.id),
    stats,
    async stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

const airSchema = z
  .object({
    uplink: uplinkSchema,
    /** Where the sensor is: [lat, lng]. */
    at: z.tuple([z.number().min(-90).max(90), z.number().min(-180).max(180)]),
    txPowerDbm: z.number().min(-10).max(30).default(20),
    frequencyHz: z.number().int().min(100_000_000).max(3_000_000_000).default(UPLINK_HZ),
  })
  .strict();

/** The simulated air: POST /v1/uplink {uplink, at: [lat, lng]} transmits the frame there; answers who heard it. */
export async function startAir(world: CoverageWorld, port: number): Promise<{ url: string; close(): Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    const reply = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    if (req.method !== 'POST' || req.url !== '/v1/uplink') return reply(404, { error: 'not-found', detail: 'POST /v1/uplink' });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
      if (body.length > 8192) req.destroy();
    });
    req.on('end', () => {
      let raw: unknown;
      try {
        raw = JSON.parse(body);
      } catch (err) {
        return reply(400, { error: 'malformed', detail: `body is not JSON: ${(err as Error).message}` });
      }
      const p = airSchema.safeParse(raw);
      if (!p.success) {
        const i = p.error.issues[0]!;
        return reply(400, { error: 'malformed', detail: `${i.path.join('.') || '(root)'}: ${i.message}` });
      }
      const id = `air-${n++ % 64}`;
      world.place(id, p.data.at, { txPowerDbm: p.data.txPowerDbm, gainDbi: 0, elevationM: 1 });
      const heard = world.deliver(id, JSON.stringify(p.data.uplink), p.data.frequencyHz);
      world.radios.delete(id);
      reply(200, { heardBy: heard.filter((h) => !h.receiver.startsWith('sensor-') && !h.receiver.startsWith('air-')).length });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
