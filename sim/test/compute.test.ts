// The compute network end to end on a real chain: a consumer renders frames with the demo
// renderer through the devnet harness. Four compute providers of four owners, one of them planted
// to return wrong pixels at the lowest price (so it is offered work first). Every task is
// spot-checked (spotCheck 1), so the liar's results are contradicted by two other owners; the job
// still completes with frames byte-identical to a local run; the credits burned are exactly the
// metered price of the verified runs, attributed to the devices that ran them, and the rest is
// refunded once the consumer accepts the frames; the liar is paid nothing, and its lie becomes a finding in the epoch artifact (and a
// slash order) that `epoch verify` rechecks.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Address, type Hex, parseEventLogs } from 'viem';
import { CreditEscrowAbi, devnetAccounts, ServiceCreditsAbi } from '@groundwork/contracts';
import {
  cidOf,
  ComputeClient,
  computeWorker,
  DEFAULT_COMPUTE_PARAMETERS,
  type JobStatus,
  loadRendererWasm,
  MAX_BLOB_BYTES,
  readJobSpecFile,
  renderFrameLocally,
  runCost,
} from '@groundwork/network-compute';
import { leafAccount } from '@groundwork/oracle';
import { startTestnet, type Testnet } from '@groundwork/sim';

const LIAR = 3;
const FRAMES = 3;
const SCENE = {
  width: 32,
  height: 18,
  samples: 2,
  maxDepth: 3,
  seed: 11,
  frames: FRAMES,
  camera: { position: [0, 2, 6], lookAt: [0, 0.6, 0], fov: 40, orbit: { center: [0, 0, 0], turns: 0.5 } },
  objects: [
    { type: 'plane', point: [0, 0, 0], normal: [0, 1, 0], material: { type: 'diffuse', color: [0.8, 0.8, 0.8] } },
    { type: 'sphere', center: [0, 1, 0], radius: 1, material: { type: 'metal', color: [0.9, 0.9, 0.9], fuzz: 0.1 } },
    { type: 'sphere', center: [-1.5, 0.5, 1], radius: 0.5, material: { type: 'emissive', color: [1, 0.6, 0.2], strength: 3 } },
  ],
};

describe('compute network: a render job through the devnet', () => {
  let net: Testnet;
  let dir: string;
  let client: ComputeClient;
  let jobId: Hex;
  let status: JobStatus;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gw-compute-'));
    net = await startTestnet({
      devices: 4,
      epochSeconds: 10,
      networks: [
        { kind: 'uptime', weight: 1n },
        { kind: 'compute', weight: 1n },
      ],
      network: () => 'compute',
      // The smallest blob store allowed: one blob of the largest size would not fit beside the job's.
      oracle: { parameters: { compute: { ...DEFAULT_COMPUTE_PARAMETERS, maxStoredBytes: MAX_BLOB_BYTES } } },
      // The liar asks the least, so the matcher offers it work first.
      worker: (i) =>
        i === LIAR
          ? computeWorker({ pricePerMCU: '0.1', maxConcurrent: 2, cheat: 'wrong-output' })
          : computeWorker({ pricePerMCU: `0.${i + 2}`, maxConcurrent: 2, attributes: { region: i === 1 ? 'eu' : 'us' } }),
    });
    const wasm = await loadRendererWasm();
    writeFileSync(path.join(dir, 'render.wasm'), wasm);
    writeFileSync(path.join(dir, 'scene.json'), JSON.stringify(SCENE));
    writeFileSync(
      path.join(dir, 'job.yaml'),
      [
        'version: "groundwork/job@1"',
        'program: ./render.wasm',
        'args: ["--frame", "{task}"]',
        'stdin: ./scene.json',
        `tasks: 1-${FRAMES}`,
        'resources: { memory: 64MiB, fuel: 5e8 }',
        'deadline: 10m',
        'maxPrice: 1',
        'verification: { spotCheck: 1, redundancy: 1 }',
        '',
      ].join('\n'),
    );
    client = new ComputeClient({
      oracleUrl: net.oracle!.url,
      rpcUrl: net.rpcUrl,
      deployment: net.deployment,
      privateKey: devnetAccounts(0).privateKey,
    });
  });
  after(async () => {
    await net?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the job completes and every frame equals a local render', async () => {
    const spec = await readJobSpecFile(path.join(dir, 'job.yaml'));
    const submitted = await client.submit(spec, { buyCredits: true });
    jobId = submitted.jobId;
    status = await client.waitForJob(jobId, { timeoutMs: 120_000 });
    assert.equal(status.state, 'done', JSON.stringify(status));
    const out = path.join(dir, 'out');
    await client.result(jobId, out);
    const wasm = await loadRendererWasm();
    for (let f = 1; f <= FRAMES; f++) {
      const local = await renderFrameLocally(wasm, JSON.stringify(SCENE), f);
      const fromNetwork = readFileSync(path.join(out, String(f - 1), 'stdout'));
      assert.ok(Buffer.from(local).equals(fromNetwork), `frame ${f} is byte-identical to the local render`);
    }
    // The frames are right: the consumer accepts them now rather than at the end of the window.
    assert.ok(
      status.tasks.every((t) => t.acceptBy !== null && t.acceptBy > Date.now()),
      'each frame waits in its window',
    );
    const { accepted } = await client.accept(jobId);
    assert.deepEqual(accepted, [0, 1, 2]);
    // Accepted frames can no longer be rejected; nobody but the consumer may accept or reject;
    // bad bodies are named.
    await assert.rejects(client.reject(jobId, [0]), /409 .*window-closed: task 0's window closed/);
    const stranger = new ComputeClient({
      oracleUrl: net.oracle!.url,
      deployment: net.deployment,
      privateKey: devnetAccounts(7).privateKey,
    });
    await assert.rejects(stranger.reject(jobId, [1]), /403 .*not-consumer: the signature is by 0x/);
    await assert.rejects(client.reject(jobId, [99]), /400 .*malformed: tasks: job 0x[0-9a-f]+ has no task 99/);
    const post = (action: string, body: unknown) =>
      fetch(`${net.oracle!.url}/v1/compute/jobs/${jobId}/${action}`, { method: 'POST', body: JSON.stringify(body) });
    const bad = await post('reject', { tasks: [1], signature: '0x12' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { detail: string }).detail, /signature: must be a 65-byte hex signature/);
    const none = await post('reject', { signature: `0x${'11'.repeat(65)}` });
    assert.match(((await none.json()) as { detail: string }).detail, /tasks: name the tasks to reject/);
  });

  test('credits burned are the metered price of the verified runs, per device; the rest is refunded; the liar gets nothing', async () => {
    const liar = net.providers[LIAR]!.device;
    // The final settlement closes the escrow (it follows the last verified task within seconds).
    type EscrowJob = { status: number; escrowed: bigint; burned: bigint; refunded: bigint };
    let job: EscrowJob | null = null;
    for (let i = 0; i < 200; i++) {
      job = (await net.client.readContract({
        address: net.deployment.addresses.escrow!,
        abi: CreditEscrowAbi,
        functionName: 'job',
        args: [jobId],
      })) as unknown as EscrowJob;
      if (job!.status === 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(job!.status, 3, 'settled and closed');
    assert.equal(job!.escrowed, job!.burned + job!.refunded, 'escrowed = burned + refunded');
    const logs = await net.client.getLogs({ address: net.deployment.addresses.credits, fromBlock: 0n });
    const spent = parseEventLogs({ abi: ServiceCreditsAbi, logs, eventName: 'CreditsSpent' }).filter(
      (l) => l.args.spender.toLowerCase() === net.deployment.addresses.escrow!.toLowerCase(),
    );
    const byDevice = new Map<string, bigint>();
    for (const l of spent) {
      const d = `0x${l.args.deviceId.toString(16).padStart(64, '0')}`;
      byDevice.set(d, (byDevice.get(d) ?? 0n) + l.args.credits);
    }
    assert.equal(byDevice.get(liar) ?? 0n, 0n, 'the liar is paid nothing');
    const total = [...byDevice.values()].reduce((a, b) => a + b, 0n);
    assert.equal(total, job!.burned);
    // On chain exactly what the service recorded as verified runs, device by device.
    const rows = await net.oracle!.db.query<{ device: string; amount: string }>(
      'select device, sum(amount::numeric)::text as amount from compute_payments where job_id = $1 group by device',
      [jobId],
    );
    const paid = new Map(rows.map((r) => [r.device, BigInt(r.amount)]));
    assert.deepEqual(new Map([...byDevice].filter(([, v]) => v > 0n)), paid);
    // Each frame ran on at least two honest devices of two owners (the first run and its spot
    // check, or the deciding run against the liar), and each is paid units × its own ask, rounded up.
    assert.ok(status.tasks.every((t) => t.computeUnits && BigInt(t.computeUnits) > 0n));
    for (const [i, p] of net.providers.entries()) {
      if (i === LIAR) continue;
      const price = BigInt(i + 2) * 100_000n; // 0.(i+2) credits per million units, times 10^6
      const units = status.tasks.filter((t) => t.computeUnits).map((t) => BigInt(t.computeUnits!));
      const got = paid.get(p.device) ?? 0n;
      // A device ran some subset of the frames; its pay is the sum of runCost over them.
      const possible = subsetSums(units.map((u) => runCost(u, price)));
      assert.ok(possible.has(got), `device ${i} was paid ${got}, a sum of its frames' metered prices`);
    }
  });

  test("each epoch's usage pool pays the devices in proportion to the credits burned for them", async () => {
    const logs = await net.client.getLogs({ address: net.deployment.addresses.credits, fromBlock: 0n });
    const spent = parseEventLogs({ abi: ServiceCreditsAbi, logs, eventName: 'CreditsSpent' }).filter(
      (l) => l.args.spender.toLowerCase() === net.deployment.addresses.escrow!.toLowerCase(),
    );
    assert.ok(spent.length > 0);
    // Credits per epoch (by the block's time, as the follower and the closer count them) and device.
    const byEpoch = new Map<number, Map<string, bigint>>();
    for (const l of spent) {
      const block = await net.client.getBlock({ blockNumber: l.blockNumber });
      const epoch = net.clock.epochAtMs(Number(block.timestamp) * 1000);
      const d = `0x${l.args.deviceId.toString(16).padStart(64, '0')}`;
      const m = byEpoch.get(epoch) ?? new Map<string, bigint>();
      m.set(d, (m.get(d) ?? 0n) + l.args.credits);
      byEpoch.set(epoch, m);
    }
    const cumulative = async (epoch: number) => {
      const r = await net.oracle!.epochs.result(epoch);
      const out = new Map<string, bigint>();
      for (let i = 0; i < (r?.leaves.amounts.length ?? 0); i++) out.set(leafAccount(r!.leaves, i).toLowerCase(), r!.leaves.amounts[i]!);
      return out;
    };
    for (const [epoch, credits] of byEpoch) {
      await net.waitForEpoch(epoch, 60_000);
      const { summary } = (await net.oracle!.epochs.result(epoch))!;
      const pool = BigInt(summary.networks.find((n) => n.kind === 'compute')!.usagePool);
      const total = [...credits.values()].reduce((a, b) => a + b, 0n);
      assert.ok(pool > 0n, `epoch ${epoch} paid a usage pool`);
      const [now, before] = [await cumulative(epoch), await cumulative(epoch - 1)];
      for (const p of net.providers) {
        // Every device here is on the compute network and its owner's only one: its reward is its usage.
        const earned = (now.get(p.owner.toLowerCase()) ?? 0n) - (before.get(p.owner.toLowerCase()) ?? 0n);
        const expected = (pool * (credits.get(p.device) ?? 0n)) / total;
        assert.ok(earned - expected <= 1n && expected - earned <= 1n, `epoch ${epoch} device ${p.index}: ${earned} for ${expected}`);
      }
    }
  });

  test('the lie is a finding in the artifact, with a slash order, and epoch verify rechecks it', async () => {
    const liar = net.providers[LIAR]!.device;
    const verdicts = await net.oracle!.db.query<{ epoch: string }>("select epoch from oracle_inputs where network = 'compute'");
    assert.ok(verdicts.length >= 1, 'the spot-checker recorded a verdict');
    const epoch = Math.max(...verdicts.map((v) => Number(v.epoch)));
    await net.waitForEpoch(epoch, 60_000);
    // The slash order goes to the chain after the root (oracle/src/slashing.ts).
    type Orders = { orders: { device: string; kind: string; state: string }[] };
    let orders: Orders = { orders: [] };
    for (let i = 0; i < 300; i++) {
      orders = (await (await fetch(`${net.oracle!.url}/v1/slash-orders?epoch=${epoch}`)).json()) as Orders;
      if (orders.orders.some((o) => o.device === liar && (o.state === 'proposed' || o.state === 'executed'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(
      orders.orders.some((o) => o.device === liar && o.kind === 'wrong-output' && (o.state === 'proposed' || o.state === 'executed')),
      JSON.stringify(orders),
    );
    const result = await net.verify(epoch);
    assert.equal(result.pass, true, JSON.stringify(result.checks.filter((c) => !c.ok)));
    assert.ok(!orders.orders.some((o) => o.device !== liar), 'no honest device is accused');
  });

  test('an upload past the blob store’s cap is refused (507) and nothing is stored', async () => {
    const big = new Uint8Array(MAX_BLOB_BYTES).fill(7);
    const cid = cidOf(big);
    const url = `${net.oracle!.url}/v1/compute/blobs/${cid}`;
    const res = await fetch(url, { method: 'PUT', body: big, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 507);
    const body = (await res.json()) as { error: string; detail: string };
    assert.equal(body.error, 'store-full');
    assert.match(body.detail, /of its 67108864 bytes; 67108864 more do not fit/);
    assert.equal((await fetch(url)).status, 404);
  });

  test('a job that requires an attribute runs only where an offer has it, and says why when none has', async () => {
    const job = (attributes: string) =>
      [
        'version: "groundwork/job@1"',
        'program: ./render.wasm',
        'args: ["--frame", "{task}"]',
        'stdin: ./scene.json',
        'tasks: 1',
        'resources: { memory: 64MiB, fuel: 5e8 }',
        'deadline: 10m',
        'maxPrice: 1',
        'verification: { spotCheck: 0 }',
        `attributes: ${attributes}`,
        '',
      ].join('\n');
    writeFileSync(path.join(dir, 'eu.yaml'), job('{ region: eu }'));
    writeFileSync(path.join(dir, 'mars.yaml'), job('{ region: mars }'));
    const eu = await client.submit(await readJobSpecFile(path.join(dir, 'eu.yaml')), { buyCredits: true });
    const done = await client.waitForJob(eu.jobId, { timeoutMs: 60_000, intervalMs: 200 });
    assert.equal(done.state, 'done');
    assert.equal(done.tasks[0]!.device, net.providers[1]!.device, 'only device 1 offers region=eu');
    await client.accept(eu.jobId);
    const mars = await client.submit(await readJobSpecFile(path.join(dir, 'mars.yaml')), { buyCredits: true });
    let reason = '';
    for (let i = 0; i < 100 && !reason; i++) {
      reason = (await client.status(mars.jobId)).tasks[0]!.reason ?? '';
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(reason, /no provider has every required attribute .*region=mars: 0/);
    await client.cancel(mars.jobId);
  });
});

function subsetSums(values: bigint[]): Set<bigint> {
  let sums = new Set<bigint>([0n]);
  for (const v of values) sums = new Set([...sums, ...[...sums].map((s) => s + v)]);
  return sums;
}

export type { Address };
