// The oracle's public HTTP API: ingest, network status, devices, epochs, artifacts, rewards with
// claim proofs, rejections per device, Prometheus metrics and the OpenAPI document.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Address, Hex } from 'viem';
import {
  LIMITS,
  type NetworkPlugins,
  type NetworkService,
  type Rejection,
  ServiceError,
  batchSchema,
  describeZodError,
  readArtifact,
} from '@groundwork/protocol';
import type { Database, Row } from './db/database.ts';
import { type EpochStore, findLeaf, leafAccount } from './epochs.ts';
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
  epochs: EpochStore;
  /** The plug-ins of the deployment's networks (to read their artifacts). */
  plugins: NetworkPlugins;
  ingest: Ingest;
  metrics: OracleMetrics;
  status: () => Promise<Record<string, unknown>>;
  isConnected: (device: string) => boolean;
  /** The root the distributor pays against now: { epoch, root } or null. */
  claimableRoot: () => Promise<{ epoch: number; root: Hex } | null>;
  claimedOnChain: (account: Address) => Promise<bigint>;
  /** The networks' services, by kind: their routes answer under `/v1/<kind>/`. */
  services?: Readonly<Record<string, NetworkService>>;
};

type Handler = (ctx: ApiContext, req: IncomingMessage, params: Record<string, string>, url: URL) => Promise<Reply>;
type Reply = {
  status?: number;
  json?: unknown;
  body?: string | Uint8Array;
  /** A body too large to hold: streamed to the client chunk by chunk. */
  stream?: () => AsyncIterable<Uint8Array>;
  type?: string;
  headers?: Record<string, string>;
};

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
  const device = p[1]! as Hex;
  const closed = await ctx.epochs.withResults(10, epoch ?? undefined);
  const epochs = [];
  for (const e of closed) epochs.push({ epoch: e, ...(await deviceInEpoch(ctx, e, device)) });
  // Refusals for epochs not closed yet come straight from ingest's log.
  const pending = await ctx.db.query(
    'select epoch, network, digest, reason, detail, at::text as at from ingest_rejections where device = $1 and epoch not in (select epoch from epochs) order by id desc limit 100',
    [device],
  );
  return { json: { device, epochs, pending } };
});

route('GET', '/v1/epochs', 'epochs', async (ctx, _req, _p, url) => {
  const limit = intParam(url, 'limit', 50, 1, 1000);
  return { json: { epochs: (await ctx.epochs.list(limit)).map(epochJson) } };
});

route('GET', '/v1/epochs/(\\d{1,12})', 'epoch', async (ctx, _req, p) => {
  const row = await ctx.epochs.row(Number(p[1]));
  if (!row) throw new HttpError(404, 'not-found', `epoch ${p[1]} has not been closed`);
  const result = await ctx.epochs.result(row.epoch);
  const owners: { account: Address; amount: string }[] = [];
  if (result) {
    const { leaves } = result;
    for (let l = 0; l < leaves.amounts.length; l++)
      if (leaves.earned[l]! > 0n) owners.push({ account: leafAccount(leaves, l), amount: leaves.earned[l]!.toString() });
  }
  return {
    json: {
      ...epochJson(row),
      networks:
        result?.summary.networks.map((n) => ({
          kind: n.kind,
          budget: n.budget,
          paid: n.paid,
          undistributed: n.undistributed,
          devices: n.devices,
          rejections: n.rejections,
        })) ?? [],
      owners,
    },
  };
});

route('GET', '/v1/epochs/(\\d{1,12})/artifact', 'epoch-artifact', async (ctx, _req, p) => {
  const artifact = await ctx.epochs.artifact({ epoch: Number(p[1]) });
  if (!artifact) throw new HttpError(404, 'not-found', `epoch ${p[1]} has no artifact yet`);
  return artifactReply(artifact);
});

route('GET', '/v1/artifacts/(0x[0-9a-f]{64})', 'artifact', async (ctx, _req, p) => {
  const artifact = await ctx.epochs.artifact({ hash: p[1] as Hex });
  if (!artifact) throw new HttpError(404, 'not-found', `no artifact ${p[1]}`);
  return artifactReply(artifact);
});

function artifactReply(a: { hash: Hex; size: number | null; stream: () => AsyncIterable<Uint8Array> }): Reply {
  const headers: Record<string, string> = { 'x-artifact-hash': a.hash };
  if (a.size !== null) headers['content-length'] = String(a.size);
  return { stream: a.stream, type: 'application/json', headers };
}

route('GET', '/v1/rewards/(0x[0-9a-fA-F]{40})', 'rewards', async (ctx, _req, p) => {
  const account = p[1]!.toLowerCase() as Address;
  const claimable = await ctx.claimableRoot();
  // The chain can be ahead of the database: a root is recorded as posted only once the closer has
  // seen its receipt (viem polls for it every few seconds), and on the devnet its challenge window
  // can end before that. What is claimable on chain has been earned, so "earned" is never behind it.
  const posted = await ctx.epochs.latestPosted();
  const latest = claimable && (posted === null || claimable.epoch > posted) ? claimable.epoch : posted;
  let latestCumulative = 0n;
  if (latest !== null) {
    const r = await ctx.epochs.result(latest);
    const l = r ? findLeaf(r.leaves, account) : -1;
    if (l >= 0) latestCumulative = r!.leaves.amounts[l]!;
  }
  const claimed = await ctx.claimedOnChain(account);
  let claim = null;
  if (claimable) {
    const tree = await ctx.epochs.tree(claimable.epoch);
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
      latestEpoch: latest,
      latestCumulative: latestCumulative.toString(),
      claimed: claimed.toString(),
      claim,
    },
  };
});

// Slash orders (slashing.ts): each finding's order with where it stands, newest epoch first.
// `state` is what the keeper last read from the chain: found → signed → proposed → executed,
// skipped (no stake left) or vetoed; `error` is the last failure proposing or executing it.
const SLASH_ORDER_STATE = /^(found|signed|proposed|executed|skipped|vetoed)$/;
route('GET', '/v1/slash-orders', 'slash-orders', async (ctx, _req, _p, url) => {
  const limit = intParam(url, 'limit', 100, 1, 1000);
  const epoch = url.searchParams.has('epoch') ? intParam(url, 'epoch', 0, 0, 2 ** 40) : null;
  const state = url.searchParams.get('state');
  if (state !== null && !SLASH_ORDER_STATE.test(state))
    throw new HttpError(400, 'bad-query', 'state must be one of found, signed, proposed, executed, skipped, vetoed');
  const where: string[] = [];
  const params: unknown[] = [];
  if (epoch !== null) where.push(`epoch = $${params.push(epoch)}`);
  if (state !== null) where.push(`state = $${params.push(state)}`);
  const rows = await ctx.db.query(
    `select order_id, epoch, network, device, kind, amount::text as amount, evidence_hash, artifact_hash, state,
            executable_at::text as executable_at, propose_tx, execute_tx, last_error
       from slash_orders ${where.length ? `where ${where.join(' and ')}` : ''}
      order by epoch desc, order_id limit $${params.push(limit)}`,
    params,
  );
  return {
    json: {
      orders: rows.map((r) => ({
        orderId: r.order_id,
        epoch: r.epoch,
        network: r.network,
        device: r.device,
        deviceId: BigInt(r.device as string).toString(),
        kind: r.kind,
        amount: r.amount,
        evidenceHash: r.evidence_hash,
        artifactHash: r.artifact_hash,
        state: r.state,
        executableAt: r.executable_at === null ? null : Number(r.executable_at),
        proposeTx: r.propose_tx,
        executeTx: r.execute_tx,
        error: r.last_error,
      })),
    },
  };
});

type DeviceEpoch = {
  score: { device: Hex; score: string; detail: Record<string, number | string> } | null;
  reward: string;
  rejections: (Rejection & { network: string })[];
};

/** A device's score, reward and rejections in one epoch, from the artifact (streamed; only rows naming it are parsed). Cached per oracle. */
const deviceViews = new WeakMap<EpochStore, Map<string, DeviceEpoch>>();

export async function deviceInEpoch(ctx: Pick<ApiContext, 'epochs' | 'plugins'>, epoch: number, device: Hex): Promise<DeviceEpoch> {
  let cache = deviceViews.get(ctx.epochs);
  if (!cache) {
    cache = new Map();
    deviceViews.set(ctx.epochs, cache);
  }
  const key = `${epoch}:${device}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const artifact = await ctx.epochs.artifact({ epoch });
  const view: DeviceEpoch = { score: null, reward: '0', rejections: [] };
  if (artifact) {
    const rejections: { k: number; r: Rejection }[] = [];
    const read = await readArtifact(artifact.stream(), ctx.plugins, {
      skipInputRows: true,
      resultFilter: device,
      resultRows: (pattern, path, row) => {
        if (pattern === 'result.networks.*.scores' && (row as { device: Hex }).device === device)
          view.score ??= row as DeviceEpoch['score'];
        else if (pattern === 'result.networks.*.rejections' && (row as Rejection).device === device)
          rejections.push({ k: path[2] as number, r: row as Rejection });
        else if (pattern === 'result.devices' && (row as { device: Hex }).device === device) view.reward = (row as { total: string }).total;
      },
    });
    view.rejections = rejections.map(({ k, r }) => ({ network: read.result.networks[k]?.kind ?? '?', ...r }));
  }
  cache.set(key, view);
  if (cache.size > 256) cache.delete(cache.keys().next().value!);
  return view;
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
  const body = await readBody(req, LIMITS.maxRequestBytes);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'malformed', `body is not JSON: ${(err as Error).message}`);
  }
}

/** Reads a body of at most `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, 'too-large', `bodies may be at most ${limit} bytes`);
  // Not `for await`: leaving that loop early destroys the request and with it the keep-alive
  // socket, so the client's next request on it would fail. Past the limit, the rest is drained.
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      done();
      req.resume();
      reject(new HttpError(413, 'too-large', `bodies may be at most ${limit} bytes`));
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
  return body;
}

/** A route of a network's service (`/v1/<network>/…`), or null when no service has the path. */
async function serviceReply(ctx: ApiContext, req: IncomingMessage, url: URL): Promise<Reply | null> {
  const m = /^\/v1\/([a-z][a-z0-9-]{0,31})\/(.*)$/.exec(url.pathname);
  const service = m && ctx.services?.[m[1]!];
  if (!m || !service) return null;
  const rest = m[2]!;
  const matching = service.routes.filter((r) => new RegExp(`^${r.path}$`).test(rest));
  const route = matching.find((r) => r.method === req.method);
  if (!route) {
    if (!matching.length) return null;
    throw new HttpError(405, 'method-not-allowed', `${url.pathname} takes ${matching.map((r) => r.method).join(', ')}`);
  }
  const params = new RegExp(`^${route.path}$`).exec(rest)!.slice(1);
  const body =
    req.method === 'GET' || req.method === 'DELETE' ? new Uint8Array() : await readBody(req, route.maxBodyBytes ?? LIMITS.maxRequestBytes);
  try {
    const out = await route.handle({ params, query: url.searchParams, body });
    return { status: out.status, json: out.json, body: out.body, type: out.type };
  } catch (err) {
    if (err instanceof ServiceError) throw new HttpError(err.status, err.reason, err.message);
    throw err;
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
      const fromService = match ? null : await serviceReply(ctx, req, url);
      if (fromService) {
        name = `service:${url.pathname.split('/')[2]}`;
        reply = fromService;
      } else if (!match) {
        throw matches.length
          ? new HttpError(405, 'method-not-allowed', `${url.pathname} takes ${matches.map((m) => m.method).join(', ')}`)
          : new HttpError(404, 'not-found', `no route ${url.pathname} (see /openapi.json)`);
      } else {
        name = match.name;
        reply = await match.handler(ctx, req, match.pattern.exec(url.pathname)! as unknown as Record<string, string>, url);
      }
    } catch (err) {
      if (err instanceof HttpError) reply = { status: err.status, json: { error: err.reason, detail: err.message } };
      else reply = { status: 500, json: { error: 'internal', detail: (err as Error).message } };
    }
    const status = reply.status ?? 200;
    ctx.metrics.httpRequests.inc({ route: name, status: String(status) });
    if (status >= 400 && req.readableEnded === false) req.resume(); // drain what we did not read
    if (reply.stream) {
      res.writeHead(status, { 'content-type': reply.type ?? 'application/octet-stream', ...(reply.headers ?? {}) });
      // A failure halfway cuts the body short: the client sees fewer bytes than content-length.
      await pipeline(Readable.from(reply.stream()), res).catch(() => res.destroy());
      return;
    }
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
