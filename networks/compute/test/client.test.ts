// The consumer's client without a chain: the output decoder against the sandbox's encoder, the
// refusal of output paths that would escape the result directory, the spec-to-submission mapping
// and its refusals, argument checks, and status/result/wait against a loopback stand-in for the
// oracle's compute routes. Submitting and cancelling need a chain and an oracle: the devnet test
// (sim/test/compute.test.ts) covers them.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Address, Hex } from 'viem';
import { devnetAccounts, type Deployment } from '@groundwork/contracts';
import { cidOf } from '@groundwork/protocol';
import {
  ComputeClient,
  type ComputeClientError,
  decodeRunOutputs,
  jobIdOf,
  jobSubmissionFor,
  OracleError,
  OutputEncodingError,
  OutputPathError,
  outputFilePath,
  priceText,
  writeTaskOutputs,
} from '../src/client/index.ts';
import type { JobStatus } from '../src/plugin/wire.ts';
import { encodeRunOutputs, OUTPUT_ENCODING_MAGIC, runTaskInline } from '../src/sandbox/index.ts';
import { type JobSpec, loadJobSpec } from '../src/spec/index.ts';
import { COUNT_TO_TEN, FILES } from './fixtures/sandbox/wat.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dir = mkdtempSync(path.join(tmpdir(), 'gw-client-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Any entries, in the order given: what encodeRunOutputs would refuse or never write. */
function rawEncoding(exitCode: number, entries: [string | Uint8Array, Uint8Array][], magic = OUTPUT_ENCODING_MAGIC): Uint8Array {
  const parts: Buffer[] = [Buffer.from(magic, 'ascii')];
  const head = Buffer.alloc(8);
  head.writeUInt32BE(exitCode, 0);
  head.writeUInt32BE(entries.length, 4);
  parts.push(head);
  for (const [name, data] of entries) {
    const n = typeof name === 'string' ? Buffer.from(name, 'utf8') : Buffer.from(name);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(n.length, 0);
    const size = Buffer.alloc(8);
    size.writeBigUInt64BE(BigInt(data.length), 0);
    parts.push(len, n, size, Buffer.from(data));
  }
  return new Uint8Array(Buffer.concat(parts));
}

describe('decodeRunOutputs', () => {
  test('round-trips encodeRunOutputs', () => {
    const cases = [
      { exitCode: 0, stdout: new Uint8Array(0), outputs: new Map<string, Uint8Array>() },
      { exitCode: 3, stdout: enc('hello\n'), outputs: new Map([['a.txt', enc('A')]]) },
      {
        exitCode: 2 ** 32 - 1,
        stdout: new Uint8Array([0, 255, 10, 13]),
        outputs: new Map([
          ['frames/0002.png', new Uint8Array(1000).fill(7)],
          ['frames/0001.png', new Uint8Array(0)],
          ['é/ü.bin', enc('unicode')],
          ['Z', enc('upper sorts first')],
        ]),
      },
    ];
    for (const c of cases) {
      const bytes = encodeRunOutputs(c);
      const d = decodeRunOutputs(bytes);
      assert.equal(d.exitCode, c.exitCode);
      assert.deepEqual(d.stdout, c.stdout);
      assert.deepEqual(new Map([...d.outputs].sort()), new Map([...c.outputs].sort()));
      assert.deepEqual(encodeRunOutputs(d), bytes, 'and back to the same bytes');
    }
  });

  test("a real run's output: decoding and re-encoding gives its outputCid", () => {
    const r = runTaskInline({ module: FILES, inputs: { 'in.txt': enc('drawer') } });
    const d = decodeRunOutputs(encodeRunOutputs(r));
    assert.equal(Buffer.from(d.outputs.get('out/result.txt')!).toString(), 'reward');
    assert.equal(cidOf(encodeRunOutputs(d)), r.outputCid);
  });

  test('refuses anything that is not the canonical encoding', () => {
    const good = encodeRunOutputs({
      exitCode: 1,
      stdout: enc('out'),
      outputs: new Map([
        ['b', enc('2')],
        ['c', enc('3')],
      ]),
    });
    for (let n = 0; n < good.length; n++) assert.throws(() => decodeRunOutputs(good.subarray(0, n)), OutputEncodingError, `cut at ${n}`);
    const bad: [string, Uint8Array, RegExp][] = [
      ['trailing byte', new Uint8Array([...good, 0]), /1 bytes follow the last entry/],
      ['other magic', rawEncoding(0, [['', enc('x')]], 'groundwork/compute-output/v2\n'), /does not start with/],
      ['no entries', rawEncoding(0, []), /no stdout entry/],
      ['stdout not first', rawEncoding(0, [['a', enc('x')]]), /first entry is not stdout/],
      [
        'a second empty name',
        rawEncoding(0, [
          ['', enc('x')],
          ['', enc('y')],
        ]),
        /empty name/,
      ],
      [
        'names out of order',
        rawEncoding(0, [
          ['', enc('x')],
          ['b', enc('')],
          ['a', enc('')],
        ]),
        /not after the one before/,
      ],
      [
        'a name twice',
        rawEncoding(0, [
          ['', enc('x')],
          ['a', enc('')],
          ['a', enc('')],
        ]),
        /not after the one before/,
      ],
      [
        'a name that is not UTF-8',
        rawEncoding(0, [
          ['', enc('x')],
          [new Uint8Array([0xff, 0xfe]), enc('')],
        ]),
        /not UTF-8/,
      ],
    ];
    for (const [what, bytes, message] of bad) assert.throws(() => decodeRunOutputs(bytes), message, what);
    // A data length far past the end is refused without allocating it.
    const huge = rawEncoding(0, [['', enc('x')]]);
    new DataView(huge.buffer).setBigUint64(OUTPUT_ENCODING_MAGIC.length + 8 + 4, 2n ** 62n);
    assert.throws(() => decodeRunOutputs(huge), /runs past the end/);
  });
});

describe('writing outputs', () => {
  test('paths that would escape the task directory, or hit its stdout file, are refused', () => {
    const taskDir = path.join(dir, 'escape', '0');
    for (const name of ['../x', 'a/../../b', '/etc/passwd', 'a//b', './a', 'a/.', 'a\\..\\b', 'stdout', 'stdout/x', 'nul\0byte', '..']) {
      assert.throws(() => outputFilePath(taskDir, name), OutputPathError, JSON.stringify(name));
    }
    assert.equal(outputFilePath(taskDir, 'frames/0001.png'), path.join(path.resolve(taskDir), 'frames', '0001.png'));
    assert.equal(outputFilePath(taskDir, '..hidden/x'), path.join(path.resolve(taskDir), '..hidden', 'x'), 'dots inside a name are fine');
  });

  test('writeTaskOutputs writes stdout and the files, and nothing at all if any path is bad', async () => {
    const out = path.join(dir, 'write');
    const files = await writeTaskOutputs(out, 4, { exitCode: 0, stdout: enc('so'), outputs: new Map([['deep/er/f.txt', enc('f')]]) });
    assert.deepEqual(files, [path.join(path.resolve(out), '4', 'stdout'), path.join(path.resolve(out), '4', 'deep', 'er', 'f.txt')]);
    assert.equal(readFileSync(files[0]!, 'utf8'), 'so');
    assert.equal(readFileSync(files[1]!, 'utf8'), 'f');
    await assert.rejects(
      writeTaskOutputs(out, 5, {
        exitCode: 0,
        stdout: enc('so'),
        outputs: new Map([
          ['a', enc('')],
          ['../../evil', enc('x')],
        ]),
      }),
      OutputPathError,
    );
    assert.equal(existsSync(path.join(out, '5')), false, 'nothing written for the refused task');
    assert.equal(existsSync(path.join(dir, 'evil')), false);
    await assert.rejects(writeTaskOutputs(out, -1, { exitCode: 0, stdout: enc(''), outputs: new Map() }), RangeError);
  });
});

/** A spec loaded from YAML with in-memory files (COUNT_TO_TEN as the program). */
async function spec(extra = '', resources = '{ fuel: 1e6 }'): Promise<JobSpec> {
  const files = new Map([
    ['/job/p.wasm', COUNT_TO_TEN],
    ['/job/in.txt', enc('input')],
  ]);
  return loadJobSpec(
    [
      'version: "groundwork/job@1"',
      'program: ./p.wasm',
      'args: ["{task}"]',
      'stdin: ./in.txt',
      'inputs: { data/in.txt: ./in.txt }',
      'tasks: 1-3',
      `resources: ${resources}`,
      'maxPrice: 0.25',
      extra,
    ].join('\n'),
    { baseDir: '/job', now: Date.now(), readFile: (p) => files.get(p) },
  );
}

describe('jobSubmissionFor', () => {
  const consumer = devnetAccounts(3).address;
  const jobId = `0x${'ab'.repeat(32)}` as Hex;

  test('maps a spec onto the wire', async () => {
    const s = await spec('verification: { spotCheck: 0.5, redundancy: 2 }');
    const sub = jobSubmissionFor(s, { jobId, consumer });
    assert.equal(sub.module, cidOf(COUNT_TO_TEN));
    assert.equal(sub.stdin, cidOf(enc('input')));
    assert.deepEqual(sub.inputs, { 'data/in.txt': cidOf(enc('input')) });
    assert.deepEqual(sub.tasks, [
      { index: 0, args: ['1'] },
      { index: 1, args: ['2'] },
      { index: 2, args: ['3'] },
    ]);
    assert.equal(sub.maxPrice, '0.25');
    assert.equal(sub.maxCost, s.maxCost.toString());
    assert.deepEqual([sub.spotCheck, sub.redundancy, sub.fuel, sub.deadline], [0.5, 2, 1e6, s.deadline]);
    assert.deepEqual(sub.attributes, {});
    assert.deepEqual(jobSubmissionFor(spec_attrs, { jobId, consumer }).attributes, { region: 'eu' }, 'attributes go on the wire');
  });

  test('refuses what the wire cannot carry, naming the field', async () => {
    assert.throws(() => jobSubmissionFor(spec_env, { jobId, consumer }), /^ComputeClientError: env: /);
    assert.throws(() => jobSubmissionFor(spec_output, { jobId, consumer }), /^ComputeClientError: resources.output: /);
    const plain = await spec();
    assert.throws(() => jobSubmissionFor(plain, { jobId: '0x12' as Hex, consumer }), /jobId/);
  });
  let spec_env: JobSpec;
  let spec_attrs: JobSpec;
  let spec_output: JobSpec;
  before(async () => {
    spec_env = await spec('env: { A: "1" }');
    spec_attrs = await spec('attributes: { region: eu }');
    spec_output = await spec('', '{ fuel: 1e6, output: 1MiB }');
  });

  test('priceText', () => {
    assert.equal(priceText(0.002), '0.002');
    assert.equal(priceText(1000), '1000');
    assert.equal(priceText(0.000001), '0.000001');
    assert.equal(priceText(12.5), '12.5');
    assert.throws(() => priceText(0), RangeError);
    assert.throws(() => priceText(0.0000001), /more than 6 decimals/);
  });
});

describe('ComputeClient arguments', () => {
  const key = devnetAccounts(3).privateKey;
  test('the constructor checks what it is given', () => {
    assert.throws(() => new ComputeClient({ oracleUrl: 'localhost:8787' }), /oracleUrl must be/);
    assert.throws(() => new ComputeClient({ oracleUrl: 'ftp://oracle' }), /oracleUrl must be an http or https URL/);
    assert.throws(() => new ComputeClient({ oracleUrl: 'http://o', rpcUrl: 'nope' }), /rpcUrl must be/);
    assert.throws(
      () => new ComputeClient({ oracleUrl: 'http://o', privateKey: '0x12' as Hex }),
      /privateKey must be 0x followed by 64 hex digits/,
    );
    assert.throws(() => new ComputeClient({ oracleUrl: 'http://o', privateKey: `0x${'0'.repeat(64)}` }), /not a valid secp256k1/);
    assert.throws(() => new ComputeClient({ oracleUrl: 'http://o', consumer: '0x1' as Address }), /consumer must be/);
    assert.throws(
      () => new ComputeClient({ oracleUrl: 'http://o', privateKey: key, consumer: devnetAccounts(4).address }),
      /is not the privateKey's account/,
    );
    const c = new ComputeClient({ oracleUrl: 'http://o/', privateKey: key });
    assert.equal(c.oracleUrl, 'http://o');
    assert.equal(c.consumer, devnetAccounts(3).address);
  });

  test('job ids, and what needs a chain or a consumer', async () => {
    assert.equal(jobIdOf(`0x${'AB'.repeat(32)}`), `0x${'ab'.repeat(32)}`);
    assert.throws(() => jobIdOf('0x12'), /a job id is 0x and 64 hex digits/);
    const c = new ComputeClient({ oracleUrl: 'http://127.0.0.1:1' });
    await assert.rejects(c.status('job-1'), RangeError);
    await assert.rejects(c.cancel(`0x${'1'.repeat(64)}`), /cancel needs the chain: give the client rpcUrl, deployment, privateKey/);
    await assert.rejects(c.submit(await spec()), (e: ComputeClientError) => e.code === 'no-chain');
    await assert.rejects(c.jobs(), /jobs\(\) needs a consumer/);
    await assert.rejects(c.result(`0x${'1'.repeat(64)}`, ''), /outDir/);
    const noEscrow = new ComputeClient({
      oracleUrl: 'http://127.0.0.1:1',
      rpcUrl: 'http://127.0.0.1:1',
      privateKey: key,
      deployment: { chainId: 31337, addresses: {}, networks: [{ kind: 'compute' }] } as unknown as Deployment,
    });
    await assert.rejects(noEscrow.submit(await spec()), (e: ComputeClientError) => e.code === 'no-escrow');
    const noCompute = new ComputeClient({
      oracleUrl: 'http://127.0.0.1:1',
      rpcUrl: 'http://127.0.0.1:1',
      privateKey: key,
      deployment: {
        chainId: 31337,
        addresses: { escrow: devnetAccounts(9).address },
        networks: [{ kind: 'uptime' }],
      } as unknown as Deployment,
    });
    await assert.rejects(noCompute.reclaim(`0x${'1'.repeat(64)}`), /the deployment has no compute network \(it has uptime\)/);
    // A spec the wire cannot carry is refused before the chain is touched.
    const withChain = new ComputeClient({
      oracleUrl: 'http://127.0.0.1:1',
      rpcUrl: 'http://127.0.0.1:1',
      privateKey: key,
      deployment: {
        chainId: 31337,
        addresses: { escrow: devnetAccounts(9).address },
        networks: [{ kind: 'compute' }],
      } as unknown as Deployment,
    });
    await assert.rejects(withChain.submit(await spec('env: { A: "1" }')), /^ComputeClientError: env:/);
  });

  test('an unreachable oracle', async () => {
    const c = new ComputeClient({ oracleUrl: 'http://127.0.0.1:1' });
    await assert.rejects(
      c.status(`0x${'1'.repeat(64)}`),
      (e: ComputeClientError) => e.code === 'unreachable' && /^cannot reach the oracle at http:\/\/127\.0\.0\.1:1/.test(e.message),
    );
  });
});

describe('against a stand-in for the oracle', () => {
  const blobs = new Map<string, Uint8Array>();
  const statuses = new Map<string, JobStatus[]>();
  let server: Server;
  let url = '';
  const id = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex;
  const consumer = devnetAccounts(3).address;
  const put = (b: Uint8Array, cid = cidOf(b)) => {
    blobs.set(cid, b);
    return cid;
  };
  const task = (index: number, state: JobStatus['tasks'][number]['state'], output: string | null = null): JobStatus['tasks'][number] => ({
    index,
    state,
    output,
    computeUnits: output ? '81' : null,
    device: null,
    reason: null,
    error: null,
    acceptBy: null,
    rejected: false,
  });
  const status = (jobId: Hex, state: JobStatus['state'], tasks: JobStatus['tasks']): JobStatus => ({
    jobId,
    consumer,
    state,
    tasks,
    burned: '0',
    maxCost: '10',
    settlements: 0,
    error: null,
  });

  before(async () => {
    server = createServer((req, res) => {
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const u = new URL(req.url!, 'http://x');
      const blob = /^\/v1\/compute\/blobs\/(b[a-z2-7]+)$/.exec(u.pathname);
      if (blob && req.method === 'GET') {
        const b = blobs.get(blob[1]!);
        if (!b) return send(404, { error: 'unknown-blob', detail: `no blob ${blob[1]}` });
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(b);
      }
      const job = /^\/v1\/compute\/jobs\/(0x[0-9a-f]{64})$/.exec(u.pathname);
      if (job) {
        const list = statuses.get(job[1]!);
        if (!list) return send(404, { error: 'unknown-job', detail: `no job ${job[1]} on this oracle` });
        // Each poll moves one status on; the last one stays.
        return send(200, list.length > 1 ? list.shift() : list[0]);
      }
      if (u.pathname === '/v1/compute/jobs') {
        const who = u.searchParams.get('consumer');
        return send(200, { jobs: [...statuses.values()].map((l) => l[0]!).filter((s) => s.consumer.toLowerCase() === who) });
      }
      send(404, { error: 'not-found', detail: u.pathname });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('result: verified tasks are fetched, checked and written; the others get no files', async () => {
    const a = put(encodeRunOutputs({ exitCode: 0, stdout: enc('frame one'), outputs: new Map([['img/1.raw', enc('RAW')]]) }));
    const b = put(encodeRunOutputs({ exitCode: 5, stdout: enc('frame two'), outputs: new Map() }));
    statuses.set(id(1), [
      status(id(1), 'failed', [task(0, 'verified', a), task(1, 'verified', b), task(2, 'failed'), task(3, 'verified')]),
    ]);
    const c = new ComputeClient({ oracleUrl: url, consumer });
    const out = path.join(dir, 'result');
    const r = await c.result(id(1), out);
    assert.equal(r.state, 'failed');
    const root = path.resolve(out);
    assert.deepEqual(r.files, [path.join(root, '0', 'stdout'), path.join(root, '0', 'img', '1.raw'), path.join(root, '1', 'stdout')]);
    assert.equal(readFileSync(path.join(out, '0', 'stdout'), 'utf8'), 'frame one');
    assert.equal(readFileSync(path.join(out, '0', 'img', '1.raw'), 'utf8'), 'RAW');
    assert.deepEqual(
      r.tasks.map((t) => [t.index, t.state, t.exitCode, t.files.length]),
      [
        [0, 'verified', 0, 2],
        [1, 'verified', 5, 1],
        [2, 'failed', null, 0],
        [3, 'verified', null, 0],
      ],
    );
    assert.deepEqual(readdirSync(out).sort(), ['0', '1']);
    const outputs = await c.outputs(id(1));
    assert.deepEqual(
      outputs.map((o) => o.index),
      [0, 1],
    );
  });

  test('result: a blob that is not its CID, or that would escape, is refused', async () => {
    const real = cidOf(enc('the real one'));
    put(enc('something else'), real);
    statuses.set(id(2), [status(id(2), 'done', [task(0, 'verified', real)])]);
    const c = new ComputeClient({ oracleUrl: url });
    await assert.rejects(c.result(id(2), path.join(dir, 'r2')), (e: ComputeClientError) => e.code === 'cid-mismatch');
    const evil = put(encodeRunOutputs({ exitCode: 0, stdout: enc(''), outputs: new Map([['../../escaped', enc('x')]]) }));
    statuses.set(id(3), [status(id(3), 'done', [task(0, 'verified', evil)])]);
    await assert.rejects(c.result(id(3), path.join(dir, 'r3')), OutputPathError);
    assert.equal(existsSync(path.join(dir, 'escaped')), false);
    const notAnEncoding = put(enc('just bytes'));
    statuses.set(id(4), [status(id(4), 'done', [task(0, 'verified', notAnEncoding)])]);
    await assert.rejects(c.result(id(4), path.join(dir, 'r4')), /task 0's output .*not a canonical run output/);
  });

  test('status, jobs and an unknown job', async () => {
    const c = new ComputeClient({ oracleUrl: url, consumer });
    assert.equal((await c.status(id(1))).state, 'failed');
    const mine = await c.jobs();
    assert.ok(mine.length >= 1 && mine.every((j) => j.consumer === consumer));
    await assert.rejects(c.status(id(99)), (e: OracleError) => e instanceof OracleError && e.status === 404 && e.reason === 'unknown-job');
    await assert.rejects(c.getBlob(cidOf(enc('never uploaded'))), (e: OracleError) => e.reason === 'unknown-blob');
  });

  test('waitForJob reports each change and returns when the job ends; times out with where it stands', async () => {
    statuses.set(id(5), [
      status(id(5), 'running', [task(0, 'queued'), task(1, 'queued')]),
      status(id(5), 'running', [task(0, 'queued'), task(1, 'queued')]),
      status(id(5), 'running', [task(0, 'verified', 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaa'), task(1, 'running')]),
      status(id(5), 'done', [
        task(0, 'verified', 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaa'),
        task(1, 'verified', 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaa'),
      ]),
    ]);
    const c = new ComputeClient({ oracleUrl: url });
    const seen: string[] = [];
    const done = await c.waitForJob(id(5), { intervalMs: 1, onProgress: (s) => seen.push(`${s.state}:${s.tasks.map((t) => t.state)}`) });
    assert.equal(done.state, 'done');
    assert.deepEqual(seen, ['running:queued,queued', 'running:verified,running', 'done:verified,verified']);
    statuses.set(id(6), [status(id(6), 'running', [task(0, 'verified', 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaa'), task(1, 'running')])]);
    await assert.rejects(
      c.waitForJob(id(6), { timeoutMs: 30, intervalMs: 5 }),
      /job 0x0+6 is still running after 0 s \(1 of 2 tasks verified\)/,
    );
  });
});
