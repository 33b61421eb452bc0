// The devnet's rendering consumer: one job after another, it renders the demo scene's frames on
// the compute network (compute/src/render/job.ts, as `groundwork compute render` does), writes
// them as PNG files, checks each against a local render of the same frame, rejects the ones that
// differ inside the window and accepts the rest, and waits for the escrow to close. What each
// job cost and where its frames are goes to the log and to `jobs`.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreditEscrowAbi, devnetAccounts } from '@groundwork/contracts';
import type { Hex } from 'viem';
import type { Testnet } from './testnet.ts';

/** The account the consumer pays from (devnet account 4: the deployer is 0, the oracles 1-3). */
export const CONSUMER_ACCOUNT = 4;

export type RenderJobSummary = {
  jobId: Hex;
  state: string;
  frames: number;
  /** Frames rejected because they differed from the local render (and run again). */
  rejected: number;
  dir: string;
  seconds: number;
  escrowed: string;
  burned: string;
  refunded: string;
};

export type RenderConsumer = {
  jobs: RenderJobSummary[];
  stop(): Promise<void>;
};

export type RenderConsumerOptions = {
  net: Testnet;
  /** Frames go to <dir>/job-<n>/frame-NNNN.png. */
  dir: string;
  /** Frames per job (default 6). */
  frames?: number;
  /** Least milliseconds from one job's start to the next's (default 0: back to back). */
  intervalMs?: number;
  log?: (line: string) => void;
};

/** The demo scene the devnet renders (networks/compute/scenes/demo.json). */
export function demoScene(): Uint8Array {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return new Uint8Array(readFileSync(path.join(here, '..', '..', 'networks', 'compute', 'scenes', 'demo.json')));
}

export function startRenderConsumer(o: RenderConsumerOptions): RenderConsumer {
  const log = o.log ?? (() => {});
  const jobs: RenderJobSummary[] = [];
  let stopped = false;
  const controller = new AbortController();
  const loop = (async () => {
    const compute = await import('@groundwork/network-compute');
    const wasm = await compute.loadRendererWasm();
    const scene = demoScene();
    const sceneText = Buffer.from(scene).toString('utf8');
    const { frames: sceneFrames } = compute.parseScene(scene);
    const perJob = Math.min(o.frames ?? 6, sceneFrames);
    const client = new compute.ComputeClient({
      oracleUrl: o.net.oracle!.url,
      rpcUrl: o.net.rpcUrl,
      deployment: o.net.deployment,
      privateKey: devnetAccounts(CONSUMER_ACCOUNT).privateKey,
    });
    // After a restart the numbering goes on from the frames already on disk.
    for (let n = lastJobNumber(o.dir) + 1; !stopped; n++) {
      const started = performance.now();
      try {
        // Each job renders the next frames of the animation, wrapping around.
        const first = (((n - 1) * perJob) % sceneFrames) + 1;
        const frames = Array.from({ length: perJob }, (_, i) => ((first - 1 + i) % sceneFrames) + 1);
        const spec = compute.renderJobSpec({
          wasm,
          scene,
          frames,
          maxPrice: 1,
          spotCheck: 0.25,
          fuel: '2e9',
          memory: '64MiB',
          deadline: '10m',
        });
        const submitted = await client.submit(spec, { buyCredits: true });
        const status = await client.waitForJob(submitted.jobId, { signal: controller.signal, intervalMs: 500 });
        const dir = path.join(o.dir, `job-${n}`);
        let outputs = await client.outputs(submitted.jobId, status);
        // The consumer's check: a frame is right when it equals a local render of it.
        const wrong: number[] = [];
        for (const out of outputs) {
          const local = await compute.renderFrameLocally(wasm, sceneText, Number(spec.tasks[out.index]!.value));
          if (!Buffer.from(local).equals(Buffer.from(out.outputs.stdout))) wrong.push(out.index);
        }
        let final = status;
        if (wrong.length) {
          log(`render job ${n}: ${wrong.length} frame(s) differ from the local render; rejecting them`);
          await client.reject(submitted.jobId, wrong);
          final = await client.waitForJob(submitted.jobId, { signal: controller.signal, intervalMs: 500 });
          outputs = await client.outputs(submitted.jobId, final);
        }
        const { written } = await compute.writeRenderedFrames(spec, final, outputs, dir);
        await client.accept(submitted.jobId);
        const closed = await waitForClose(o.net, submitted.jobId, () => stopped);
        if (closed.status !== 3 && closed.status !== 4) break; // stopped before the final settlement
        const summary: RenderJobSummary = {
          jobId: submitted.jobId,
          state: final.state,
          frames: written.length,
          rejected: wrong.length,
          dir,
          seconds: Math.round((performance.now() - started) / 100) / 10,
          escrowed: closed.escrowed.toString(),
          burned: closed.burned.toString(),
          refunded: closed.refunded.toString(),
        };
        jobs.push(summary);
        log(
          `render job ${n} · ${summary.state} · ${summary.frames} frames in ${summary.seconds} s · burned ${summary.burned} of ${summary.escrowed} credits, refunded ${summary.refunded} · ${dir}`,
        );
      } catch (err) {
        if (stopped) break;
        // A failed job (the chain or the oracle restarting, say) is logged; the next one starts on time.
        log(`render job ${n} failed: ${(err as Error).message.split('\n')[0]}`);
        await sleep(1000, controller.signal);
      }
      const wait = (o.intervalMs ?? 0) - (performance.now() - started);
      if (wait > 0) await sleep(wait, controller.signal);
    }
  })().catch((err: Error) => {
    if (!stopped) log(`render consumer stopped: ${err.message.split('\n')[0]}`);
  });
  return {
    jobs,
    async stop() {
      stopped = true;
      controller.abort();
      await loop;
    },
  };
}

/** The highest `job-<n>` directory under `dir` (0 when there is none). */
function lastJobNumber(dir: string): number {
  let last = 0;
  try {
    for (const name of readdirSync(dir)) {
      const m = /^job-(\d+)$/.exec(name);
      if (m) last = Math.max(last, Number(m[1]));
    }
  } catch {
    // no frames yet
  }
  return last;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

type EscrowJob = { status: number; escrowed: bigint; burned: bigint; refunded: bigint };

/** The job's escrow once the oracle's final settlement has closed it (or what it is when stopped). */
async function waitForClose(net: Testnet, jobId: Hex, isStopped: () => boolean): Promise<EscrowJob> {
  for (;;) {
    const job = (await net.client.readContract({
      address: net.deployment.addresses.escrow!,
      abi: CreditEscrowAbi,
      functionName: 'job',
      args: [jobId],
    })) as unknown as EscrowJob;
    if (job.status === 3 || job.status === 4 || isStopped()) return job;
    await new Promise((r) => setTimeout(r, 250));
  }
}
