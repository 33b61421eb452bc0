// The storage network's worker: what runs on the provider's machine. It keeps shards on its disk
// (shard-store.ts), serves them over its own HTTP server (consumers upload and download shards
// directly, as Storj's uplinks talk to storage nodes; the oracle never carries the bytes), and
// answers the oracle's challenges: the challenged leaves read from disk now, their Merkle paths,
// posted as a bundle, and a signed proof report committing to the bundle's hash.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type Report, signWorkerReport, type Worker, type WorkerContext } from '@groundwork/protocol';
import type { Hex } from 'viem';
import { decodeOrderHeader, ORDER_HEADER } from '../orders.ts';
import { bundleHash } from './bundle.ts';
import { ShardStore, ShardStoreError } from './shard-store.ts';
import {
  type DealStatus,
  KIND,
  MAX_BUNDLE_BYTES,
  type Offer,
  offerSchema,
  PROOF_TYPE,
  type ServiceOrder,
  STORED_TYPE,
  servicePayloadSchema,
} from './wire.ts';

export type StorageWorkerOptions = {
  /** Where shards live (default $GROUNDWORK_STORAGE_DIR, else ~/.groundwork/storage, then the device id). */
  dir?: string;
  /** Address the shard server listens on (default 127.0.0.1, port 0: one the system picks). */
  host?: string;
  port?: number;
  /** The URL consumers reach the shard server at, if not http://host:port/ (behind a proxy or NAT). */
  publicUrl?: string;
  /** Bytes offered (default 10 GiB). */
  capacityBytes?: number;
};

export type StorageWorker = Worker & {
  /** The shard server's base URL once it listens. */
  url(): string | null;
  store(): ShardStore | null;
  /** Stops the shard server (the agent's stop does not know about it). */
  close(): Promise<void>;
};

const SHARD_PATH = /^\/shards\/(0x[0-9a-f]{64})\/(\d{1,3})$/;
const RANGE = /^bytes=(\d+)-(\d*)$/;
const PROOF_TIMEOUT_MS = 30_000;
const ORDER_TIMEOUT_MS = 15_000;

export function storageWorker(options: StorageWorkerOptions = {}): StorageWorker {
  const capacity = options.capacityBytes ?? 10 * 2 ** 30;
  if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`capacityBytes must be a whole number, got ${capacity}`);
  let store: ShardStore | null = null;
  let server: Server | null = null;
  let url: string | null = null;
  let ctx: WorkerContext | null = null;

  function storeFor(c: WorkerContext): ShardStore {
    if (!store) {
      const root = options.dir ?? process.env.GROUNDWORK_STORAGE_DIR ?? path.join(os.homedir(), '.groundwork', 'storage');
      store = new ShardStore(options.dir ? root : path.join(root, c.device));
    }
    return store;
  }

  const sign = (c: WorkerContext, type: string, body: Record<string, unknown>): Report => signWorkerReport(c, KIND, type, body);

  async function listen(): Promise<string> {
    if (url) return url;
    const s = createServer((req, res) => {
      handle(req, res).catch((err) => reply(res, 500, { error: 'internal', detail: (err as Error).message }));
    });
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(options.port ?? 0, host, () => resolve());
    });
    s.unref();
    server = s;
    const port = (s.address() as AddressInfo).port;
    url = options.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    return url;
  }

  function reply(res: ServerResponse, status: number, json: unknown): void {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(json));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = SHARD_PATH.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!m || !store || !ctx) return reply(res, 404, { error: 'not-found', detail: `no route ${req.method} ${req.url}` });
    const [deal, shard] = [m[1]!, Number(m[2])];
    try {
      if (req.method === 'PUT') {
        // The hold order and the upload race (one comes over the socket, the other from the
        // consumer): without a hold yet, the oracle's placement says whether the shard is ours.
        if (!(await store.holdOf(deal, shard))) await holdFromOracle(ctx, store, deal, shard);
        const stored = await store.put(deal, shard, req);
        const answer = await ctx.submit(sign(ctx, STORED_TYPE, { deal, shard, root: stored.root })).catch((err: Error) => ({
          ok: false as const,
          reason: 'unreachable',
          detail: err.message,
        }));
        if (!answer.ok) ctx.log(`storage: shard ${shard} of ${deal.slice(0, 10)} stored, but reporting it failed: ${answer.detail}`);
        else ctx.log(`storage: stored shard ${shard} of ${deal.slice(0, 10)} (${stored.bytes} bytes)`);
        return reply(res, 201, { ...stored, reported: answer.ok });
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        const header = req.headers.range;
        const r = header ? RANGE.exec(header) : null;
        if (header && !r)
          return reply(res, 416, { error: 'bad-range', detail: `Range ${JSON.stringify(header)}: only bytes=a-b is served` });
        const range = r ? { start: Number(r[1]), end: r[2] ? Number(r[2]) : Number.MAX_SAFE_INTEGER } : undefined;
        const read = await store.read(deal, shard, range);
        if (req.method === 'GET') {
          // Bytes go out only against an order the oracle took (it reserved the credits).
          const first = range?.start ?? 0;
          const refused = await checkOrder(ctx, req.headers[ORDER_HEADER], deal, shard, first, read.bytes);
          if (refused) {
            read.stream.destroy();
            return reply(res, refused.status, { error: refused.error, detail: refused.detail });
          }
        }
        const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'content-length': read.bytes };
        if (range) headers['content-range'] = `bytes ${range.start}-${range.start + read.bytes - 1}/${read.total}`;
        res.writeHead(range ? 206 : 200, headers);
        if (req.method === 'HEAD') {
          read.stream.destroy();
          return void res.end();
        }
        read.stream.pipe(res);
        return;
      }
      reply(res, 405, { error: 'method-not-allowed', detail: `${req.method} is not served on shards` });
    } catch (err) {
      if (err instanceof ShardStoreError) {
        // Drain what the client sends on, so that it reads the refusal rather than a reset.
        req.resume();
        return reply(res, err.status, { error: err.code, detail: err.message });
      }
      throw err;
    }
  }

  /** Why the order for these bytes is refused, or null: it names them and the oracle took it. */
  async function checkOrder(
    c: WorkerContext,
    header: string | string[] | undefined,
    deal: string,
    shard: number,
    first: number,
    bytes: number,
  ): Promise<{ status: number; error: string; detail: string } | null> {
    if (typeof header !== 'string')
      return { status: 402, error: 'order-required', detail: `a read needs a signed retrieval order in the ${ORDER_HEADER} header` };
    const decoded = decodeOrderHeader(header);
    if (!decoded.ok) return { status: 400, error: 'malformed-order', detail: decoded.detail };
    const o = decoded.order;
    if (o.deal !== deal || o.shard !== shard || o.device !== c.device)
      return { status: 403, error: 'wrong-order', detail: `the order is for shard ${o.shard} of ${o.deal} on ${o.device}` };
    if (first < o.offset || first + bytes > o.offset + o.length)
      return {
        status: 403,
        error: 'wrong-order',
        detail: `the order covers bytes ${o.offset}+${o.length}; ${first}+${bytes} were asked for`,
      };
    const res = await fetch(`${c.oracleUrl.replace(/\/+$/, '')}/v1/${KIND}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(o),
      signal: AbortSignal.timeout(ORDER_TIMEOUT_MS),
    }).catch((err: Error) => err);
    if (res instanceof Error)
      return { status: 503, error: 'oracle-unreachable', detail: `the oracle did not take the order: ${res.message}` };
    if (res.ok) {
      await res.body?.cancel();
      return null;
    }
    const answer = (await res.json().catch(() => ({}))) as { error?: string; detail?: string };
    return { status: res.status, error: answer.error ?? 'order-refused', detail: answer.detail ?? `the oracle answered ${res.status}` };
  }

  async function holdFromOracle(c: WorkerContext, s: ShardStore, deal: string, shard: number): Promise<void> {
    const res = await fetch(`${c.oracleUrl.replace(/\/+$/, '')}/v1/${KIND}/deals/${deal}`, { signal: AbortSignal.timeout(10_000) }).catch(
      () => null,
    );
    if (!res?.ok) return void (await res?.body?.cancel());
    const status = (await res.json()) as DealStatus;
    const placed = status.shards?.[shard];
    if (placed?.device === c.device && (placed.state === 'placed' || placed.state === 'repairing'))
      await s.hold(deal, shard, { root: placed.root as Hex, bytes: status.shardBytes, until: status.end });
  }

  async function prove(order: Extract<ServiceOrder, { type: 'challenge' }>, c: WorkerContext, s: ShardStore): Promise<void> {
    const name = `shard ${order.shard} of ${order.deal.slice(0, 10)}, epoch ${order.epoch}`;
    let bundle: Awaited<ReturnType<ShardStore['prove']>>;
    try {
      bundle = await s.prove(order.deal, order.shard, order.epoch, c.device as Hex, order.leaves);
    } catch (err) {
      c.log(`storage: cannot prove ${name}: ${(err as Error).message}`);
      return;
    }
    const body = JSON.stringify(bundle);
    if (body.length > MAX_BUNDLE_BYTES) return c.log(`storage: the proof of ${name} is ${body.length} bytes, over the limit`);
    try {
      const res = await fetch(`${c.oracleUrl.replace(/\/+$/, '')}/v1/${KIND}/proofs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(Math.max(1, Math.min(order.deadline - Date.now(), PROOF_TIMEOUT_MS))),
      });
      if (!res.ok) return c.log(`storage: the oracle refused the proof of ${name}: ${res.status} ${(await res.text()).slice(0, 200)}`);
      await res.body?.cancel();
      const answer = await c.submit(
        sign(c, PROOF_TYPE, { deal: order.deal, shard: order.shard, epoch: order.epoch, answer: bundleHash(bundle) }),
      );
      if (!answer.ok) c.log(`storage: the oracle refused the proof report of ${name}: ${answer.reason}: ${answer.detail}`);
    } catch (err) {
      c.log(`storage: sending the proof of ${name} failed: ${(err as Error).message}`);
    }
  }

  return {
    async hello(c): Promise<Offer> {
      ctx = c;
      const fresh = store === null;
      const s = storeFor(c);
      // Once per process, before the server takes uploads: what a crash left half-written goes.
      if (fresh) {
        const removed = await s.sweep();
        if (removed) c.log(`storage: removed ${removed} file(s) a crash left half-written`);
      }
      const base = await listen();
      const used = await s.usedBytes();
      return offerSchema.parse({ url: base, capacityBytes: capacity, freeBytes: Math.max(0, capacity - used) });
    },

    async onService(payload, c) {
      ctx = c;
      const parsed = servicePayloadSchema.safeParse(payload);
      if (!parsed.success) {
        const type = typeof payload.type === 'string' ? payload.type : '?';
        c.log(`storage: ignoring a service message of type ${JSON.stringify(type)}: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
        return;
      }
      const order = parsed.data;
      const s = storeFor(c);
      if (order.type === 'hold') await s.hold(order.deal, order.shard, { root: order.root, bytes: order.bytes, until: order.until });
      else if (order.type === 'drop') await s.drop(order.deal, order.shard);
      else await prove(order, c, s);
    },

    url: () => url,
    store: () => store,
    async close() {
      const s = server;
      server = null;
      url = null;
      if (!s) return;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      await closed;
    },
  };
}
