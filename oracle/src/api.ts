// The oracle's public HTTP API: ingest, network status, devices, epochs, artifacts, rewards with
// claim proofs, rejections per device, Prometheus metrics and the OpenAPI document.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Address, Hex } from 'viem';
import { LIMITS, RewardTree, batchSchema, describeZodError, type EpochResult } from '@groundwork/protocol';
import type { Database, Row } from './db/database.ts';
import type { Ingest, Refusal } from './ingest.ts';
import type { OracleMetrics } from './metrics.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    detail: string,
  ) {
    super(detail);
  }
}

export type ApiContext = {
  db: Database;
  ingest: Ingest;
  metrics: OracleMetrics;
  status: () => Promise<Record<string, unknown>>;
  isConnected: (device: string) => boolean;
  /** The root the distributor pays against now: { epoch, root } or null. */
  claimableRoot: () => Promise<{ epoch: number; root: Hex } | null>;
  claimedOnChain: (account: Address) => Promise<bigint>;
};

type Handler = (ctx: ApiContext, req: IncomingMessage, params: Record<string, string>, url: URL) => Promise<Reply>;
type Reply = { status?: number; json?: unknown; body?: string | Uint8Array; type?: string; headers?: Record<string, string> };

const DEVICE = '(0x[0-9a-f]{64})';
export const routes: { method: string; pattern: RegExp; name: string; handler: Handler }[] = [];
function route(method: string, pattern: string, name: string, handler: Handler) {
  routes.push({ method, pattern: new RegExp(`^${pattern}$`), name, handler });
}

const OPENAPI_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'openapi.json');

route('GET', '/v1/status', 'status', async (ctx) => ({ json: await ctx.status() }));
route('GET', '/openapi.json', 'openapi', async () => ({ body: readFileSync(OPENAPI_FILE), type: 'application/json' }));
route('GET', '/metrics', 'metrics', async (ctx) => ({
  body: await ctx.metrics.registry.metrics(),
  type: ctx.metrics.registry.contentType,
}));

route('POST', '/v1/reports', 'report', async (ctx, req) => {
  const result = await ctx.ingest.submit(await readJson(req));
  if (!result.ok) return refusal(result);
  return { status: result.status === 'stored' ? 201 : 200, json: result };
});

route('POST', '/v1/reports/batch', 'batch', async (ctx, req) => {
  const parsed = batchSchema.safeParse(await readJson(req));
  if (!parsed.success) throw new HttpError(400, 'malformed', describeZodError(parsed.error));
  const result = await ctx.ingest.submitBatch(parsed.data.reports);
  if (!result.ok) {
    const first = result.refusals.find((r) => r.reason !== 'batch-refused') ?? result.refusals[0]!;
    return {
      status: first.status,
      json: { error: first.reason, detail: `report ${first.index ?? 0}: ${first.detail}`, refusals: result.refusals },
    };
  }
  const stored = result.results.filter((r) => r.status === 'stored').length;
  return { status: 201, json: { stored, duplicates: result.results.length - stored, results: result.results } };
});

route('GET', '/v1/devices', 'devices', async (ctx, _req, _p, url) => {
  const limit = intParam(url, 'limit', 100, 1, 1000);
  const offset = intParam(url, 'offset', 0, 0, 1e9);
  const owner = url.searchParams.get('owner');
  if (owner !== null && !/^0x[0-9a-fA-F]{40}$/.test(owner))
    throw new HttpError(400, 'bad-query', 'owner must be a 0x-prefixed 20-byte address');
  const rows = owner
    ? await ctx.db.query('select * from devices where owner = $1 order by device limit $2 offset $3', [owner.toLowerCase(), limit, offset])
    : await ctx.db.query('select * from devices order by device limit $1 offset $2', [limit, offset]);
  return { json: { devices: rows.map((r) => deviceJson(ctx, r)) } };
});

route('GET', `/v1/devices/${DEVICE}`, 'device', async (ctx, _req, p) => {
  const rows = await ctx.db.query('select * from devices where device = $1', [p[1]]);
  if (!rows[0]) throw new HttpError(404, 'not-found', `no device ${p[1]}`);
  const events = await ctx.db.query(
    'select block::text as block, kind, data from device_events where device = $1 order by block, log_index',
    [p[1]],
  );
  return { json: { ...deviceJson(ctx, rows[0]), events } };
});

route('GET', `/v1/devices/${DEVICE}/rejections`, 'rejections', async (ctx, _req, p, url) => {
  const epoch = url.searchParams.has('epoch') ? intParam(url, 'epoch', 0, 0, 2 ** 40) : null;
  const device = p[1]!;
  const closed = await ctx.db.query<{ epoch: number }>(
    epoch === null
      ? 'select epoch from epochs where result is not null order by epoch desc limit 10'
      : 'select epoch from epochs where epoch = $1 and result is not null',
    epoch === null ? [] : [epoch],
  );
  const epochs = [];
  for (const row of closed) {
    const result = (await resultFor(ctx, row.epoch))!;
    const rejections = result.networks.flatMap((n) =>
      n.rejections.filter((r) => r.device === device).map((r) => ({ network: n.kind, ...r })),
    );
    const score = result.networks.flatMap((n) => n.scores.filter((s) => s.device === device))[0] ?? null;
    const reward = result.devices.find((d) => d.device === device) ?? null;
    epochs.push({ epoch: row.epoch, score, reward: reward?.total ?? '0', rejections });
  }
  // Refusals for epochs not closed yet come straight from ingest's log.
  const pending = await ctx.db.query(
    'select epoch, network, digest, reason, detail, at::text as at from ingest_rejections where device = $1 and epoch not in (select epoch from epochs) order by id desc limit 100',
    [device],
  );
  return { json: { device, epochs, pending } };
});

route('GET', '/v1/epochs', 'epochs', async (ctx, _req, _p, url) => {
  const limit = intParam(url, 'limit', 50, 1, 1000);
  const rows = await ctx.db.query(
    'select epoch, state, root, total::text as total, artifact_hash, tx_hash from epochs order by epoch desc limit $1',
    [limit],
  );
  return { json: { epochs: rows.map(epochJson) } };
});

route('GET', '/v1/epochs/(\\d{1,12})', 'epoch', async (ctx, _req, p) => {
  const rows = await ctx.db.query('select epoch, state, root, total::text as total, artifact_hash, tx_hash from epochs where epoch = $1', [
    Number(p[1]),
  ]);
  if (!rows[0]) throw new HttpError(404, 'not-found', `epoch ${p[1]} has not been closed`);
  const result = await resultFor(ctx, rows[0].epoch);
  return {
    json: {
      ...epochJson(rows[0]),
      networks:
        result?.networks.map((n) => ({
          kind: n.kind,
          budget: n.budget,
          paid: n.paid,
          undistributed: n.undistributed,
          devices: n.scores.length,
          rejections: n.rejections.length,
        })) ?? [],
      owners: result?.owners ?? [],
    },
  };
});

route('GET', '/v1/epochs/(\\d{1,12})/artifact', 'epoch-artifact', async (ctx, _req, p) => {
  const rows = await ctx.db.query('select hash, body from artifacts where epoch = $1', [Number(p[1])]);
  if (!rows[0]) throw new HttpError(404, 'not-found', `epoch ${p[1]} has no artifact yet`);
  return { body: rows[0].body, type: 'application/json', headers: { 'x-artifact-hash': rows[0].hash } };
});

route('GET', '/v1/artifacts/(0x[0-9a-f]{64})', 'artifact', async (ctx, _req, p) => {
  const rows = await ctx.db.query('select hash, body from artifacts where hash = $1', [p[1]]);
  if (!rows[0]) throw new HttpError(404, 'not-found', `no artifact ${p[1]}`);
  return { body: rows[0].body, type: 'application/json', headers: { 'x-artifact-hash': rows[0].hash } };
});

route('GET', '/v1/rewards/(0x[0-9a-fA-F]{40})', 'rewards', async (ctx, _req, p) => {
  const account = p[1]!.toLowerCase() as Address;
  const claimable = await ctx.claimableRoot();
  const latest = await ctx.db.query<{ epoch: number }>("select epoch from epochs where state = 'posted' order by epoch desc limit 1");
  const latestCumulative = latest[0] ? cumulativeOf((await resultFor(ctx, latest[0].epoch))!, account) : 0n;
  const claimed = await ctx.claimedOnChain(account);
  let claim = null;
  if (claimable) {
    const tree = await treeFor(ctx, claimable.epoch);
    const found = tree && tree.root === claimable.root ? tree.proofFor(account) : undefined;
    if (found)
      claim = {
        epoch: claimable.epoch,
        root: claimable.root,
        cumulativeAmount: found.amount.toString(),
        proof: found.proof,
        claimable: (found.amount > claimed ? found.amount - claimed : 0n).toString(),
      };
  }
  return {
    json: {
      account,
      latestEpoch: latest[0]?.epoch ?? null,
      latestCumulative: latestCumulative.toString(),
      claimed: claimed.toString(),
      claim,
    },
  };
});

/**
 * Parsed results and reward trees of recent epochs, per oracle. A stored result never changes
 * (the closer never recomputes one), so each is read and parsed once, not on every request.
 */
const epochCaches = new WeakMap<Database, { results: Map<number, EpochResult | null>; trees: Map<number, RewardTree | null> }>();
const CACHED_EPOCHS = 8;

function cacheOf(ctx: ApiContext) {
  let cache = epochCaches.get(ctx.db);
  if (!cache) {
    cache = { results: new Map(), trees: new Map() };
    epochCaches.set(ctx.db, cache);
  }
  return cache;
}

function remember<T>(map: Map<number, T>, epoch: number, value: T): T {
  map.set(epoch, value);
  if (map.size > CACHED_EPOCHS) map.delete(map.keys().next().value!);
  return value;
}

async function resultFor(ctx: ApiContext, epoch: number): Promise<EpochResult | null> {
  const { results } = cacheOf(ctx);
  if (results.has(epoch)) return results.get(epoch)!;
  const rows = await ctx.db.query<{ result: string | null }>('select result from epochs where epoch = $1', [epoch]);
  const result = rows[0]?.result ? (JSON.parse(rows[0].result) as EpochResult) : null;
  // Only a stored result is final; a missing one may appear later.
  return result ? remember(results, epoch, result) : null;
}

async function treeFor(ctx: ApiContext, epoch: number): Promise<RewardTree | null> {
  const { trees } = cacheOf(ctx);
  if (trees.has(epoch)) return trees.get(epoch)!;
  const result = await resultFor(ctx, epoch);
  if (!result) return null;
  const leaves = result.cumulative.map((c) => ({ account: c.account, amount: BigInt(c.amount) }));
  return remember(trees, epoch, leaves.length ? RewardTree.of(leaves) : null);
}

function cumulativeOf(result: EpochResult, account: string): bigint {
  const c = result.cumulative.find((x) => x.account === account);
  return c ? BigInt(c.amount) : 0n;
}

function deviceJson(ctx: ApiContext, r: Row) {
  return {
    device: r.device,
    network: r.network,
    owner: r.owner,
    keyX: r.key_x,
    keyY: r.key_y,
    stake: r.stake,
    unstaking: r.unstaking,
    slashed: r.slashed,
    location: r.location,
    registeredAt: Number(r.registered_at),
    connected: ctx.isConnected(r.device),
  };
}

function epochJson(r: Row) {
  return { epoch: r.epoch, state: r.state, root: r.root, total: r.total, artifactHash: r.artifact_hash, txHash: r.tx_hash };
}

function refusal(r: Refusal): Reply {
  return { status: r.status, json: { error: r.reason, detail: r.detail, ...(r.digest ? { digest: r.digest } : {}) } };
}

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const v = url.searchParams.get(name);
  if (v === null) return fallback;
  if (!/^\d{1,15}$/.test(v) || Number(v) < min || Number(v) > max)
    throw new HttpError(400, 'bad-query', `${name} must be an integer in ${min}..${max}`);
  return Number(v);
}

/** Reads a JSON body of at most LIMITS.maxRequestBytes. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'unsupported-media-type', 'send Content-Type: application/json');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > LIMITS.maxRequestBytes) throw new HttpError(413, 'too-large', `bodies may be at most ${LIMITS.maxRequestBytes} bytes`);
  // Not `for await`: leaving that loop early destroys the request and with it the keep-alive
  // socket, so the client's next request on it would fail. Past the limit, the rest is drained.
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= LIMITS.maxRequestBytes) return void chunks.push(chunk);
      done();
      req.resume();
      reject(new HttpError(413, 'too-large', `bodies may be at most ${LIMITS.maxRequestBytes} bytes`));
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      done();
      reject(new HttpError(400, 'malformed', `the body could not be read: ${err.message}`));
    };
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'malformed', `body is not JSON: ${(err as Error).message}`);
  }
}

/** The request handler: routes, turns every error into a JSON reply, never throws. */
export function createHandler(ctx: ApiContext) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    let name = 'unmatched';
    let reply: Reply;
    try {
      const url = new URL(req.url ?? '/', 'http://oracle');
      const matches = routes.filter((r) => r.pattern.test(url.pathname));
      const match = matches.find((r) => r.method === req.method);
      if (!match) {
        throw matches.length
          ? new HttpError(405, 'method-not-allowed', `${url.pathname} takes ${matches.map((m) => m.method).join(', ')}`)
          : new HttpError(404, 'not-found', `no route ${url.pathname} (see /openapi.json)`);
      }
      name = match.name;
      reply = await match.handler(ctx, req, match.pattern.exec(url.pathname)! as unknown as Record<string, string>, url);
    } catch (err) {
      if (err instanceof HttpError) reply = { status: err.status, json: { error: err.reason, detail: err.message } };
      else reply = { status: 500, json: { error: 'internal', detail: (err as Error).message } };
    }
    const status = reply.status ?? 200;
    ctx.metrics.httpRequests.inc({ route: name, status: String(status) });
    if (status >= 400 && req.readableEnded === false) req.resume(); // drain what we did not read
    const body =
      reply.json !== undefined ? JSON.stringify(reply.json, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) : (reply.body ?? '');
    res.writeHead(status, {
      'content-type': reply.json !== undefined ? 'application/json' : (reply.type ?? 'text/plain'),
      ...(reply.headers ?? {}),
    });
    res.end(body);
  };
}

export type { Hex };
