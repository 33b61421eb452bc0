// `groundwork coverage ...`: the coverage network's map data and its consumer's one action.
// `hotspots` and `hex <cell>` read what the map is drawn from (the last judged epoch: places,
// transmit scale, witnesses, refusals); `send` transmits one sensor frame through the hotspots
// that hear it, paid from the consumer's allowance, and says who carried it and what it cost.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Hex } from 'viem';
import { flag, integer, loadDeployment, loadPrivateKey, optional, parseFlags, required, url } from '../args.ts';
import { helpFlag, jsonFlag, type Command } from '../command.ts';
import { CHAIN_OPTIONS, CHAIN_SPEC, chainFlags, positional, withClient } from '../consumer.ts';
import { CliError, line, printJson, UsageError, type Io } from '../io.ts';

type Coverage = typeof import('@groundwork/network-coverage');
const loadCoverage = (): Promise<Coverage> => import('@groundwork/network-coverage');

export const COVERAGE_USAGE = `usage: groundwork coverage <command> [options]

commands:
  hotspots                the hotspots: place, transmit scale, last epoch's shares
  hex <cell>              one H3 hex: its hotspots, HIP-17 density, witnesses and refusals
  send <text>             send one sensor frame through the hotspots that hear it, paid in credits

\`groundwork coverage <command> --help\` for its options.`;

const ORACLE_ONLY = `  --oracle <url>          the oracle's base URL, e.g. http://127.0.0.1:8787`;

const HOTSPOTS_USAGE = `usage: groundwork coverage hotspots --oracle <url> [--json]

The coverage network's hotspots as the last judged epoch had them: device, asserted H3 cell,
region, whether connected, the HIP-17 transmit scale of its hex and its beacon and witness shares.

options:
${ORACLE_ONLY}
${jsonFlag(24)}
${helpFlag(24)}`;

const HEX_USAGE = `usage: groundwork coverage hex <cell> --oracle <url> [--json]

Everything the map shows for one H3 cell (resolution 0 to 12, 15 hex digits): the hotspots in
it, its HIP-17 density (active hotspots, limit, clipped), the witnesses heard into or out of it,
and every refused report of its hotspots with the reason.

options:
${ORACLE_ONLY}
${jsonFlag(24)}
${helpFlag(24)}`;

const SEND_USAGE = `usage: groundwork coverage send <text> --sensor <file> --air <url> --at <lat,lng> --oracle <url>
         --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [--credits <n>] [--json]

Sends <text> (at most 255 bytes) as one frame of a sensor at <lat,lng>, through the hotspots that
hear it; the packet router charges 1 credit per 24 bytes (at least 1) to the consumer's allowance
and burns them to the hotspot that carried it. The sensor (its id, key and frame counter) lives
in --sensor, made on first use and routed to a new allowance of --credits credits (bought with
token when the account has too few). --air is where the frame is transmitted: the devnet's
simulated air (its URL is printed at start); a real sensor transmits over radio instead.

options:
  --sensor <file>         the sensor's file (made if missing)
  --air <url>             the simulated air's URL
  --at <lat,lng>          where the sensor is, in degrees
  --credits <n>           the allowance a new sensor is routed to (default 10000)
${CHAIN_OPTIONS}
${jsonFlag(24)}
${helpFlag(24)}`;

const oracleSpec = { oracle: { type: 'string' }, json: { type: 'boolean' } } as const;

async function runHotspots(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, oracleSpec, 0);
  const o = { oracle: url('oracle', required(f, 'oracle')), json: flag(f, 'json') };
  const c = await loadCoverage();
  const r = await withClient(o, () => new c.CoverageClient({ oracleUrl: o.oracle }).hotspots());
  if (o.json) {
    printJson(io, r);
    return 0;
  }
  line(io.stdout, r.epoch === null ? 'no epoch judged yet' : `hotspots as of epoch ${r.epoch}`);
  for (const h of r.hotspots as {
    device: string;
    cell: string | null;
    region: string;
    connected: boolean;
    txScale: number | null;
    beaconShare: number;
    witnessShare: number;
  }[])
    line(
      io.stdout,
      `${h.device}  ${h.cell ?? '(no location)'.padEnd(15)}  ${String(h.region ?? '-').padEnd(6)}  ${h.connected ? 'online ' : 'offline'}  ` +
        `scale ${h.txScale === null ? '  -  ' : h.txScale.toFixed(3)}  beacon ${h.beaconShare.toFixed(3)}  witness ${h.witnessShare.toFixed(3)}`,
    );
  return 0;
}

async function runHex(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, oracleSpec, 1);
  const cell = positional(f, 'cell', 'an H3 cell index, 15 hex digits');
  if (!/^[0-9a-f]{15}$/.test(cell))
    throw new UsageError(`<cell> must be an H3 cell index (15 lowercase hex digits), got ${JSON.stringify(cell)}`);
  const o = { oracle: url('oracle', required(f, 'oracle')), json: flag(f, 'json') };
  const c = await loadCoverage();
  const r = (await withClient(o, () => new c.CoverageClient({ oracleUrl: o.oracle }).hex(cell))) as {
    resolution: number;
    epoch: number | null;
    density: { unclipped: number; limit: number; clipped: number } | null;
    hotspots: { device: string; txScale: number | null }[];
    witnesses: unknown[];
    rejections: { hotspot: string; kind: string; reason: string; detail: string }[];
  };
  if (o.json) {
    printJson(io, r);
    return 0;
  }
  line(io.stdout, `hex ${cell} (resolution ${r.resolution}) as of epoch ${r.epoch ?? '-'}`);
  line(
    io.stdout,
    r.density
      ? `density: ${r.density.unclipped} active, limit ${r.density.limit}, counted ${r.density.clipped} (HIP-17)`
      : 'density: no active hotspot',
  );
  line(io.stdout, `${r.hotspots.length} hotspots, ${r.witnesses.length} rewarded witnesses in or out`);
  for (const h of r.hotspots) line(io.stdout, `  ${h.device}  scale ${h.txScale === null ? '-' : h.txScale.toFixed(3)}`);
  for (const j of r.rejections) line(io.stdout, `  refused ${j.kind} of ${j.hotspot.slice(0, 10)}…: ${j.reason}: ${j.detail}`);
  return 0;
}

type SensorFile = { sensor: string; key: string; fcnt: number; allowance: Hex };

function readSensor(file: string): SensorFile | null {
  if (!existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--sensor ${file}: not JSON (${(err as Error).message})`);
  }
  const s = raw as Partial<SensorFile>;
  if (typeof s.sensor !== 'string' || !/^[0-9a-f]{16}$/.test(s.sensor))
    throw new UsageError(`--sensor ${file}: "sensor" must be 16 hex digits`);
  if (typeof s.key !== 'string' || !/^[0-9a-f]{32}$/.test(s.key)) throw new UsageError(`--sensor ${file}: "key" must be 32 hex digits`);
  if (!Number.isSafeInteger(s.fcnt) || s.fcnt! < 0) throw new UsageError(`--sensor ${file}: "fcnt" must be a whole number`);
  if (typeof s.allowance !== 'string' || !/^0x[0-9a-f]{64}$/.test(s.allowance))
    throw new UsageError(`--sensor ${file}: "allowance" must be 0x + 64 hex digits`);
  return s as SensorFile;
}

function writeSensor(file: string, s: SensorFile): void {
  // Written whole, then renamed: a crash leaves the old file or the new one, never half of one.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

function parseAt(value: string): [number, number] {
  const m = /^(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$/.exec(value);
  const lat = Number(m?.[1]);
  const lng = Number(m?.[2]);
  if (!m || Math.abs(lat) > 90 || Math.abs(lng) > 180)
    throw new UsageError(`--at must be <lat>,<lng> in degrees, got ${JSON.stringify(value)}`);
  return [lat, lng];
}

async function runSend(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(
    argv,
    { ...CHAIN_SPEC, sensor: { type: 'string' }, air: { type: 'string' }, at: { type: 'string' }, credits: { type: 'string' } },
    1,
  );
  const text = positional(f, 'text', 'what the frame carries');
  const data = Buffer.from(text, 'utf8');
  if (data.length > 255) throw new UsageError(`<text> is ${data.length} bytes; a frame carries at most 255`);
  const sensorFile = required(f, 'sensor');
  const air = url('air', required(f, 'air'));
  const at = parseAt(required(f, 'at'));
  const credits = BigInt(integer('credits', optional(f, 'credits') ?? '10000', { min: 1, max: 1e12 }));
  const o = { ...chainFlags(f), json: flag(f, 'json') };
  const deployment = loadDeployment('deployment', o.deploymentFile);
  if (!deployment.networks.some((n) => n.kind === 'coverage'))
    throw new UsageError(
      `--deployment ${o.deploymentFile} has no coverage network (it has ${deployment.networks.map((n) => n.kind).join(', ')})`,
    );
  const privateKey = loadPrivateKey(o.key);
  let saved = readSensor(sensorFile);
  const c = await loadCoverage();
  const client = new c.CoverageClient({ oracleUrl: o.oracle, rpcUrl: o.rpc, deployment, privateKey });
  if (!saved) {
    const fresh = c.Sensor.random();
    const allowance = await withClient(o, () => client.openAllowance(credits, { buyCredits: true }));
    await withClient(o, () => client.registerSensor(fresh, allowance.id));
    saved = { sensor: fresh.id, key: Buffer.from(fresh.key).toString('hex'), fcnt: 0, allowance: allowance.id };
    writeSensor(sensorFile, saved);
    if (!o.json) line(io.stderr, `sensor ${fresh.id} routed to allowance ${allowance.id} (${credits} credits), kept in ${sensorFile}`);
  }
  const sensor = new c.Sensor(saved.sensor, Buffer.from(saved.key, 'hex'), saved.fcnt);
  const frame = sensor.frame(data);
  // The counter moves on before the frame goes out: a frame counter is never used twice.
  writeSensor(sensorFile, { ...saved, fcnt: sensor.nextFcnt });
  let heardBy: number;
  try {
    const res = await fetch(`${air.replace(/\/$/, '')}/v1/uplink`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uplink: frame, at }),
    });
    const body = (await res.json()) as { heardBy?: number; error?: string; detail?: string };
    if (!res.ok) throw new CliError(`--air ${air} refused the frame: ${body.error}: ${body.detail}`);
    heardBy = body.heardBy ?? 0;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot reach the air at --air ${air}: ${(err as Error).message}`);
  }
  // Wait for the router's answer: the frame delivered (and charged), or nobody carried it.
  let delivered: Awaited<ReturnType<typeof client.uplinks>>[number] | undefined;
  for (let waited = 0; heardBy > 0 && !delivered && waited < 10_000; waited += 250) {
    await new Promise((r) => setTimeout(r, 250));
    delivered = (await withClient(o, () => client.uplinks(frame.sensor, frame.fcnt - 1))).find((u) => u.fcnt === frame.fcnt);
  }
  if (o.json) {
    printJson(io, { sensor: frame.sensor, fcnt: frame.fcnt, bytes: data.length, heardBy, delivered: delivered ?? null });
    return delivered ? 0 : 1;
  }
  if (!delivered) {
    line(
      io.stderr,
      heardBy
        ? `frame ${frame.fcnt}: heard by ${heardBy} hotspots but not delivered (the allowance may be spent)`
        : `frame ${frame.fcnt}: no hotspot heard it from ${at.join(',')}`,
    );
    return 1;
  }
  line(
    io.stdout,
    `frame ${frame.fcnt} of sensor ${frame.sensor}: ${data.length} bytes, heard by ${heardBy}, carried by ${delivered.hotspot} at ${delivered.rssiDbm} dBm · ${delivered.credits} credits`,
  );
  return 0;
}

export const coverageCommands: Command[] = [
  { name: 'coverage hotspots', summary: "the coverage network's hotspots", usage: HOTSPOTS_USAGE, run: runHotspots },
  { name: 'coverage hex', summary: 'one H3 hex of the coverage map', usage: HEX_USAGE, run: runHex },
  { name: 'coverage send', summary: 'send a sensor frame through the hotspots, paid in credits', usage: SEND_USAGE, run: runSend },
];
