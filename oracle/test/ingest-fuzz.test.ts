// Bad input at ingest: over 10,000 seeded-random bad requests at POST /v1/reports and
// /v1/reports/batch, and a few hundred bad WebSocket messages on /v1/connect, against a running
// testnet whose honest agents keep working meanwhile.
//
// Every reply must be a 4xx with { error, detail }; nothing the fuzz sent may reach the `reports`
// table; the per-(device, epoch) cap on `ingest_rejections` must hold; the oracle must keep
// answering and keep acking the honest agents.
//
//   FUZZ_SEED=123 FUZZ_REQUESTS=20000 node --import tsx --test oracle/test/ingest-fuzz.test.ts
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { Agent, request } from 'node:http';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import type { Hex } from 'viem';
import {
  LIMITS,
  P256_N,
  generateDeviceKey,
  reportDigest,
  reportSchema,
  seededUnit,
  signReport,
  signSocketAuth,
  type Report,
  type UnsignedReport,
} from '@groundwork/protocol';
import { startTestnet, type Testnet } from '@groundwork/sim';
import { MAX_REJECTIONS_PER_DEVICE_EPOCH } from '../src/ingest.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20240607);
const HTTP_REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_500);
const IN_FLIGHT = 32;

/** Fuzz-case picking on the shared seeded generator, so a seed reproduces its cases. */
function prng(seed: number) {
  const next = seededUnit(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const hex = (bytes: number) => Array.from({ length: bytes * 2 }, () => '0123456789abcdef'[int(0, 15)]).join('');
  return { next, int, pick, hex };
}
type Rng = ReturnType<typeof prng>;

type Case = {
  kind: string;
  path: '/v1/reports' | '/v1/reports/batch';
  body: string | Buffer;
  contentType?: string | null;
  /** Send without Content-Length (chunked). */
  chunked?: boolean;
  /** Statuses this case may get; all are 4xx. */
  expect: readonly number[];
  /**
   * Epochs of the good reports a batch carries. Under load such a batch can land after its
   * epoch's cutoff; its first refusal is then the good report's 409 epoch-closed, which is right.
   */
  goodEpochs?: readonly number[];
};

type Reply = { status: number; type: string; text: string };

let net: Testnet;
let domain: { chainId: number; registry: Hex };
let honest: { device: Hex; key: KeyObject }[];
/** Registered, but no agent runs for it: the WebSocket part authenticates as this device. */
let spare: { device: Hex; key: KeyObject };
let strangers: KeyObject[];
let closedReplays: Report[];
/** Digests of every structurally valid report the fuzz sent (none may be stored). */
const fuzzDigests = new Set<string>();

before(async () => {
  net = await startTestnet({ devices: 3, epochSeconds: 6, behaviour: (i) => (i === 2 ? 'offline' : 'honest') });
  domain = { chainId: net.deployment.chainId, registry: net.deployment.addresses.registry };
  honest = net.providers.filter((p) => p.behaviour === 'honest').map((p) => ({ device: p.device, key: p.key }));
  spare = { device: net.providers[2]!.device, key: net.providers[2]!.key };
  strangers = Array.from({ length: 8 }, () => generateDeviceKey().privateKey);
  // Wait for an epoch with honest reports to close, so there is something to replay.
  // (The first epoch may close before the agents connected, with nothing in it.)
  for (let epoch = net.clock.epochAtMs(Date.now()); ; epoch++) {
    await net.waitForEpoch(epoch, 60_000);
    const rows = await net.oracle!.db.query<{ report: string }>('select report from reports where epoch <= $1 order by digest', [epoch]);
    closedReplays = rows.map((r) => JSON.parse(r.report) as Report);
    if (closedReplays.length) break;
    assert.ok(epoch < 20, 'the honest agents had reports accepted before the fuzz');
  }
});

after(async () => {
  await net?.stop();
});

// ---------------------------------------------------------------------------------------------
// Case generation

const currentEpoch = () => net.clock.epochAtMs(Date.now());
let fuzzStartEpoch = 0;

function unsigned(rng: Rng, who: { device: Hex }, epoch = currentEpoch()): UnsignedReport {
  return { v: 1, ...domain, network: 'uptime', type: 'uptime.answer', device: who.device, epoch, body: { nonce: `0x${rng.hex(32)}` } };
}

/** Notes a report the fuzz sends: if it could parse, its digest must never be stored. */
function track<T>(report: T): T {
  if (reportSchema.safeParse(report).success) {
    try {
      fuzzDigests.add(reportDigest(report as Report));
    } catch {
      // a body with no canonical encoding is refused before it could be stored
    }
  }
  return report;
}

/** A report that ingest would accept on its own (fresh nonce, registered device, current epoch). */
function goodFor(rng: Rng, who: { device: Hex; key: KeyObject }): Report {
  return track(signReport(unsigned(rng, who), who.key));
}

const flipS = (sig: Hex): Hex => `${sig.slice(0, 66)}${(P256_N - BigInt(`0x${sig.slice(66)}`)).toString(16).padStart(64, '0')}` as Hex;

const WRONG_VALUES: Record<string, readonly unknown[]> = {
  v: [2, 0, '1', null, true, 1.5, [], {}],
  chainId: ['31337', -1, 0, 1.5, null, 2 ** 53, [], {}, true],
  registry: [123, null, '0x123', 'registry', '', `0x${'g'.repeat(40)}`, [], {}],
  network: [1, null, '', 'UPTIME', 'a'.repeat(40), '-uptime', 'up time', [], {}],
  type: [5, null, '', 'Uptime.Answer', 'a'.repeat(80), '.answer', [], {}],
  device: [1, null, '', `0x${'A'.repeat(64)}`, `0x${'0'.repeat(63)}`, `0x${'0'.repeat(65)}`, '0'.repeat(66), [], {}],
  epoch: [-1, 1.5, '3', null, 2 ** 40 + 1, 1e300, [], {}, true],
  body: [null, 'x', 5, [], true],
  sig: [null, 1, '', '0x', `0x${'A'.repeat(128)}`, `0x${'0'.repeat(127)}`, `0x${'0'.repeat(130)}`, 'z'.repeat(130), [], {}],
};
const FIELDS = Object.keys(WRONG_VALUES);

/** One report that ingest must refuse, with the statuses it may get. */
function badReport(rng: Rng): { kind: string; report: unknown; expect: readonly number[] } {
  const who = rng.pick(honest);
  const epoch = currentEpoch();
  const k = rng.int(0, 17);
  switch (k) {
    case 0: {
      // a wrong type or value in one field, or a missing field
      const field = rng.pick(FIELDS);
      const r: Record<string, unknown> = { ...goodFor(rng, who) };
      if (rng.next() < 0.15) delete r[field];
      else r[field] = rng.pick(WRONG_VALUES[field]!);
      return { kind: `wrong-${field}`, report: track(r), expect: [400] };
    }
    case 1: {
      // an unknown top-level key, signed over as a device would
      const extra = rng.pick(['extra', 'Sig', '__proto__', 'constructor', 'digest', 'ts']);
      const r = signReport({ ...unsigned(rng, who), [extra]: rng.pick([1, 'x', null, {}]) } as UnsignedReport, who.key);
      return { kind: 'extra-key', report: track(r), expect: [400] };
    }
    case 2: {
      // an unknown key in the body, a body that misses its field, bad hex in it
      const body = rng.pick<Record<string, unknown>>([
        { nonce: `0x${rng.hex(32)}`, extra: 1 },
        {},
        { nonce: `0x${rng.hex(32).toUpperCase()}` },
        { nonce: `0x${rng.hex(31)}` },
        { nonce: rng.hex(32) },
        { nonce: 7 },
        { Nonce: `0x${rng.hex(32)}` },
      ]);
      return { kind: 'bad-body', report: track(signReport({ ...unsigned(rng, who), body }, who.key)), expect: [400] };
    }
    case 3: {
      // bad hex in the hex fields
      const r: Record<string, unknown> = { ...goodFor(rng, who) };
      const field = rng.pick(['device', 'sig', 'registry']);
      const value = String(r[field]);
      r[field] = rng.pick([
        value.toUpperCase().replace('0X', '0x'),
        value.slice(0, -1),
        `${value}0`,
        value.replace(/[0-9a-f]$/, 'g'),
        value.slice(2),
      ]);
      if (field === 'registry' && /^0x[0-9a-fA-F]{40}$/.test(String(r[field]))) r[field] = `${r[field]}0`;
      return { kind: `bad-hex-${field}`, report: track(r), expect: [400] };
    }
    case 4: {
      const wrong = rng.next() < 0.5 ? { chainId: rng.pick([1, 31338, 8453, 2 ** 31]) } : { registry: `0x${rng.hex(20)}` as Hex };
      return { kind: 'wrong-domain', report: track(signReport({ ...unsigned(rng, who), ...wrong }, who.key)), expect: [403] };
    }
    case 5:
      return {
        kind: 'unknown-network',
        report: track(signReport({ ...unsigned(rng, who), network: rng.pick(['storage', 'wifi', 'compute', 'uptime2']) }, who.key)),
        expect: [400],
      };
    case 6:
      return {
        kind: 'unknown-type',
        report: track(
          signReport({ ...unsigned(rng, who), type: rng.pick(['uptime.ping', 'uptime', 'answer', 'uptime.answer2']) }, who.key),
        ),
        expect: [400],
      };
    case 7: {
      const key = rng.pick(strangers);
      const device = (rng.next() < 0.5 ? `0x${rng.hex(32)}` : `0x${'0'.repeat(64)}`) as Hex;
      return { kind: 'unregistered-device', report: track(signReport(unsigned(rng, { device }), key)), expect: [403] };
    }
    case 8:
      return { kind: 'random-key', report: track(signReport(unsigned(rng, who), rng.pick(strangers))), expect: [401] };
    case 9: {
      const other = rng.pick(honest.concat(spare).filter((d) => d.device !== who.device));
      return { kind: 'other-device-key', report: track(signReport(unsigned(rng, who), other.key)), expect: [401] };
    }
    case 10: {
      const r = signReport(unsigned(rng, who), who.key);
      return { kind: 'high-s', report: track({ ...r, sig: flipS(r.sig) }), expect: [401] };
    }
    case 11: {
      // +2 at least: the epoch must still be in the future when the request lands
      const future = rng.pick([epoch + 2, epoch + rng.int(3, 1000), 2 ** 31 - 1, 2 ** 31, 2 ** 32 + rng.int(0, 9), 2 ** 40]);
      return { kind: 'future-epoch', report: track(signReport(unsigned(rng, who, future), who.key)), expect: [409] };
    }
    case 12: {
      const past = rng.int(0, Math.max(0, epoch - 2));
      return { kind: 'past-epoch', report: track(signReport(unsigned(rng, who, past), who.key)), expect: [409] };
    }
    case 13:
      // byte for byte a report that was accepted, in an epoch that has closed
      return { kind: 'replay-closed', report: rng.pick(closedReplays), expect: [409] };
    case 14: {
      const r = signReport(
        {
          ...unsigned(rng, who),
          body: { nonce: `0x${rng.hex(32)}`, pad: 'x'.repeat(rng.int(LIMITS.maxReportBodyBytes, 3 * LIMITS.maxReportBodyBytes)) },
        },
        who.key,
      );
      return { kind: 'body-over-4k', report: track(r), expect: [413] };
    }
    case 15: {
      // a body with no canonical encoding: a float, a huge number, nesting too deep to encode
      // (if the nesting does encode, it is far over 4 KiB: 413)
      const body = rng.pick<unknown>([{ nonce: 1.5 }, { nonce: 1e300 }, { nonce: 2 ** 60 }, deep(rng.int(20_000, 60_000))]);
      return { kind: 'uncanonical-body', report: track({ ...goodFor(rng, who), body }), expect: [400, 413] };
    }
    case 16: {
      // a valid report with the signature of the same fields under another epoch or nonce
      const a = signReport(unsigned(rng, who), who.key);
      const b = { ...a, body: { nonce: `0x${rng.hex(32)}` } };
      return { kind: 'signature-of-other-report', report: track(b), expect: [401] };
    }
    default: {
      const r = rng.pick<unknown>([null, 0, 'report', [], [goodFor(rng, who)], true, {}]);
      return { kind: 'not-a-report', report: r, expect: [400] };
    }
  }
}

const DEEP = new WeakMap<object, number>();

/** {"a":{"a":...{"nonce":1}...}}, `depth` levels deep. */
function deep(depth: number): unknown {
  let v: Record<string, unknown> = { nonce: 1 };
  for (let i = 0; i < depth; i++) v = { a: v };
  DEEP.set(v, depth);
  return v;
}

/** JSON of `value`; deep() values are written out by hand (JSON.stringify may run out of stack on them). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && DEEP.has(v) ? `__DEEP_${DEEP.get(v)}__` : v)).replace(
    /"__DEEP_(\d+)__"/g,
    (_m, d: string) => `${'{"a":'.repeat(Number(d))}{"nonce":1}${'}'.repeat(Number(d))}`,
  );
}

const MALFORMED = [
  '',
  ' ',
  '{',
  '}',
  '[',
  'nul',
  'undefined',
  "{'v':1}",
  '{"v":1,}',
  '{"v":1',
  '0x',
  'NaN',
  '{"a":NaN}',
  '\u0000',
  '\ufeff{}',
  '{"v":1}{"v":1}',
  '[1,]',
  '"\\x"',
  '{"v":01}',
];

function makeCase(i: number): Case {
  const rng = prng(SEED ^ Math.imul(i + 1, 0x9e3779b1));
  const who = rng.pick(honest);
  const single = (kind: string, body: string | Buffer, expect: readonly number[], extra: Partial<Case> = {}): Case => ({
    kind,
    path: '/v1/reports',
    body,
    expect,
    ...extra,
  });
  const batch = (kind: string, body: string | Buffer, expect: readonly number[], extra: Partial<Case> = {}): Case => ({
    kind,
    path: '/v1/reports/batch',
    body,
    expect,
    ...extra,
  });
  const r = rng.next();
  if (r < 0.36) {
    const bad = badReport(rng);
    return single(bad.kind, toJson(bad.report), bad.expect);
  }
  if (r < 0.5) {
    // batches: bad reports only, or good and bad mixed (none may be stored)
    const n = rng.int(0, 12);
    const reports: unknown[] = [];
    const expect = new Set<number>();
    const goodEpochs = new Set<number>();
    for (let j = 0; j < n; j++) {
      if (rng.next() < 0.5) {
        const good = goodFor(rng, rng.pick(honest));
        goodEpochs.add(good.epoch);
        reports.push(good);
      } else {
        const bad = badReport(rng);
        for (const s of bad.expect) expect.add(s);
        reports.push(bad.report);
      }
    }
    // at least one bad report, at a random place
    const bad = badReport(rng);
    for (const s of bad.expect) expect.add(s);
    reports.splice(rng.int(0, reports.length), 0, bad.report);
    return batch(`batch-mixed-${bad.kind}`, toJson({ reports }), [...expect], { goodEpochs: [...goodEpochs] });
  }
  if (r < 0.6) {
    // malformed JSON, and valid JSON that is no report
    const text = rng.next() < 0.6 ? rng.pick(MALFORMED) : Buffer.from(Array.from({ length: rng.int(1, 300) }, () => rng.int(0, 255)));
    return rng.next() < 0.5 ? single('malformed-json', text, [400]) : batch('malformed-json', text, [400]);
  }
  if (r < 0.7) {
    // a valid report (or batch of them) cut at a random point
    const json =
      rng.next() < 0.6
        ? JSON.stringify(goodFor(rng, who))
        : JSON.stringify({ reports: Array.from({ length: rng.int(1, 5) }, () => goodFor(rng, rng.pick(honest))) });
    const cut = json.slice(0, rng.int(0, json.length - 1));
    return json.startsWith('{"reports"') ? batch('truncated', cut, [400]) : single('truncated', cut, [400]);
  }
  if (r < 0.78) {
    // no, or the wrong, Content-Type on a valid body
    const contentType = rng.pick([
      null,
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'application/jsonx',
      'json',
      'text/json',
      'application/xml',
      '',
    ]);
    const body = JSON.stringify(goodFor(rng, who));
    return rng.next() < 0.5
      ? single('content-type', body, [415], { contentType })
      : batch('content-type', JSON.stringify({ reports: [JSON.parse(body)] }), [415], { contentType });
  }
  if (r < 0.8) {
    // over 1 MiB: a valid report padded with whitespace, declared or chunked
    const pad = Buffer.alloc(LIMITS.maxRequestBytes + rng.int(1, 200_000), ' ');
    const body = Buffer.concat([Buffer.from(JSON.stringify(goodFor(rng, who))), pad]);
    const chunked = rng.next() < 0.5;
    return rng.next() < 0.7
      ? single(chunked ? 'oversized-chunked' : 'oversized', body, [413], { chunked })
      : batch(chunked ? 'oversized-chunked' : 'oversized', body, [413], { chunked });
  }
  if (r < 0.83) {
    // batches of more than 500 valid reports (copies of a few: the count alone refuses them)
    const n = rng.int(LIMITS.maxBatchReports + 1, LIMITS.maxBatchReports + 30);
    const few = Array.from({ length: 4 }, () => goodFor(rng, rng.pick(honest)));
    return batch('batch-over-500', JSON.stringify({ reports: Array.from({ length: n }, (_, j) => few[j % few.length]) }), [400]);
  }
  if (r < 0.86) {
    const body = rng.pick([
      '{"reports":[]}',
      '{}',
      '[]',
      '{"reports":null}',
      '{"reports":{}}',
      '{"reports":[],"extra":1}',
      `{"report":[${JSON.stringify(goodFor(rng, who))}]}`,
    ]);
    return batch('empty-batch', body, [400]);
  }
  if (r < 0.93) {
    // a single report sent to the batch route, a batch sent to the single route
    return rng.next() < 0.5
      ? batch('report-as-batch', JSON.stringify(goodFor(rng, who)), [400])
      : single('batch-as-report', JSON.stringify({ reports: [goodFor(rng, who)] }), [400]);
  }
  // a batch with one bad report among many good ones, at the end
  const reports: Report[] = Array.from({ length: rng.int(10, 60) }, () => goodFor(rng, rng.pick(honest)));
  const bad = badReport(rng);
  const goodEpochs = [...new Set(reports.map((g) => g.epoch))];
  return batch(`batch-good-then-${bad.kind}`, toJson({ reports: [...reports, bad.report] }), bad.expect, { goodEpochs });
}

// ---------------------------------------------------------------------------------------------
// Sending

function send(agent: Agent, url: URL, c: Case): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = typeof c.body === 'string' ? Buffer.from(c.body) : c.body;
    const headers: Record<string, string | number> = {};
    const contentType = c.contentType === undefined ? 'application/json' : c.contentType;
    if (contentType !== null) headers['content-type'] = contentType;
    if (!c.chunked) headers['content-length'] = body.length;
    const req = request({ host: url.hostname, port: url.port, path: c.path, method: 'POST', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type'] ?? ''),
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (c.chunked) {
      for (let i = 0; i < body.length; i += 256 * 1024) req.write(body.subarray(i, i + 256 * 1024));
      req.end();
    } else req.end(body);
  });
}

/** A batch's good report refused because its epoch's cutoff passed while the batch was on its way. */
function closedInFlight(c: Case, reply: Reply): boolean {
  if (reply.status !== 409 || !c.goodEpochs?.length) return false;
  const m = /^report \d+: epoch (\d+) took reports until/.exec((JSON.parse(reply.text) as { detail?: string }).detail ?? '');
  const epoch = m ? Number(m[1]) : Number.NaN;
  const cutoff = net.clock.end(epoch) * 1000 + net.oracleConfig.graceMs!;
  return c.goodEpochs.includes(epoch) && Date.now() >= cutoff;
}

function checkReply(c: Case, i: number, reply: Reply): string | null {
  const where = `case ${i} (seed ${SEED}, ${c.kind} -> ${c.path})`;
  if (reply.status < 400 || reply.status > 499) return `${where}: status ${reply.status}: ${reply.text.slice(0, 300)}`;
  if (!c.expect.includes(reply.status) && !closedInFlight(c, reply))
    return `${where}: status ${reply.status}, expected ${c.expect.join('|')}: ${reply.text.slice(0, 300)}`;
  if (!/^application\/json/.test(reply.type)) return `${where}: content-type ${reply.type}`;
  let json: { error?: unknown; detail?: unknown };
  try {
    json = JSON.parse(reply.text);
  } catch {
    return `${where}: reply is not JSON: ${reply.text.slice(0, 200)}`;
  }
  if (typeof json.error !== 'string' || !json.error) return `${where}: no error in ${reply.text.slice(0, 200)}`;
  if (typeof json.detail !== 'string' || !json.detail) return `${where}: no detail in ${reply.text.slice(0, 200)}`;
  return null;
}

const acked = () => net.providers.filter((p) => p.behaviour === 'honest').map((p) => p.agent!.stats.acked);

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test(`${HTTP_REQUESTS} bad requests at HTTP ingest get 4xx { error, detail } and store nothing`, { timeout: 180_000 }, async () => {
  const url = new URL(net.oracle!.url);
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const ackedBefore = acked();
  fuzzStartEpoch = currentEpoch();
  const started = Date.now();
  const failures: string[] = [];
  const kinds = new Map<string, number>();
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < HTTP_REQUESTS) {
        const i = next++;
        const c = makeCase(i);
        const kind = c.kind.replace(/^batch-(mixed|good-then)-.*/, 'batch-$1');
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        let reply: Reply;
        try {
          reply = await send(agent, url, c);
        } catch (err) {
          failures.push(`case ${i} (seed ${SEED}, ${c.kind}): ${(err as Error).message}`);
          continue;
        }
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        const problem = checkReply(c, i, reply);
        if (problem) failures.push(problem);
      }
    }),
  );
  agent.destroy();
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `# ${HTTP_REQUESTS} requests in ${seconds.toFixed(1)} s (${Math.round(HTTP_REQUESTS / seconds)}/s), ${fuzzDigests.size} distinct valid-looking reports`,
  );
  console.log(`# statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  console.log(`# cases ${JSON.stringify(Object.fromEntries([...kinds].sort()))}`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} bad replies`);

  // Still up, and the honest agents were acked during the fuzz and are acked after it.
  const status = await fetch(`${net.oracle!.url}/v1/status`);
  assert.equal(status.status, 200);
  const ackedAfterFuzz = acked();
  console.log(`# honest agents acked ${JSON.stringify(ackedBefore)} before, ${JSON.stringify(ackedAfterFuzz)} after the fuzz`);
  if (seconds > 3 * net.clock.duration) {
    ackedAfterFuzz.forEach((n, i) => {
      assert.ok(n > ackedBefore[i]!, `honest agent ${i} was acked during the fuzz (${ackedBefore[i]} -> ${n})`);
    });
  }
  // ...and epochs still close; their scoring re-checks every stored report's digest and signature.
  await Promise.all([
    until('an ack for every honest agent after the fuzz', () => acked().every((n, i) => n > ackedAfterFuzz[i]!), 20_000),
    net.waitForEpoch(currentEpoch() - 1, 30_000),
  ]);
  // The close trusts ingest's checks; `epoch verify` re-checks every stored report's digest and
  // signature from the artifact. Every epoch closed during the fuzz verifies: ingest stored no
  // report the re-check would refuse (a refused one would change the rejections, and the result).
  const closed = (await net.oracle!.epochs.all()).filter((e) => e >= fuzzStartEpoch);
  assert.ok(closed.length > 0, 'epochs closed during the fuzz');
  for (const epoch of closed) {
    const row = await net.oracle!.epochs.row(epoch);
    if (row?.state !== 'posted') continue;
    const v = await net.verify(epoch);
    assert.ok(v.pass, `epoch ${epoch} verifies: ${JSON.stringify(v.checks.filter((c) => !c.ok))}`);
  }

  await checkTables();
});

test('a few hundred bad WebSocket messages, before and after auth, get error/rejected replies', { timeout: 60_000 }, async () => {
  const rng = prng(SEED ^ 0x5eed);
  const failures: string[] = [];
  let messages = 0;

  type Conn = {
    ws: WebSocket;
    hello: { nonce: Hex };
    /** The oracle's answers to what this test sent. */
    replies: { type: string; reason?: string; detail?: string }[];
    /** Challenges the oracle pushed on its own: the spare device is registered, so its socket gets them. */
    challenges: unknown[];
    closed: Promise<number>;
  };
  const open = async (): Promise<Conn> => {
    const ws = new WebSocket(net.oracle!.wsUrl);
    const replies: Conn['replies'] = [];
    const challenges: unknown[] = [];
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('error', () => {});
    const hello = await new Promise<{ nonce: Hex }>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString())));
      ws.once('close', () => reject(new Error('closed before hello')));
    });
    ws.on('message', (d) => {
      const message = JSON.parse(d.toString());
      // A challenge is the oracle's own traffic, not a reply: it may arrive at any moment.
      if (message.type === 'challenge') challenges.push(message);
      else replies.push(message);
    });
    return { ws, hello, replies, challenges, closed };
  };
  const waitReplies = (c: Conn, n: number, what: string) => until(`${n} replies (${what})`, () => c.replies.length >= n, 10_000);
  const expectReply = (c: Conn, what: string, types: string[]) => {
    for (const r of c.replies) {
      if (!types.includes(r.type)) failures.push(`${what}: reply ${JSON.stringify(r).slice(0, 200)}`);
      else if (typeof r.detail !== 'string' || !r.detail || typeof r.reason !== 'string' || !r.reason)
        failures.push(`${what}: reply without reason/detail ${JSON.stringify(r)}`);
    }
  };
  const badMessage = (authed: boolean): string | Buffer => {
    const k = rng.int(0, 9);
    const who = authed ? spare : rng.pick(honest);
    switch (k) {
      case 0:
        return rng.pick(MALFORMED.filter((m) => m !== '')).concat(rng.pick(['', ' ']));
      case 1:
        return Buffer.from(rng.hex(rng.int(1, 64)), 'hex'); // binary frame
      case 2:
        return JSON.stringify(
          rng.pick<unknown>([null, 1, 'x', [], {}, { type: 'nope' }, { type: 'hello' }, { type: 'ack', digest: `0x${rng.hex(32)}` }]),
        );
      case 3:
        return JSON.stringify({
          type: 'auth',
          device: rng.pick([who.device, 1, null]),
          nonce: rng.pick([`0x${rng.hex(31)}`, 7]),
          sig: '0x',
        });
      case 4:
        return JSON.stringify({ type: 'report' }); // no report
      case 5:
        return JSON.stringify({ type: 'report', report: goodFor(rng, spare), extra: 1 });
      default: {
        // a report message with a bad report: wrong fields, bad signature, future epoch, ...
        for (;;) {
          const text = toJson({ type: 'report', report: badReport(rng).report });
          if (Buffer.byteLength(text) <= LIMITS.maxSocketMessageBytes) return text; // larger ones close the socket (tested below)
        }
      }
    }
  };

  // Before auth: every message gets an error, the socket stays open.
  for (let round = 0; round < 3; round++) {
    const c = await open();
    const n = 50;
    for (let i = 0; i < n; i++) c.ws.send(badMessage(false));
    // a valid report before auth is refused too
    c.ws.send(JSON.stringify({ type: 'report', report: goodFor(rng, spare) }));
    messages += n + 1;
    await waitReplies(c, n + 1, 'before auth');
    expectReply(c, 'before auth', ['error']);
    assert.ok(c.replies.some((r) => r.reason === 'not-authenticated'));
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    c.ws.close();
    await c.closed;
  }

  // Failed auth: unknown device, wrong nonce, bad signature, high-s: an error, then close 4001.
  const authFailures: [string, (nonce: Hex) => object][] = [
    [
      'unregistered',
      (nonce) => ({ type: 'auth', device: `0x${rng.hex(32)}`, nonce, sig: signSocketAuth(domain, spare.device, nonce, spare.key) }),
    ],
    [
      'wrong-nonce',
      () => ({
        type: 'auth',
        device: spare.device,
        nonce: `0x${rng.hex(32)}`,
        sig: signSocketAuth(domain, spare.device, `0x${rng.hex(32)}`, spare.key),
      }),
    ],
    [
      'other-key',
      (nonce) => ({ type: 'auth', device: spare.device, nonce, sig: signSocketAuth(domain, spare.device, nonce, honest[0]!.key) }),
    ],
    [
      'high-s',
      (nonce) => ({ type: 'auth', device: spare.device, nonce, sig: flipS(signSocketAuth(domain, spare.device, nonce, spare.key)) }),
    ],
    [
      'other-domain',
      (nonce) => ({
        type: 'auth',
        device: spare.device,
        nonce,
        sig: signSocketAuth({ ...domain, chainId: 1 }, spare.device, nonce, spare.key),
      }),
    ],
  ];
  for (let i = 0; i < 20; i++) {
    const [what, make] = authFailures[i % authFailures.length]!;
    const c = await open();
    c.ws.send(JSON.stringify(make(c.hello.nonce)));
    messages++;
    const code = await c.closed;
    assert.equal(code, 4001, `auth ${what} closes the socket with 4001`);
    expectReply(c, `auth ${what}`, ['error']);
    assert.equal(c.replies.length, 1, `auth ${what}: one error`);
  }

  // After auth as a registered device (one without an agent, so no honest socket is replaced).
  const c = await open();
  c.ws.send(
    JSON.stringify({
      type: 'auth',
      device: spare.device,
      nonce: c.hello.nonce,
      sig: signSocketAuth(domain, spare.device, c.hello.nonce, spare.key),
    }),
  );
  await waitReplies(c, 1, 'ready');
  assert.equal(c.replies.shift()!.type, 'ready');
  const n = 250;
  // The challenger may push a challenge to this socket at any moment; push one in the middle of
  // the fuzz on purpose, so that interleaving is always exercised.
  const pushed = {
    network: 'uptime',
    device: spare.device,
    epoch: currentEpoch(),
    nonce: `0x${rng.hex(32)}` as Hex,
    issuedAt: Date.now(),
    deadline: Date.now() + 4000,
  };
  for (let i = 0; i < n; i++) {
    if (i === n / 2)
      assert.ok(net.oracle!.hub.send(spare.device, { type: 'challenge', challenge: pushed }), 'the spare socket is connected');
    c.ws.send(badMessage(true));
  }
  c.ws.send(
    JSON.stringify({
      type: 'auth',
      device: spare.device,
      nonce: c.hello.nonce,
      sig: signSocketAuth(domain, spare.device, c.hello.nonce, spare.key),
    }),
  );
  messages += n + 2;
  await waitReplies(c, n + 1, 'after auth');
  expectReply(c, 'after auth', ['error', 'rejected']);
  assert.ok(c.replies.some((r) => r.reason === 'already-authenticated'));
  assert.ok(c.replies.some((r) => r.type === 'rejected'));
  assert.equal(c.ws.readyState, WebSocket.OPEN, 'bad messages do not close an authenticated socket');
  await until(
    'the pushed challenge',
    () => c.challenges.some((m) => (m as { challenge: { nonce: string } }).challenge.nonce === pushed.nonce),
    10_000,
  );

  // A message over the limit closes the socket (1009), and the oracle carries on.
  c.ws.send(JSON.stringify({ type: 'report', report: { pad: 'x'.repeat(LIMITS.maxSocketMessageBytes) } }));
  messages++;
  assert.equal(await c.closed, 1009);
  console.log(`# ${messages} WebSocket messages`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} bad replies`);

  assert.equal((await fetch(`${net.oracle!.url}/v1/status`)).status, 200);
  const ackedNow = acked();
  await until('an ack for every honest agent after the WebSocket fuzz', () => acked().every((n, i) => n > ackedNow[i]!), 20_000);
  await checkTables();
});

async function checkTables(): Promise<void> {
  const db = net.oracle!.db;
  // Not one report the fuzz built was stored...
  const [stored] = await db.query<{ n: number }>('select count(*)::int as n from reports where digest = any($1)', [[...fuzzDigests]]);
  assert.equal(stored!.n, 0, 'reports from the fuzz were stored');
  // ...and every stored report is an honest agent's answer to a challenge the oracle issued it.
  const honestDevices = honest.map((h) => h.device);
  const strays = await db.query(
    `select r.digest, r.device, r.type from reports r
      where not (r.device = any($1)) or r.type <> 'uptime.answer'
         or not exists (select 1 from challenges c where c.device = r.device and c.nonce = (r.report::jsonb)->'body'->>'nonce')`,
    [honestDevices],
  );
  assert.deepEqual(strays, [], 'only honest answers are stored');
  const [total] = await db.query<{ n: number }>('select count(*)::int as n from reports');
  assert.ok(total!.n > 0);
  // Each row's digest is the protocol's digest of its report (what the epoch close re-checks).
  for (const row of await db.query<{ digest: string; report: string }>('select digest, report from reports'))
    assert.equal(reportDigest(JSON.parse(row.report) as Report), row.digest);

  // The refusal log stays capped per (device, epoch), and the fuzz did reach the cap.
  const counts = await db.query<{ device: string; epoch: number; n: number }>(
    'select device, epoch, count(*)::int as n from ingest_rejections group by device, epoch order by n desc',
  );
  assert.ok(counts.length > 0, 'refusals naming registered devices were logged');
  assert.ok(
    counts[0]!.n <= MAX_REJECTIONS_PER_DEVICE_EPOCH,
    `at most ${MAX_REJECTIONS_PER_DEVICE_EPOCH} per device and epoch, got ${JSON.stringify(counts[0])}`,
  );
  // The cap holds under a burst that passes it: more refusals than the cap for one device in one
  // epoch leave exactly the cap in the log. (Redone if an epoch boundary falls inside the burst.)
  for (let attempt = 0; ; attempt++) {
    assert.ok(attempt < 5, 'a burst of refusals within one epoch');
    const epoch = currentEpoch();
    const rng = prng(SEED + attempt);
    const who = honest[0]!;
    for (let j = 0; j < MAX_REJECTIONS_PER_DEVICE_EPOCH + 8; j++) {
      const res = await fetch(`${net.oracle!.url}/v1/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: toJson(track(signReport(unsigned(rng, who, epoch), strangers[0]!))),
      });
      assert.equal(res.status, 401);
    }
    if (currentEpoch() !== epoch) continue;
    const [row] = await db.query<{ n: number }>('select count(*)::int as n from ingest_rejections where device = $1 and epoch = $2', [
      who.device,
      epoch,
    ]);
    assert.equal(row!.n, MAX_REJECTIONS_PER_DEVICE_EPOCH, 'the burst filled the cap and no more');
    break;
  }
  // Only the epochs ingest was taking are logged, so fuzzed epoch numbers cannot add rows without bound.
  const epochs = await db.query<{ lo: number; hi: number }>('select min(epoch) as lo, max(epoch) as hi from ingest_rejections');
  assert.ok(
    epochs[0]!.lo >= fuzzStartEpoch - 1 && epochs[0]!.hi <= currentEpoch(),
    `logged epochs ${JSON.stringify(epochs[0])} lie within the fuzz's window from ${fuzzStartEpoch}`,
  );
  const [rows] = await db.query<{ n: number }>('select count(*)::int as n from ingest_rejections');
  console.log(`# reports ${total!.n}; ingest_rejections ${rows!.n} rows over ${counts.length} (device, epoch) pairs`);
}

// Last, as it leaves this oracle unable to check signatures: with no signature worker to ask, a
// batch of good reports gets 503 `unavailable` for each, nothing is stored, and the oracle stays up.
test('with its signature workers gone, ingest answers 503 unavailable and stores nothing', { timeout: 30_000 }, async () => {
  const rng = prng(SEED ^ 0x503);
  const reports = Array.from({ length: 20 }, (_, i) => goodFor(rng, honest[i % honest.length]!));
  await net.oracle!.signatures.close();
  const res = await fetch(`${net.oracle!.url}/v1/reports/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reports }),
  });
  assert.equal(res.status, 503);
  const body = (await res.json()) as { error: string; detail: string; refusals: { reason: string; detail: string }[] };
  assert.equal(body.error, 'unavailable');
  assert.equal(body.refusals.length, reports.length);
  assert.ok(
    body.refusals.every((r) => r.reason === 'unavailable' && /nothing was stored, try again/.test(r.detail)),
    JSON.stringify(body.refusals[0]),
  );
  const [stored] = await net.oracle!.db.query<{ n: number }>('select count(*)::int as n from reports where digest = any($1)', [
    reports.map((r) => reportDigest(r)),
  ]);
  assert.equal(stored!.n, 0);
  assert.equal((await fetch(`${net.oracle!.url}/v1/status`)).status, 200);
});
