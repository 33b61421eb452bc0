// The compute network with providers that fail it, through the devnet harness on a real chain.
// Seven compute providers of seven owners: three honest, one liar (wrong pixels, and the lowest
// price, so it gets work first), one that takes tasks and never answers, and one that vanishes
// (its agent stops) on the first task it is given.
//
// A 48-frame render with a fixed job id, so a fixed spot-check draw at rate 0.5: the liar is
// caught on exactly the frames it ran on time that the draw re-ran elsewhere, about half of them
// (a run that timed out on a loaded machine runs again elsewhere, so its late lie may be caught
// or dropped, but never decides a drawn frame); the
// consumer then compares the frames with a local render, rejects the wrong ones inside its
// window, and each runs again on other owners, where the deciding run catches the liar too. The
// job ends with every frame byte-identical to the local render; the silent, the vanished and the
// lying device are paid nothing; no run is paid twice; escrowed = burned + refunded; the liar's
// stake is slashed on chain. A second job whose module loops forever fails with the sandbox's
// reason, the fuel it burned is paid, and the rest of its escrow is refunded.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Hex, parseEventLogs } from 'viem';
import { CreditEscrowAbi, DeviceRegistryAbi, devnetAccounts, ServiceCreditsAbi } from '@groundwork/contracts';
import {
  ComputeClient,
  computeWorker,
  DEFAULT_COMPUTE_PARAMETERS,
  type JobStatus,
  loadRendererWasm,
  readJobSpecFile,
  renderFrameLocally,
  spotChecked,
} from '@groundwork/network-compute';
import type { Worker } from '@groundwork/protocol';
import { startTestnet, type Testnet } from '@groundwork/sim';
import { INFINITE_LOOP } from '../../networks/compute/test/fixtures/sandbox/wat.ts';

const HONEST = [0, 1, 2];
const LIAR = 3;
const SILENT = 4;
const VANISHER = 5;
const FRAMES = 48;
const RATE = 0.5;
const SCENE = {
  width: 6,
  height: 4,
  samples: 1,
  maxDepth: 2,
  seed: 5,
  frames: FRAMES,
  camera: { position: [0, 2, 6], lookAt: [0, 0.6, 0], fov: 40, orbit: { center: [0, 0, 0], turns: 1 } },
  objects: [
    { type: 'plane', point: [0, 0, 0], normal: [0, 1, 0], material: { type: 'diffuse', color: [0.8, 0.8, 0.8] } },
    { type: 'sphere', center: [0, 1, 0], radius: 1, material: { type: 'diffuse', color: [0.9, 0.2, 0.2] } },
    { type: 'sphere', center: [-1.5, 0.5, 1], radius: 0.5, material: { type: 'emissive', color: [1, 0.6, 0.2], strength: 3 } },
  ],
};

type EscrowJob = { status: number; escrowed: bigint; burned: bigint; refunded: bigint };

describe('compute network: liars, silent and vanishing providers, a module that never ends', () => {
  let net: Testnet;
  let dir: string;
  let client: ComputeClient;
  let wasm: Uint8Array;
  let render: { jobId: Hex; status: JobStatus; liarTasks: Set<number>; caught: Set<number>; won: number[] };
  let vanisherGotTask = false;
  /** The oracle's log: which runs timed out (a loaded machine may delay any run past the timeout). */
  const logLines: string[] = [];
  const log = (line: string) => {
    logLines.push(line);
    if (process.env.GW_TEST_LOG) console.error(line);
  };
  const timedOut = (jobId: Hex, device: Hex) =>
    new Set(
      logLines
        .map((l) => new RegExp(`task (\\d+) of job ${jobId.slice(0, 10)}: the run on device ${device.slice(0, 10)} timed out`).exec(l))
        .filter((m) => m !== null)
        .map((m) => Number(m[1])),
    );
  const sorted = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b);

  /** The agent of the vanishing provider stops on its first task (its socket closes mid-run). */
  function vanishing(): Worker {
    const inner = computeWorker({ pricePerMCU: '0.2', maxConcurrent: 1 });
    return {
      ...inner,
      async onService() {
        if (vanisherGotTask) return;
        vanisherGotTask = true;
        await net.providers[VANISHER]!.agent?.stop();
      },
    };
  }

  const escrowJob = async (jobId: Hex) =>
    (await net.client.readContract({
      address: net.deployment.addresses.escrow!,
      abi: CreditEscrowAbi,
      functionName: 'job',
      args: [jobId],
    })) as unknown as EscrowJob;

  async function until<T>(what: string, fn: () => Promise<T | false>, ms = 60_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v !== false) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Tasks of `jobId` the device signed a result for (ingest keeps every accepted report). */
  async function tasksAnsweredBy(jobId: Hex, device: Hex): Promise<Set<number>> {
    const rows = await net.oracle!.db.query<{ report: string }>(
      "select report from reports where network = 'compute' and type = 'result' and device = $1",
      [device],
    );
    const tasks = rows.map((r) => JSON.parse(r.report).body as { job: string; task: number }).filter((b) => b.job === jobId);
    return new Set(tasks.map((b) => b.task));
  }

  async function verdictsAgainst(jobId: Hex, device: Hex): Promise<Set<number>> {
    const rows = await net.oracle!.db.query<{ input: string }>("select input from oracle_inputs where network = 'compute'");
    const verdicts = rows.map((r) => JSON.parse(r.input) as { job: string; task: number; accused: string });
    return new Set(verdicts.filter((v) => v.job === jobId && v.accused === device).map((v) => v.task));
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gw-compute-faults-'));
    net = await startTestnet({
      devices: 6,
      epochSeconds: 10,
      networks: [
        { kind: 'uptime', weight: 1n },
        { kind: 'compute', weight: 1n },
      ],
      network: () => 'compute',
      slashWindow: 1,
      log,
      oracle: {
        // A silent provider is given up on after 8 s: far longer than an honest run takes even
        // on a loaded machine (the module is metered once, at submission, for every provider in
        // this process), so that no honest or lying result comes after its run was given away,
        // which would blur which results the spot checks judged. The consumer's window stays
        // open until it acts.
        parameters: { compute: { ...DEFAULT_COMPUTE_PARAMETERS, runTimeoutMs: 8000, settleEveryMs: 500 } },
      },
      worker: (i) => {
        if (i === LIAR) return computeWorker({ pricePerMCU: '0.1', maxConcurrent: 4, cheat: 'wrong-output' });
        if (i === SILENT) return computeWorker({ pricePerMCU: '0.2', maxConcurrent: 1, cheat: 'silent' });
        if (i === VANISHER) return vanishing();
        return computeWorker({ pricePerMCU: `0.${i + 3}`, maxConcurrent: 2 });
      },
    });
    wasm = await loadRendererWasm();
    writeFileSync(path.join(dir, 'render.wasm'), wasm);
    writeFileSync(path.join(dir, 'scene.json'), JSON.stringify(SCENE));
    writeFileSync(path.join(dir, 'loop.wasm'), INFINITE_LOOP);
    const spec = (lines: string[]) => `${['version: "groundwork/job@1"', 'deadline: 10m', ...lines].join('\n')}\n`;
    writeFileSync(
      path.join(dir, 'render.yaml'),
      spec([
        'program: ./render.wasm',
        'args: ["--frame", "{task}"]',
        'stdin: ./scene.json',
        `tasks: 1-${FRAMES}`,
        'resources: { memory: 64MiB, fuel: 5e7 }',
        'maxPrice: 1',
        `verification: { spotCheck: ${RATE}, redundancy: 1 }`,
      ]),
    );
    writeFileSync(
      path.join(dir, 'loop.yaml'),
      spec(['program: ./loop.wasm', 'tasks: 2', 'resources: { memory: 1MiB, fuel: 2e6 }', 'maxPrice: 1', 'verification: { spotCheck: 1 }']),
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

  test('the liar is caught by the spot checks on exactly the drawn frames it ran, at about the rate', async (t) => {
    const submitted = await client.submit(await readJobSpecFile(path.join(dir, 'render.yaml')), { buyCredits: true, nonce: 7n });
    const status = await client.waitForJob(submitted.jobId, {
      timeoutMs: 240_000,
      intervalMs: 250,
      onProgress: (s) => process.env.GW_TEST_LOG && console.error(JSON.stringify(s.tasks.slice(0, 4))),
    });
    assert.equal(status.state, 'done', JSON.stringify(status.tasks.filter((t) => t.state !== 'verified')));
    const liar = net.providers[LIAR]!.device;
    const liarTasks = await tasksAnsweredBy(submitted.jobId, liar);
    const caught = await verdictsAgainst(submitted.jobId, liar);
    const drawn = new Set([...liarTasks].filter((t) => spotChecked(submitted.jobId, t, RATE)));
    const late = timedOut(submitted.jobId, liar);
    const onTime = [...liarTasks].filter((t) => !late.has(t));
    assert.deepEqual(
      sorted(onTime.filter((t) => caught.has(t))),
      sorted(onTime.filter((t) => drawn.has(t))),
      'a run on time is caught iff the draw re-ran it',
    );
    // The frames the liar's output decided: never a drawn one, never one it was caught on.
    const won = status.tasks.filter((x) => x.device === liar).map((x) => x.index);
    assert.deepEqual(
      won.filter((t) => drawn.has(t) || caught.has(t)),
      [],
      'no drawn or caught frame is decided by the liar',
    );
    // A late lie on an undrawn frame decides it or is dropped, but is never judged: the run that
    // replaced it is withdrawn once the frame is decided, and a decided frame never runs again.
    assert.deepEqual(
      sorted(caught).filter((t) => !drawn.has(t)),
      [],
      'a verdict only on a frame the draw re-ran',
    );
    // The draw is fixed by the job id; how many frames the liar ran depends on timing. Either way
    // the share drawn is the rate, within four standard deviations.
    const n = liarTasks.size;
    assert.ok(n >= 12, `the liar (cheapest) ran ${n} frames`);
    const sigma = Math.sqrt((RATE * (1 - RATE)) / n);
    assert.ok(Math.abs(drawn.size / n - RATE) <= 4 * sigma, `drawn ${drawn.size} of ${n}`);
    t.diagnostic(
      `the liar ran ${n} of ${FRAMES} frames (${late.size} timed out); the spot checks caught ${caught.size} (${(caught.size / n).toFixed(2)})`,
    );
    assert.ok(vanisherGotTask, 'the vanishing provider was given a task before it vanished');
    render = { jobId: submitted.jobId, status, liarTasks, caught, won };
  });

  test('the consumer rejects the wrong frames in its window; they run again and every frame is right', async () => {
    const { jobId } = render;
    const wrong = new Set<number>();
    const outputs = await client.outputs(jobId);
    for (const o of outputs) {
      const local = await renderFrameLocally(wasm, JSON.stringify(SCENE), o.index + 1);
      if (!Buffer.from(local).equals(Buffer.from(o.outputs.stdout))) wrong.add(o.index);
    }
    const uncaught = sorted(render.won);
    assert.deepEqual(sorted(wrong), uncaught, 'the wrong frames are the ones the liar’s output decided');
    assert.ok(uncaught.length > 0);
    const { rejected } = await client.reject(jobId, uncaught);
    assert.deepEqual(rejected, uncaught);
    await assert.rejects(client.reject(jobId, [uncaught[0]!]), /already-rejected/, 'a task is rejected once');
    const after = await client.waitForJob(jobId, { timeoutMs: 120_000, intervalMs: 250 });
    assert.equal(after.state, 'done');
    for (const o of await client.outputs(jobId)) {
      const local = await renderFrameLocally(wasm, JSON.stringify(SCENE), o.index + 1);
      assert.ok(Buffer.from(local).equals(Buffer.from(o.outputs.stdout)), `frame ${o.index + 1} equals the local render`);
    }
    assert.equal((await client.outputs(jobId)).length, FRAMES);
    const caughtNow = await verdictsAgainst(jobId, net.providers[LIAR]!.device);
    assert.deepEqual(sorted(caughtNow), sorted(new Set([...render.caught, ...render.won])), 'every lie that counted is a verdict now');
    const { accepted } = await client.accept(jobId);
    assert.equal(accepted.length, FRAMES);
  });

  test('only honest devices are paid, no run twice; escrowed = burned + refunded', async () => {
    const { jobId } = render;
    const job = await until('the final settlement', async () => {
      const j = await escrowJob(jobId);
      return j.status === 3 && j;
    });
    assert.equal(job.escrowed, job.burned + job.refunded);
    // The credits each settlement of this job burned, device by device (spent in the same transaction).
    const settlements = await net.client.getContractEvents({
      address: net.deployment.addresses.escrow!,
      abi: CreditEscrowAbi,
      eventName: 'JobSettled',
      args: { jobId },
      fromBlock: 0n,
    });
    const txs = new Set(settlements.map((e) => e.transactionHash));
    const logs = await net.client.getLogs({ address: net.deployment.addresses.credits, fromBlock: 0n });
    const spent = parseEventLogs({ abi: ServiceCreditsAbi, logs, eventName: 'CreditsSpent' }).filter((l) => txs.has(l.transactionHash));
    const byDevice = new Map<string, bigint>();
    for (const l of spent) {
      const d = `0x${l.args.deviceId.toString(16).padStart(64, '0')}`;
      byDevice.set(d, (byDevice.get(d) ?? 0n) + l.args.credits);
    }
    for (const i of [LIAR, SILENT, VANISHER]) assert.equal(byDevice.get(net.providers[i]!.device) ?? 0n, 0n, `device ${i} is paid nothing`);
    assert.ok(
      HONEST.every((i) => (byDevice.get(net.providers[i]!.device) ?? 0n) > 0n),
      'every honest device is paid',
    );
    assert.equal(
      [...byDevice.values()].reduce((a, b) => a + b, 0n),
      job.burned,
    );
    const twice = await net.oracle!.db.query(
      'select task, device from compute_payments where job_id = $1 group by task, device having count(*) > 1',
      [jobId],
    );
    assert.deepEqual(twice, [], 'no device is paid twice for a frame');
    const unsettled = await net.oracle!.db.query('select 1 from compute_payments where job_id = $1 and settled_seq is null', [jobId]);
    assert.equal(unsettled.length, 0);
  });

  test('the liar is slashed on chain, and nobody else', async () => {
    const liar = net.providers[LIAR]!.device;
    const slashed = await until(
      'the slash of the liar',
      async () => {
        const events = await net.client.getContractEvents({
          address: net.deployment.addresses.registry,
          abi: DeviceRegistryAbi,
          eventName: 'DeviceSlashed',
          fromBlock: 0n,
        });
        const mine = events.filter((e) => e.args.deviceId === BigInt(liar));
        return mine.length > 0 && mine;
      },
      90_000,
    );
    assert.ok(slashed[0]!.args.slashed! > 0n);
    const others = await net.client.getContractEvents({
      address: net.deployment.addresses.registry,
      abi: DeviceRegistryAbi,
      eventName: 'DeviceSlashed',
      fromBlock: 0n,
    });
    assert.ok(
      others.every((e) => e.args.deviceId === BigInt(liar)),
      'no other device is slashed',
    );
  });

  test('a module that never ends fails with the sandbox’s reason; its fuel is paid and the rest refunded', async () => {
    const submitted = await client.submit(await readJobSpecFile(path.join(dir, 'loop.yaml')), { buyCredits: true });
    const status = await client.waitForJob(submitted.jobId, { timeoutMs: 60_000, intervalMs: 250 });
    assert.equal(status.state, 'failed');
    assert.match(status.error ?? '', /fuel/);
    for (const t of status.tasks) {
      assert.equal(t.state, 'failed');
      assert.equal(t.error, 'fuel-exhausted');
      assert.equal(t.computeUnits, '2000000', 'stopped at exactly the fuel given');
      assert.match(t.reason ?? '', /used all of the task's fuel/);
    }
    await client.accept(submitted.jobId);
    const job = await until('the final settlement', async () => {
      const j = await escrowJob(submitted.jobId);
      return j.status === 3 && j;
    });
    assert.ok(job.burned > 0n && job.burned < job.escrowed, `burned ${job.burned} of ${job.escrowed}`);
    assert.equal(job.refunded, job.escrowed - job.burned);
  });
});
