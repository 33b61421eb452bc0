// The compute worker against a stand-in for the oracle (a loopback HTTP server with the blob
// routes and POST /v1/reports): real modules run in the real sandbox, real device keys sign.
// What it checks: the uploaded output is the one the report names and decodes to what the module
// wrote; the report verifies; compute units match a direct metered run; a deterministic failure
// is a result with output null; a corrupt blob, a silent cheater and a malformed payload report
// nothing; a wrong-output cheater's CID differs; the slots hold extra tasks back; hello is a valid
// offer. No assertion depends on timing.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Hex } from 'viem';
import {
  deviceIdHex,
  deviceIdOf,
  devicePublicKey,
  generateDeviceKey,
  reportSchema,
  verifyReport,
  type Report,
  type WorkerContext,
} from '@groundwork/protocol';
import { cidOf } from '@groundwork/protocol';
import { decodeRunOutputs } from '../src/client/encoding.ts';
import { computeWorker } from '../src/plugin/worker.ts';
import { offerSchema, resultBodySchema, type ResultBody, type TaskPayload } from '../src/plugin/wire.ts';
import { runTaskInline } from '../src/sandbox/index.ts';
import { FILES, INFINITE_LOOP, UPPER } from './fixtures/sandbox/wat.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

/** What the stand-in oracle saw, in arrival order. */
type Event = { kind: 'get' | 'put' | 'report'; cid?: string; report?: Report };

class StandIn {
  readonly blobs = new Map<string, Uint8Array>();
  readonly events: Event[] = [];
  server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Serves `bytes` under `cid` (which need not be theirs: that is how a corrupt store is made). */
  put(bytes: Uint8Array, cid = cidOf(bytes)): string {
    this.blobs.set(cid, bytes);
    return cid;
  }

  get reports(): Report[] {
    return this.events.filter((e) => e.kind === 'report').map((e) => e.report!);
  }
  get uploads(): string[] {
    return this.events.filter((e) => e.kind === 'put').map((e) => e.cid!);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const writeHead = (status: number, headers: Record<string, string>) => res.writeHead(status, headers);
    const end = (b: string | Uint8Array) => res.end(b);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const blob = /^\/v1\/compute\/blobs\/([a-z2-7]+)$/.exec(req.url ?? '');
    const json = (status: number, v: unknown) => {
      writeHead(status, { 'content-type': 'application/json' });
      end(JSON.stringify(v));
    };
    if (blob && req.method === 'GET') {
      this.events.push({ kind: 'get', cid: blob[1]! });
      const bytes = this.blobs.get(blob[1]!);
      if (!bytes) return json(404, { error: 'not-found', detail: 'no such blob' });
      writeHead(200, { 'content-type': 'application/octet-stream' });
      return end(bytes);
    }
    if (blob && req.method === 'PUT') {
      if (req.headers['content-type'] !== 'application/octet-stream') return json(415, { error: 'bad-type', detail: 'octet-stream only' });
      if (cidOf(body) !== blob[1]) return json(400, { error: 'cid-mismatch', detail: 'the bytes are not the CID' });
      this.events.push({ kind: 'put', cid: blob[1]! });
      this.blobs.set(blob[1]!, new Uint8Array(body));
      return json(201, { cid: blob[1] });
    }
    if (req.url === '/v1/reports' && req.method === 'POST') {
      const report = reportSchema.parse(JSON.parse(body.toString('utf8')));
      this.events.push({ kind: 'report', report });
      return json(201, { status: 'stored', digest: `0x${'ab'.repeat(32)}` });
    }
    json(404, { error: 'not-found', detail: req.url });
  }
}

const oracle = new StandIn();
const { privateKey, publicKey } = generateDeviceKey();
const device = deviceIdHex(deviceIdOf(devicePublicKey(publicKey)));
const domain = { chainId: 31337, registry: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Hex };
const logs: string[] = [];

function context(): WorkerContext {
  return {
    device,
    domain,
    key: privateKey,
    epoch: () => 7,
    log: (l) => logs.push(l),
    oracleUrl: oracle.url,
    send: () => true,
    // As the agent does it: over HTTP, answered on the same request.
    submit: async (report) => {
      const res = await fetch(`${oracle.url}/v1/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(report),
      });
      const a = (await res.json()) as { digest?: Hex; error?: string; detail?: string };
      return res.ok && a.digest ? { ok: true, digest: a.digest } : { ok: false, reason: a.error ?? 'http', detail: a.detail ?? '' };
    },
  };
}

let jobCounter = 0;
function payload(o: Partial<TaskPayload> & { module: string }): TaskPayload {
  jobCounter++;
  return {
    type: 'task',
    job: `0x${jobCounter.toString(16).padStart(64, '0')}` as Hex,
    task: 0,
    run: 0,
    args: [],
    stdin: null,
    inputs: {},
    memoryBytes: 16 << 20,
    fuel: 10_000_000,
    allow: { clock: false, random: false },
    seed: `0x${'00'.repeat(32)}` as Hex,
    deadline: Date.now() + 60_000,
    ...o,
  };
}

/** The reports posted for `job`, their bodies checked against the wire schema. */
function reportsFor(job: string): (Report & { body: ResultBody })[] {
  return oracle.reports.filter((r) => r.body.job === job).map((r) => ({ ...r, body: resultBodySchema.parse(r.body) }));
}

before(() => oracle.start());
after(() => new Promise<void>((resolve) => oracle.server.close(() => resolve())));

describe('computeWorker', () => {
  test('runs a task: the uploaded output is the reported one, the report verifies, the units match a direct run', async () => {
    const module = oracle.put(FILES);
    const input = enc('stressed');
    const inputCid = oracle.put(input);
    const stdinCid = oracle.put(enc('ignored'));
    const p = payload({ module, inputs: { 'in.txt': inputCid }, stdin: stdinCid, args: ['--x', '1'] });
    await computeWorker({ maxConcurrent: 2 }).onService!(p, context());

    const [report, ...more] = reportsFor(p.job);
    assert.ok(report, `a report was posted (logs: ${logs.join(' | ')})`);
    assert.equal(more.length, 0);
    assert.ok(verifyReport(report, publicKey), 'the report verifies with the device key');
    assert.deepEqual(
      {
        v: report.v,
        chainId: report.chainId,
        registry: report.registry,
        network: report.network,
        type: report.type,
        device: report.device,
        epoch: report.epoch,
      },
      { v: 1, chainId: 31337, registry: domain.registry, network: 'compute', type: 'result', device, epoch: 7 },
    );
    const direct = runTaskInline({
      module: FILES,
      args: ['--x', '1'],
      stdin: enc('ignored'),
      inputs: { 'in.txt': input },
      limits: { memoryBytes: 16 << 20, fuel: 10_000_000 },
    });
    assert.equal(report.body.computeUnits, String(direct.computeUnits));
    assert.equal(report.body.output, direct.outputCid);
    assert.equal(report.body.error, null);
    assert.equal(report.body.exitCode, 0);
    assert.deepEqual([report.body.job, report.body.task, report.body.run, report.body.module], [p.job, 0, 0, module]);

    // Uploaded before the report, under its own CID, and it decodes to what the module wrote.
    const at = oracle.events.findIndex((e) => e.kind === 'put' && e.cid === report.body.output);
    const reportedAt = oracle.events.findIndex((e) => e.report === oracle.reports.find((r) => r.body.job === p.job));
    assert.ok(at >= 0 && at < reportedAt, 'the output was uploaded before the report was submitted');
    const blob = oracle.blobs.get(report.body.output!)!;
    assert.equal(cidOf(blob), report.body.output);
    const decoded = decodeRunOutputs(blob);
    assert.equal(decoded.exitCode, 0);
    assert.equal(text(decoded.outputs.get('out/result.txt')!), 'desserts');
    assert.deepEqual(decoded.stdout, direct.stdout);
  });

  test('a deterministic failure is a result: fuel-exhausted with output null and the fuel charged', async () => {
    const p = payload({ module: oracle.put(INFINITE_LOOP), fuel: 5000 });
    const uploadsBefore = oracle.uploads.length;
    await computeWorker().onService!(p, context());
    const [report] = reportsFor(p.job);
    assert.ok(report, 'reported');
    assert.equal(report.body.error, 'fuel-exhausted');
    assert.equal(report.body.output, null);
    assert.equal(report.body.computeUnits, '5000');
    assert.ok(verifyReport(report, publicKey));
    assert.equal(oracle.uploads.length, uploadsBefore, 'nothing uploaded');
  });

  test('a module blob that does not match its CID: nothing reported, nothing uploaded', async () => {
    const real = cidOf(UPPER);
    const corrupt = new Uint8Array(UPPER);
    corrupt[corrupt.length - 1]! ^= 1;
    oracle.put(corrupt, real);
    const p = payload({ module: real, stdin: oracle.put(enc('abc')) });
    const uploadsBefore = oracle.uploads.length;
    const logged = logs.length;
    await computeWorker().onService!(p, context());
    assert.equal(reportsFor(p.job).length, 0);
    assert.equal(oracle.uploads.length, uploadsBefore);
    assert.match(logs.slice(logged).join('\n'), /not run, fetching its files failed: the module do not match their CID/);
    oracle.blobs.delete(real);
  });

  test("cheat 'wrong-output': a well-formed result under another CID", async () => {
    const module = oracle.put(UPPER);
    const stdin = oracle.put(enc('hello'));
    const honest = payload({ module, stdin });
    const cheat = payload({ module, stdin });
    await computeWorker().onService!(honest, context());
    await computeWorker({ cheat: 'wrong-output' }).onService!(cheat, context());
    const [h] = reportsFor(honest.job);
    const [c] = reportsFor(cheat.job);
    assert.ok(h && c);
    assert.equal(text(decodeRunOutputs(oracle.blobs.get(h.body.output!)!).stdout), 'HELLO');
    assert.notEqual(c.body.output, h.body.output);
    assert.equal(c.body.computeUnits, h.body.computeUnits, 'the same work was done');
    const wrong = oracle.blobs.get(c.body.output!);
    assert.ok(wrong, 'the wrong output was uploaded too');
    assert.equal(cidOf(wrong), c.body.output);
    assert.notEqual(text(decodeRunOutputs(wrong).stdout), 'HELLO');
  });

  test("cheat 'silent' and malformed payloads: nothing fetched, nothing reported", async () => {
    const p = payload({ module: oracle.put(UPPER) });
    const events = oracle.events.length;
    const logged = logs.length;
    await computeWorker({ cheat: 'silent' }).onService!(p, context());
    await computeWorker().onService!({ type: 'task', job: 'nope' }, context());
    await computeWorker().onService!({ type: 'cancel' }, context());
    assert.equal(oracle.events.length, events);
    assert.match(logs.slice(logged).join('\n'), /ignoring a service message of type "task"/);
    assert.match(logs.slice(logged).join('\n'), /ignoring a service message of type "cancel"/);
  });

  test('a passed deadline: not run', async () => {
    const p = payload({ module: oracle.put(UPPER), deadline: Date.now() - 1 });
    const events = oracle.events.length;
    await computeWorker().onService!(p, context());
    assert.equal(oracle.events.length, events);
  });

  test('maxConcurrent 1: the next task starts only after the one before it reported', async () => {
    const module = oracle.put(UPPER);
    const worker = computeWorker({ maxConcurrent: 1 });
    const tasks = ['a', 'b', 'c'].map((s) => payload({ module, stdin: oracle.put(enc(`slot ${s}`)) }));
    const start = oracle.events.length;
    await Promise.all(tasks.map((t) => worker.onService!(t, context())));
    const seen = oracle.events.slice(start);
    const fetched = (t: TaskPayload) => seen.findIndex((e) => e.kind === 'get' && e.cid === t.stdin);
    const reported = (t: TaskPayload) => seen.findIndex((e) => e.kind === 'report' && e.report!.body.job === t.job);
    for (const t of tasks) assert.ok(reported(t) >= 0, 'every task reported');
    assert.ok(fetched(tasks[1]!) > reported(tasks[0]!), 'b waited for a');
    assert.ok(fetched(tasks[2]!) > reported(tasks[1]!), 'c waited for b');
    assert.equal(
      seen.filter((e) => e.kind === 'get' && e.cid === module).length,
      1,
      'the module was fetched once, then came from the cache',
    );
  });

  test('a payload sent twice runs once', async () => {
    const p = payload({ module: oracle.put(UPPER), stdin: oracle.put(enc('twice')) });
    const worker = computeWorker();
    await Promise.all([worker.onService!(p, context()), worker.onService!({ ...p }, context())]);
    assert.equal(reportsFor(p.job).length, 1);
  });

  test('hello: a valid offer with a measured speed', async () => {
    const offer = await computeWorker({ pricePerMCU: '0.25', maxConcurrent: 3, attributes: { region: 'eu' }, memoryBytes: 1 << 30 }).hello!(
      context(),
    );
    const parsed = offerSchema.parse(offer);
    assert.equal(parsed.pricePerMCU, '0.25');
    assert.equal(parsed.maxConcurrent, 3);
    assert.equal(parsed.memoryBytes, 1 << 30);
    assert.deepEqual(parsed.attributes, { region: 'eu' });
    assert.ok(parsed.benchScore > 1e5, `benchScore ${parsed.benchScore} is compute units per second`);
    const defaults = offerSchema.parse(await computeWorker().hello!(context()));
    assert.equal(defaults.pricePerMCU, '0.5');
    assert.ok(defaults.maxConcurrent >= 1 && defaults.maxConcurrent <= 4);
    assert.ok(defaults.memoryBytes >= 65536 && defaults.memoryBytes <= 2 ** 32 && defaults.memoryBytes % 65536 === 0);
    assert.equal(defaults.benchScore, parsed.benchScore, 'measured once per process');
  });

  test('bad options are refused', () => {
    assert.throws(() => computeWorker({ pricePerMCU: '0.1234567' }), /pricePerMCU/);
    assert.throws(() => computeWorker({ maxConcurrent: 0 }), /maxConcurrent/);
    assert.throws(() => computeWorker({ memoryBytes: 100 }), /memoryBytes/);
  });
});
