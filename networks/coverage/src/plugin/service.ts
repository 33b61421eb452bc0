// The coverage network's oracle-side service. It draws the entropy of each beacon window from the
// chain's latest block hash and its own randomness, records it as an input of the epoch and hands
// it to every connected hotspot; it keeps each hotspot's declared radio; and before an epoch is
// closed it writes the epoch's hotspot rows (asserted place, radio) and the reciprocity history,
// which it carries forward by judging the previous epoch with the verifier's own code (round.ts).
// It also serves the map's data: hotspots, and per hex their transmit scale, witnesses and rejections.
import { randomBytes } from 'node:crypto';
import { ServiceCreditsAbi } from '@groundwork/contracts';
import { canonicalJson, type NetworkService, type ServiceContext, ServiceError } from '@groundwork/protocol';
import { cellToLatLng, cellToParent, getResolution, isValidCell } from 'h3-js';
import type { Hex } from 'viem';
import { ASSERT_RESOLUTION, DENSITY_RESOLUTION } from '../rules.ts';
import type { CoverageParameters } from './parameters.ts';
import { type JudgedRound, judgeRound, type RoundReport } from './round.ts';
import { packetRouter } from './router.ts';
import {
  assertedCell,
  type CoverageInput,
  coverageInputSchema,
  type CreditPriceRow,
  type EntropyRow,
  entropyId,
  type HotspotRow,
  radioHelloSchema,
  servicePayloadSchema,
} from './wire.ts';

const SCHEMA = [
  `create table if not exists coverage_radios (device text primary key, gain_ddbi int not null,
     elevation_m int not null, region text not null, updated_at bigint not null)`,
];

const CREDIT_UNIT = 1_000_000n;

/** What the map is drawn from: the epoch last closed (or being closed). */
type LastRound = { epoch: number; judged: JudgedRound; hotspots: Map<string, HotspotRow> };

export function coverageService(ctx: ServiceContext<CoverageParameters>): NetworkService {
  const connected = new Set<Hex>();
  const drawn = new Map<string, EntropyRow>();
  const router = packetRouter(ctx);
  let current: { key: string; row: EntropyRow; windowMs: number } | null = null;
  let timer: NodeJS.Timeout | null = null;
  let drawing = false;
  let last: LastRound | null = null;
  const stats = { entropy: 0, hotspotsConnected: 0, lastJudged: null as number | null };

  const windowMs = () => Math.floor((ctx.clock.duration * 1000) / ctx.parameters.beaconsPerEpoch);

  async function draw(now: number): Promise<void> {
    const epoch = ctx.clock.epochAtMs(now);
    const start = ctx.clock.start(epoch) * 1000;
    const w = windowMs();
    const k = Math.min(ctx.parameters.beaconsPerEpoch - 1, Math.floor((now - start) / w));
    const key = `${epoch}:${k}`;
    if (drawn.has(key)) return;
    // The latest block's hash: nobody knew it before the block, and anyone can check it was the chain's.
    const block = await ctx.chain.client.getBlock({ blockTag: 'latest' });
    const random = `0x${randomBytes(32).toString('hex')}` as Hex;
    const row: EntropyRow = {
      kind: 'entropy',
      id: entropyId(block.hash!, random),
      start: now,
      blockNumber: Number(block.number),
      blockHash: block.hash!,
      random,
    };
    await ctx.db.query('insert into oracle_inputs (network, epoch, input) values ($1, $2, $3)', [ctx.network, epoch, canonicalJson(row)]);
    drawn.set(key, row);
    stats.entropy++;
    current = { key, row, windowMs: w - (now - (start + k * w)) };
    for (const device of connected) offer(device);
    for (const old of drawn.keys()) if (Number(old.split(':')[0]) < epoch - 1) drawn.delete(old);
  }

  function offer(device: Hex): void {
    if (!current) return;
    ctx.send(device, { kind: 'entropy', id: current.row.id, start: current.row.start, windowMs: current.windowMs });
  }

  async function epochRows(epoch: number): Promise<CoverageInput[]> {
    const rows = await ctx.db.query<{ input: string }>('select input from oracle_inputs where network = $1 and epoch = $2 order by id', [
      ctx.network,
      epoch,
    ]);
    return rows.map((r) => coverageInputSchema.parse(JSON.parse(r.input)));
  }

  /** The previous epoch judged as the verifier judges it: same rows, same reports, same order. */
  async function judge(epoch: number): Promise<LastRound> {
    const rows = await epochRows(epoch);
    const reports = await ctx.db.query<{ digest: string; report: string; received_at: string }>(
      'select digest, report, received_at from reports where network = $1 and epoch = $2 order by received_at, digest',
      [ctx.network, epoch],
    );
    const judged = judgeRound({
      startMs: ctx.clock.start(epoch) * 1000,
      endMs: ctx.clock.end(epoch) * 1000,
      parameters: ctx.parameters,
      rows,
      reports: reports.map((r): RoundReport => {
        const report = JSON.parse(r.report) as { device: string; type: string; body: unknown };
        return { digest: r.digest, device: report.device, type: report.type, body: report.body, receivedAt: Number(r.received_at) };
      }),
    });
    const hotspots = new Map(rows.filter((r): r is HotspotRow => r.kind === 'hotspot').map((r) => [r.device, r]));
    return { epoch, judged, hotspots };
  }

  /** The chain's location as a resolution-12 cell; any other counts as none (the registry takes any valid H3 cell). */
  function assertedAt(device: string, location: string | null): string | null {
    if (!location) return null;
    const cell = location.padStart(15, '0');
    if (assertedCell.safeParse(cell).success) return cell;
    ctx.log(`hotspot ${device.slice(0, 10)} asserted ${cell}, not a resolution-${ASSERT_RESOLUTION} cell: it counts as unlocated`);
    return null;
  }

  async function beforeClose(epoch: number, snapshotBlock: string): Promise<void> {
    const [written] = await ctx.db.query<{ n: number }>(
      `select count(*)::int as n from oracle_inputs where network = $1 and epoch = $2 and (input like '{"cell":%' or input like '{"block":%')`,
      [ctx.network, epoch],
    );
    if (written!.n > 0) {
      // Written on an earlier try of this close: the artifact must not change.
      if (last?.epoch !== epoch) last = await judge(epoch);
      return;
    }
    // Judged again now, not reused from the last close: its inputs are final only now.
    const previous = await judge(epoch - 1);
    const devices = await ctx.db.query<{
      device: string;
      location: string | null;
      gain: number | null;
      elevation: number | null;
      region: string | null;
    }>(
      `select d.device, d.location, r.gain_ddbi as gain, r.elevation_m as elevation, r.region
         from devices d left join coverage_radios r on r.device = d.device
        where d.network = $1 and d.registered_block <= $2 order by d.device`,
      [ctx.network, snapshotBlock],
    );
    const hotspotRows: HotspotRow[] = devices.map((d) => ({
      kind: 'hotspot',
      device: d.device as Hex,
      cell: assertedAt(d.device, d.location),
      // A hotspot that never declared its radio is held to no antenna gain, in the default region.
      gainDdbi: d.gain ?? 0,
      elevationM: d.elevation ?? 0,
      region: d.region ?? 'US915',
    }));
    const price = await creditPrice(snapshotBlock);
    await ctx.db.transaction(async (tx) => {
      for (const row of [...hotspotRows, ...previous.judged.history, ...(price ? [price] : [])])
        await tx.query('insert into oracle_inputs (network, epoch, input) values ($1, $2, $3)', [ctx.network, epoch, canonicalJson(row)]);
    });
    // The map shows the epoch being closed (its rewards once it is).
    last = await judge(epoch);
    stats.lastJudged = epoch;
  }

  /** What 1,000,000 credits cost in token at the snapshot block (the latest block when that one's state is gone); null if the feed refuses. */
  async function creditPrice(snapshotBlock: string): Promise<CreditPriceRow | null> {
    const credits = ctx.chain.addresses.credits as Hex | undefined;
    if (!credits) return null;
    const quote = (blockNumber?: bigint) =>
      ctx.chain.client.readContract({
        address: credits,
        abi: ServiceCreditsAbi,
        functionName: 'quoteTokens',
        args: [CREDIT_UNIT],
        ...(blockNumber === undefined ? {} : { blockNumber }),
      }) as Promise<bigint>;
    for (const at of [BigInt(snapshotBlock), undefined]) {
      try {
        const tokens = await quote(at);
        const block = at ?? (await ctx.chain.client.getBlockNumber());
        return { kind: 'credit-price', credits: CREDIT_UNIT.toString(), tokens: tokens.toString(), block: Number(block) };
      } catch {
        // the state of that block is gone, or the price is stale: try the head, then give up
      }
    }
    ctx.log('the credit price could not be read: this epoch pays nothing for data transfer');
    return null;
  }

  async function hotspotJson(id: string, h: HotspotRow | undefined, withReward: boolean) {
    const round = last?.judged.round;
    // What the judged epoch paid it, read from that epoch's artifact (token units): per hex only,
    // where the hotspots are few (the whole list would read the artifact once per hotspot).
    const reward = withReward && last && ctx.rewardOf ? await ctx.rewardOf(last.epoch, id as Hex).catch(() => null) : undefined;
    const [lat, lng] = h?.cell ? cellToLatLng(h.cell) : [null, null];
    return {
      device: id,
      owner: ctx.device(id as Hex)?.owner ?? null,
      cell: h?.cell ?? null,
      lat,
      lng,
      gainDbi: h ? h.gainDdbi / 10 : null,
      region: h?.region ?? null,
      connected: ctx.isConnected(id as Hex),
      txScale: h?.cell && round ? round.density.scaleOf(h.cell) : null,
      beaconShare: round?.beaconShares.get(id) ?? 0,
      witnessShare: round?.witnessShares.get(id) ?? 0,
      reward,
    };
  }

  function hexOf(cell: string, res: number): string {
    return getResolution(cell) === res ? cell : cellToParent(cell, res);
  }

  return {
    schema: [...SCHEMA, ...router.schema],
    routes: [
      ...router.routes,
      {
        method: 'GET',
        path: 'hotspots',
        handle: async () => ({
          json: {
            epoch: last?.epoch ?? null,
            hotspots: await Promise.all([...(last?.hotspots ?? new Map<string, HotspotRow>())].map(([id, h]) => hotspotJson(id, h, false))),
          },
        }),
      },
      {
        // Everything the map shows for one hex (any resolution 0 to 12): its hotspots, its HIP-17
        // density, the witnesses heard into or out of it, and every refusal of its hotspots' reports.
        method: 'GET',
        path: 'hex/([0-9a-f]{15})',
        handle: async (req) => {
          const cell = req.params[0]!;
          if (!isValidCell(cell)) throw new ServiceError(400, 'bad-cell', `${cell} is not an H3 cell index`);
          const res = getResolution(cell);
          if (res > 12) throw new ServiceError(400, 'bad-cell', `resolution ${res}: hotspots are placed at resolution 12`);
          const inHex = [...(last?.hotspots ?? new Map<string, HotspotRow>())].filter(([, h]) => h.cell && hexOf(h.cell, res) === cell);
          const ids = new Set(inHex.map(([id]) => id));
          const round = last?.judged.round;
          const witnesses: unknown[] = [];
          const beaconer = new Map(last?.judged.beacons.map((b) => [b.digest, b.hotspot]));
          for (const [beacon, selected] of round?.selected ?? []) {
            const from = beaconer.get(beacon)!;
            for (const w of selected)
              if (ids.has(w.hotspot) || ids.has(from))
                witnesses.push({
                  beacon,
                  beaconer: from,
                  witness: w.hotspot,
                  rssiDbm: w.rssiDbm,
                  snrDb: w.snrDb,
                  receivedAt: w.receivedAt,
                });
          }
          const density = round?.density.hexes.get(res <= DENSITY_RESOLUTION ? cell : hexOf(cell, DENSITY_RESOLUTION)) ?? null;
          return {
            json: {
              cell,
              resolution: res,
              epoch: last?.epoch ?? null,
              density,
              hotspots: await Promise.all(inHex.map(([id, h]) => hotspotJson(id, h, true))),
              witnesses,
              rejections: (round?.rejections ?? []).filter((r) => ids.has(r.hotspot)),
            },
          };
        },
      },
    ],
    async onConnection(device, hello) {
      if (hello === null) {
        connected.delete(device);
        return;
      }
      const radio = radioHelloSchema.safeParse(hello);
      if (!radio.success) {
        ctx.log(`hotspot ${device.slice(0, 10)} declared no valid radio (${radio.error.issues[0]!.message}); held to 0 dBi in US915`);
      } else {
        await ctx.db.query(
          `insert into coverage_radios (device, gain_ddbi, elevation_m, region, updated_at) values ($1,$2,$3,$4,$5)
           on conflict (device) do update set gain_ddbi = $2, elevation_m = $3, region = $4, updated_at = $5`,
          [device, radio.data.gainDdbi, radio.data.elevationM, radio.data.region, Date.now()],
        );
      }
      connected.add(device);
      stats.hotspotsConnected = connected.size;
      offer(device); // a hotspot that connects mid-window may still beacon in it
    },
    async onMessage(device, payload) {
      const p = servicePayloadSchema.safeParse(payload);
      if (!p.success || p.data.kind !== 'uplink') return;
      await router.onUplink(device, p.data);
    },
    beforeClose,
    async start() {
      await router.start();
      // After a restart, the windows already drawn this epoch keep their entropy (a second one
      // would have every hotspot beacon twice in the window, the second beacon refused).
      const now = Date.now();
      const epoch = ctx.clock.epochAtMs(now);
      const start = ctx.clock.start(epoch) * 1000;
      for (const row of await epochRows(epoch))
        if (row.kind === 'entropy') {
          const k = Math.min(ctx.parameters.beaconsPerEpoch - 1, Math.floor((row.start - start) / windowMs()));
          drawn.set(`${epoch}:${k}`, row);
          current = { key: `${epoch}:${k}`, row, windowMs: Math.max(1, windowMs() - (now - (start + k * windowMs()))) };
        }
      timer = setInterval(() => {
        if (drawing) return;
        drawing = true;
        void draw(Date.now())
          .catch((err) => ctx.log(`drawing entropy failed: ${(err as Error).message.split('\n')[0]}`))
          .finally(() => {
            drawing = false;
          });
      }, 100);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      while (drawing) await new Promise((r) => setTimeout(r, 20));
      await router.stop();
    },
    status: () => ({ ...stats, router: router.status() }),
  };
}
