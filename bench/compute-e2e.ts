/**
 * Benchmark: frames per minute of the demo scene rendered through the compute network on a
 * devnet, against the same frames rendered locally in this process, in one run.
 *
 *   node --import tsx bench/compute-e2e.ts [--frames F] [--providers K] [--spot-check S] [--json]
 *
 * Local: the renderer module (networks/compute/renderer) run by Node's own WASI, unmetered, frame
 * after frame on this thread: what a consumer's machine does alone. Network: a fresh devnet
 * (startTestnet: anvil, the contracts, the oracle) with K compute providers of K owners, each
 * running one task at a time in the metered sandbox, all in this process on this machine's
 * cores. A warm-up job of one frame runs first (each provider loads binaryen and meters the
 * module once, which the timed job then reuses); the timed job is F frames at spot-check rate S:
 * from `submit` (upload, escrow on chain, matching) to every frame verified (runs, spot checks,
 * signed results through ingest). Settlement on chain comes after and is not timed. The
 * network's frames are checked byte for byte against the local ones.
 *
 * Reported: both rates, network/local, the frames that were re-run as spot checks and whether
 * every frame was identical. The network cannot beat one local core by much here: its providers
 * share this machine's cores with the oracle, anvil and each other, and every frame pays the
 * metering (bench/compute-metering.ts), the spot checks and the messaging. What it shows is the
 * overhead of the protocol on one machine; across machines the providers' cores add up.
 * Defaults: 12 frames, 3 providers, spot-check 0.25. Exits 1 if a frame differs or the job fails.
 */
import { parseArgs } from 'node:util';
import { devnetAccounts } from '@groundwork/contracts';
import {
  ComputeClient,
  computeWorker,
  loadRendererWasm,
  parseScene,
  renderFrameLocally,
  renderJobSpec,
  spotChecked,
} from '@groundwork/network-compute';
import { demoScene, startTestnet } from '@groundwork/sim';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '12' },
    providers: { type: 'string', default: '3' },
    'spot-check': { type: 'string', default: '0.25' },
    json: { type: 'boolean', default: false },
  },
});
const frames = Number(values.frames);
const providers = Number(values.providers);
const spotCheck = Number(values['spot-check']);
if (!Number.isInteger(frames) || frames < 1 || frames > 24) throw new RangeError('--frames must be from 1 to 24 (the demo scene)');
if (!Number.isInteger(providers) || providers < 2 || providers > 16) throw new RangeError('--providers must be from 2 to 16');
if (!(spotCheck >= 0 && spotCheck <= 1)) throw new RangeError('--spot-check must be from 0 to 1');
const progress = (line: string) => process.stderr.write(`${line}\n`);

const wasm = await loadRendererWasm();
const scene = demoScene();
const sceneText = Buffer.from(scene).toString('utf8');
const { width, height, samples } = parseScene(scene);
const list = Array.from({ length: frames }, (_, i) => i + 1);

// Local, after one untimed frame (V8 compiles the module lazily).
await renderFrameLocally(wasm, sceneText, 1);
const localFrames: Uint8Array[] = [];
let t = performance.now();
for (const f of list) localFrames.push(await renderFrameLocally(wasm, sceneText, f));
const localMs = performance.now() - t;
progress(`local: ${frames} frames in ${Math.round(localMs)} ms`);

const net = await startTestnet({
  devices: providers,
  epochSeconds: 30,
  networks: [
    { kind: 'uptime', weight: 1n },
    { kind: 'compute', weight: 1n },
  ],
  network: () => 'compute',
  worker: (i) => computeWorker({ pricePerMCU: `0.${3 + (i % 5)}`, maxConcurrent: 1 }),
});
let exit = 0;
try {
  const client = new ComputeClient({
    oracleUrl: net.oracle!.url,
    rpcUrl: net.rpcUrl,
    deployment: net.deployment,
    privateKey: devnetAccounts(0).privateKey,
  });
  const job = (fs: number[]) =>
    renderJobSpec({ wasm, scene, frames: fs, maxPrice: 1, spotCheck, fuel: '2e9', memory: '64MiB', deadline: '30m' });
  t = performance.now();
  const warm = await client.submit(job([1]), { buyCredits: true });
  await client.waitForJob(warm.jobId, { intervalMs: 100 });
  progress(`warm-up job (1 frame, every provider loads the sandbox): ${Math.round(performance.now() - t)} ms`);
  // Every provider meters the module once; the warm-up reached only the one that took it.
  const warmAll = await client.submit(job(list.slice(0, providers)), { buyCredits: true });
  await client.waitForJob(warmAll.jobId, { intervalMs: 100 });

  const spec = job(list);
  t = performance.now();
  const submitted = await client.submit(spec, { buyCredits: true });
  const status = await client.waitForJob(submitted.jobId, { intervalMs: 50 });
  const networkMs = performance.now() - t;
  if (status.state !== 'done') throw new Error(`the timed job ended ${status.state}: ${status.error}`);
  const outputs = await client.outputs(submitted.jobId, status);
  const identical = outputs.length === frames && outputs.every((o) => Buffer.from(o.outputs.stdout).equals(localFrames[o.index]!));
  const checked = list.filter((_, i) => spotChecked(submitted.jobId, i, spotCheck)).length;
  progress(`network: ${frames} frames in ${Math.round(networkMs)} ms (${checked} re-run as spot checks)`);
  const perMinute = (ms: number) => Math.round((frames / (ms / 60_000)) * 10) / 10;
  const result = {
    bench: 'compute-e2e',
    scene: { width, height, samples },
    frames,
    providers,
    spotCheck,
    spotChecked: checked,
    local: { ms: Math.round(localMs), framesPerMinute: perMinute(localMs) },
    network: { ms: Math.round(networkMs), framesPerMinute: perMinute(networkMs) },
    ratio: Math.round((perMinute(networkMs) / perMinute(localMs)) * 1000) / 1000,
    identical,
    cores: (await import('node:os')).availableParallelism(),
  };
  if (!identical) exit = 1;
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`local   ${result.local.framesPerMinute} frames/min (${result.local.ms} ms for ${frames})`);
    console.log(
      `network ${result.network.framesPerMinute} frames/min (${result.network.ms} ms, ${providers} providers, ${checked} spot checks)`,
    );
    console.log(`network/local ${result.ratio}; frames identical: ${identical}`);
  }
} finally {
  await net.stop();
}
process.exit(exit);
