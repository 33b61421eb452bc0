/**
 * Benchmark: signed reports per second through HTTP ingest to durable storage, against the raw
 * P-256 verification rate of the same reports on one core.
 *
 *   node --import tsx bench/ingest.ts [--reports N] [--batch B] [--clients C] [--devices D]
 *                                     [--database-url URL] [--breakdown] [--profile FILE] [--json]
 *
 * Boots a testnet (anvil, contracts, the oracle on PGlite) with D devices (default 64) and stops
 * its agents, so the oracle only sees this load. Before any clock starts it signs N (default
 * 50,000) valid uptime.answer reports for the current epoch (fresh random nonces: ingest takes
 * them; matching nonces to challenges is the epoch close's job), round-robin over the devices,
 * and serialises them into batches of B (default 200).
 *
 * - raw: crypto.verify (ECDSA P-256, SHA-256, r||s) of each report's signing bytes with a cached
 *   public KeyObject per device, on this one thread: N verifications, timed.
 * - ingest: C (default 4) keep-alive HTTP clients in a separate process POST the batches to
 *   /v1/reports/batch until every batch is acked 201; then the reports table must hold exactly N
 *   new rows. reports/s = N / (first request .. last ack).
 *
 * Prints both rates, ingest/raw (target >= 0.7) and p50/p99 batch latency; --json prints one
 * JSON object. --breakdown also times each step ingest takes per report, in isolation, on the
 * same reports (schema parse, canonical body, digest, signing bytes + verify, row JSON, insert).
 * --profile FILE writes a V8 CPU profile of the oracle's process while the ingest clock runs
 * (open it in Chrome DevTools, or sum its self times). --database-url postgres://... runs the
 * oracle on PostgreSQL instead of PGlite, in a scratch database created on that server and
 * dropped afterwards (the inserts then run in the server's processes, not on the oracle's thread).
 * Signatures are verified on the oracle's signature worker threads (oracle/src/signatures.ts:
 * min(4, cores − 1), at least one); their number is printed.
 * The oracle, its PGlite, anvil and the load-generating process share this machine's cores
 * (os.availableParallelism() is printed): on a 2-core machine the clients take CPU from the oracle.
 * Exits 1 if a batch is refused or a report is lost; a ratio under the target is only reported
 * (bench/run-all.ts checks it).
 */
import { fork } from 'node:child_process';
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scratchDatabase } from '../oracle/test/postgres.ts';

const TARGET_RATIO = 0.7;
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// The load generator (a child process): reads the batch bodies, waits for "go", posts them.

type ClientResult = { ms: number; latenciesMs: number[]; acked: number; failures: string[]; cpuMs: number };

async function runClients(file: string, url: string, clients: number): Promise<ClientResult> {
  const bodies = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => Buffer.from(line));
  const target = new URL(url);
  process.send!({ ready: bodies.length });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const latenciesMs: number[] = [];
  const failures: string[] = [];
  let acked = 0;
  let next = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const t0 = performance.now();
        const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = request(
            {
              host: target.hostname,
              port: target.port,
              path: '/v1/reports/batch',
              method: 'POST',
              agent,
              headers: { 'content-type': 'application/json', 'content-length': body.length },
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.end(body);
        });
        latenciesMs.push(performance.now() - t0);
        if (reply.status !== 201) failures.push(`${reply.status}: ${reply.text.slice(0, 300)}`);
        else acked += (JSON.parse(reply.text) as { stored: number }).stored;
      }
      agent.destroy();
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { ms: performance.now() - started, latenciesMs, acked, failures, cpuMs: (cpu.user + cpu.system) / 1000 };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reports: { type: 'string', default: '50000' },
      batch: { type: 'string', default: '200' },
      clients: { type: 'string', default: '4' },
      devices: { type: 'string', default: '64' },
      breakdown: { type: 'boolean', default: false },
      profile: { type: 'string' },
      'database-url': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const N = Number(values.reports);
  const B = Number(values.batch);
  const C = Number(values.clients);
  const D = Number(values.devices);
  if (![N, B, C, D].every((x) => Number.isInteger(x) && x > 0))
    throw new Error('--reports, --batch, --clients and --devices take positive integers');
  const { LIMITS, reportDigest, reportSigningBytes, signReport } = await import('@groundwork/protocol');
  if (B > LIMITS.maxBatchReports) throw new Error(`--batch may be at most ${LIMITS.maxBatchReports}`);
  const { startTestnet } = await import('@groundwork/sim');
  const log = (line: string) => console.error(line);

  const scratch = values['database-url'] ? await scratchDatabase(values['database-url'], 'groundwork_bench') : null;
  log(`booting a testnet with ${D} devices (anvil, contracts, oracle on ${scratch ? 'PostgreSQL' : 'PGlite'})...`);
  const t0 = performance.now();
  // The oracle's default: PGlite in files under its data directory (durable across a crash of
  // the process, as oracle/test/crash.test.ts checks), not PGlite in memory.
  const dir = mkdtempSync(path.join(tmpdir(), 'groundwork-bench-ingest-'));
  const net = await startTestnet({
    devices: D,
    epochSeconds: 3600,
    dataDir: path.join(dir, 'testnet'),
    ...(scratch ? { databaseUrl: scratch.url } : {}),
  }).catch(async (err) => {
    await scratch?.drop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  try {
    for (const p of net.providers) await p.agent?.stop();
    const oracle = net.oracle!;
    log(`booted in ${((performance.now() - t0) / 1000).toFixed(1)} s; agents stopped`);
    const epoch = net.clock.epochAtMs(Date.now());
    const secondsLeft = net.clock.end(epoch) - Date.now() / 1000;
    if (secondsLeft < 600) throw new Error(`epoch ${epoch} ends in ${secondsLeft.toFixed(0)} s; the run needs it to stay open`);
    const domain = { chainId: net.deployment.chainId, registry: net.deployment.addresses.registry };

    // Sign N reports, round-robin over the devices (untimed).
    log(`signing ${N} reports...`);
    const devices = net.providers.map((p) => ({ device: p.device, key: p.key, publicKey: createPublicKey(p.key) }));
    const reports = Array.from({ length: N }, (_, i) => {
      const d = devices[i % devices.length]!;
      return signReport(
        {
          v: 1,
          ...domain,
          network: 'uptime',
          type: 'uptime.answer',
          device: d.device,
          epoch,
          body: { nonce: `0x${randomBytes(32).toString('hex')}` },
        },
        d.key,
      );
    });
    const batches: string[] = [];
    for (let i = 0; i < N; i += B) batches.push(JSON.stringify({ reports: reports.slice(i, i + B) }));
    const file = path.join(dir, 'batches.ndjson');
    writeFileSync(file, `${batches.join('\n')}\n`);

    // Raw: crypto.verify of the signing bytes, cached keys, this thread.
    const signing = reports.map((r, i) => ({
      bytes: reportSigningBytes(r),
      sig: Buffer.from(r.sig.slice(2), 'hex'),
      key: devices[i % devices.length]!.publicKey,
    }));
    for (let i = 0; i < Math.min(2000, N); i++)
      verify('sha256', signing[i]!.bytes, { key: signing[i]!.key, dsaEncoding: 'ieee-p1363' }, signing[i]!.sig); // warm-up
    log(`raw: verifying ${N} signatures on one core...`);
    let valid = 0;
    const r0 = performance.now();
    for (const s of signing) if (verify('sha256', s.bytes, { key: s.key, dsaEncoding: 'ieee-p1363' }, s.sig)) valid++;
    const rawMs = performance.now() - r0;
    if (valid !== N) throw new Error(`only ${valid} of ${N} signatures verified`);

    const breakdown = values.breakdown ? await stageBreakdown(reports, devices, oracle.db) : null;

    // Ingest: C clients in a child process.
    const [{ n: before }] = (await oracle.db.query<{ n: number }>('select count(*)::int as n from reports')) as [{ n: number }];
    log(`ingest: ${batches.length} batches of ${B} over ${C} keep-alive clients...`);
    const child = fork(SELF, ['--client', file, oracle.url, String(C)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const profiler = values.profile ? await startProfiler() : null;
    let cpu0 = process.cpuUsage();
    const result = await new Promise<ClientResult>((resolve, reject) => {
      child.on('message', (m: { ready?: number; result?: ClientResult }) => {
        if (m.ready !== undefined) {
          void (profiler ? profiler.start() : Promise.resolve()).then(() => {
            cpu0 = process.cpuUsage();
            child.send('go');
          });
        }
        if (m.result) resolve(m.result);
      });
      child.on('error', reject);
      child.on('exit', (code) => code !== 0 && reject(new Error(`the load generator exited with ${code}`)));
    });
    const oracleCpu = process.cpuUsage(cpu0);
    if (profiler) writeFileSync(values.profile!, JSON.stringify(await profiler.stop()));
    const [{ n: after }] = (await oracle.db.query<{ n: number }>('select count(*)::int as n from reports')) as [{ n: number }];
    const digests = reports.slice(0, 1000).map((r) => reportDigest(r));
    const [{ n: sampled }] = (await oracle.db.query<{ n: number }>('select count(*)::int as n from reports where digest = any($1)', [
      digests,
    ])) as [{ n: number }];

    const lat = [...result.latenciesMs].sort((a, b) => a - b);
    const pct = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!;
    const rawPerSecond = N / (rawMs / 1000);
    const ingestPerSecond = N / (result.ms / 1000);
    const out = {
      reports: N,
      batch: B,
      clients: C,
      devices: D,
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      database: oracle.db.kind,
      verifyThreads: oracle.signatures.size,
      raw: { ms: round(rawMs), perSecond: Math.round(rawPerSecond) },
      ingest: {
        ms: round(result.ms),
        perSecond: Math.round(ingestPerSecond),
        batches: lat.length,
        p50Ms: round(pct(0.5)),
        p99Ms: round(pct(0.99)),
        maxMs: round(lat.at(-1) ?? 0),
        acked: result.acked,
        stored: after - before,
        failures: result.failures.length,
        /** CPU time while the ingest clock ran: the oracle's process (all its threads) and the clients' process. */
        oracleCpuMs: round((oracleCpu.user + oracleCpu.system) / 1000),
        clientCpuMs: round(result.cpuMs),
      },
      ratio: Math.round((ingestPerSecond / rawPerSecond) * 1000) / 1000,
      target: TARGET_RATIO,
      ...(breakdown ? { breakdownMicrosPerReport: breakdown } : {}),
    };
    const ok = result.failures.length === 0 && after - before === N && result.acked === N && sampled === digests.length;
    if (values.json) console.log(JSON.stringify(out));
    else {
      console.log(`\ningest of signed reports, ${N.toLocaleString('en-US')} reports from ${D} devices, batches of ${B}, ${C} clients`);
      console.log(
        `machine: ${out.cores} cores (${out.cpu}), Node ${out.node}, ${out.database}, ${out.verifyThreads} signature worker thread(s); the oracle, its database, anvil and the load generator share these cores\n`,
      );
      console.log(
        `raw P-256 verify, 1 core   ${out.raw.perSecond.toLocaleString('en-US').padStart(8)} reports/s  (${N} in ${out.raw.ms} ms)`,
      );
      console.log(
        `HTTP ingest to ${out.database.padEnd(10)} ${out.ingest.perSecond.toLocaleString('en-US').padStart(8)} reports/s  (${N} in ${out.ingest.ms} ms)`,
      );
      console.log(
        `ratio ingest / raw         ${out.ratio.toFixed(3).padStart(8)}   (target >= ${TARGET_RATIO}: ${out.ratio >= TARGET_RATIO ? 'ok' : 'MISSED'})`,
      );
      console.log(
        `batch latency              p50 ${out.ingest.p50Ms} ms, p99 ${out.ingest.p99Ms} ms, max ${out.ingest.maxMs} ms (${out.ingest.batches} batches)`,
      );
      console.log(
        `stored                     ${out.ingest.stored} new rows, ${out.ingest.acked} acked, ${out.ingest.failures} failed batches`,
      );
      console.log(
        `CPU while ingesting        oracle process ${out.ingest.oracleCpuMs} ms (all threads), clients ${out.ingest.clientCpuMs} ms, over ${out.ingest.ms} ms wall`,
      );
      if (breakdown) {
        console.log('\nper report, each step alone on this thread (µs):');
        for (const [k, v] of Object.entries(breakdown)) console.log(`  ${k.padEnd(34)} ${v.toFixed(1).padStart(7)}`);
      }
    }
    if (!ok) {
      console.error(
        `FAILED: ${result.failures.length} failed batches (${result.failures.slice(0, 3).join(' | ')}), ${after - before} rows stored for ${N} reports`,
      );
      process.exitCode = 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await net.stop();
    await scratch?.drop();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

/** A CPU profiler on this process (node:inspector), for --profile. */
async function startProfiler() {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  return {
    start: () => post('Profiler.start'),
    stop: async () => {
      const { profile } = (await post('Profiler.stop')) as { profile: object };
      session.disconnect();
      return profile;
    },
  };
}

/**
 * Microseconds per report for each step of Ingest.check and Ingest.store, each alone on this
 * thread, on the same reports. (Ingest encodes each report once for its digest, its signing bytes
 * and its row; the canonical steps here are the protocol's functions that encoding matches.)
 */
async function stageBreakdown(
  reports: readonly import('@groundwork/protocol').Report[],
  devices: readonly { publicKey: KeyObject }[],
  db: import('@groundwork/oracle').Database,
): Promise<Record<string, number>> {
  const { canonicalBytes, canonicalJson, reportSchema, reportSigningBytes, sha256Hex, verifyMessage } = await import(
    '@groundwork/protocol'
  );
  const { answerBodySchema } = await import('@groundwork/network-uptime');
  const { insertReportsSql } = await import('../oracle/src/ingest.ts');
  const sample = reports.slice(0, Math.min(reports.length, 10_000));
  const time = (fn: (i: number) => unknown) => {
    for (let i = 0; i < Math.min(500, sample.length); i++) fn(i);
    const t = performance.now();
    for (let i = 0; i < sample.length; i++) fn(i);
    return ((performance.now() - t) * 1000) / sample.length;
  };
  const texts = sample.map((r) => JSON.stringify(r));
  const parsed = texts.map((t) => JSON.parse(t) as unknown);
  const canonical = sample.map((r) => canonicalJson(r));
  const canonicalUtf8 = canonical.map((c) => new TextEncoder().encode(c));
  const signingBytes = sample.map((r) => reportSigningBytes(r));
  const out: Record<string, number> = {
    'JSON.parse of the request': time((i) => JSON.parse(texts[i]!)),
    'reportSchema.safeParse (zod)': time((i) => reportSchema.safeParse(parsed[i])),
    'body schema parse (zod)': time((i) => answerBodySchema.safeParse(sample[i]!.body)),
    'canonical JSON of the report': time((i) => canonicalBytes(sample[i]!)),
    'sha256 digest of it': time((i) => sha256Hex(canonicalUtf8[i]!)),
    'signing bytes (reportSigningBytes)': time((i) => reportSigningBytes(sample[i]!)),
    'P-256 verify (verifyMessage)': time((i) => verifyMessage(devices[i % devices.length]!.publicKey, signingBytes[i]!, sample[i]!.sig)),
    'JSON.stringify of the report': time((i) => JSON.stringify(sample[i])),
  };
  // The insert: the statement ingest runs (seven unnested array parameters), into a scratch table of the same shape.
  await db.query('create temporary table bench_reports (like reports including all)');
  const B = 200;
  const statements: { sql: string; params: unknown[] }[] = [];
  for (let i = 0; i < sample.length; i += B) {
    const rows = sample.slice(i, i + B);
    const params = [
      rows.map((_, j) => sha256Hex(canonicalUtf8[i + j]!)),
      rows.map((r) => r.network),
      rows.map((r) => r.device),
      rows.map((r) => r.epoch),
      rows.map((r) => r.type),
      rows.map((_, j) => canonical[i + j]),
      rows.map(() => Date.now()),
    ];
    statements.push({ sql: insertReportsSql('bench_reports'), params });
  }
  const t = performance.now();
  for (const st of statements) await db.transaction((tx) => tx.query(st.sql, st.params));
  out[`${db.kind} insert, batches of ${B}`] = ((performance.now() - t) * 1000) / sample.length;
  await db.query('drop table bench_reports');
  out['(sum of the above)'] = Object.values(out).reduce((a, b) => a + b, 0);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, round(v)]));
}

if (process.argv.includes('--client')) {
  const [file, url, clients] = process.argv.slice(process.argv.indexOf('--client') + 1);
  const result = await runClients(file!, url!, Number(clients));
  process.send!({ result }, () => process.exit(0));
} else {
  await main();
}
