// A render of a scene's frames as a compute job, and its outputs as PNG files: what
// `groundwork compute render` and the devnet's rendering consumer both do. The job is written as
// a spec document and planned like any job.yaml, so it is checked and costed the same way (a
// JobSpecError names the spec's field; the CLI maps it back to its flag).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TaskOutput } from '../client/index.ts';
import type { JobStatus } from '../plugin/wire.ts';
import { type JobSpec, planJobSpec, resolveJobSpec } from '../spec/index.ts';
import { JOB_VERSION } from '../spec/schema.ts';
import { decodeRawImage, encodePng } from './image.ts';

export type RenderJobOptions = {
  /** The renderer module (loadRendererWasm) and the scene file's bytes (checked with parseScene first). */
  wasm: Uint8Array;
  scene: Uint8Array;
  /** 1-based frame numbers, one task each. */
  frames: number[];
  /** Credits per million compute units, at most. */
  maxPrice: number;
  /** A share from 0 to 1, or a percentage such as '10%'. */
  spotCheck: number | string;
  /** Fuel and memory per frame, as a spec writes them ('2e9', '64MiB'). */
  fuel: string;
  memory: string;
  /** From now, as a spec writes it ('30m'). */
  deadline: string;
  now?: number;
};

/** The render as a checked job spec; JobSpecError when an option does not fit the spec. */
export function renderJobSpec(o: RenderJobOptions): JobSpec {
  const doc = {
    version: JOB_VERSION,
    program: './renderer.wasm',
    args: ['--frame', '{task}'],
    stdin: './scene.json',
    tasks: o.frames,
    resources: { memory: o.memory, fuel: o.fuel },
    deadline: o.deadline,
    maxPrice: o.maxPrice,
    verification: { spotCheck: o.spotCheck, redundancy: 1 },
  };
  // The files are given from memory; the base directory only names them.
  const base = path.resolve('.groundwork-render');
  const plan = planJobSpec(JSON.stringify(doc), { baseDir: base, now: o.now ?? Date.now() });
  return resolveJobSpec(
    plan,
    new Map([
      [path.join(base, 'renderer.wasm'), o.wasm],
      [path.join(base, 'scene.json'), o.scene],
    ]),
  );
}

export type WrittenFrame = { frame: number; task: number; file: string };
export type MissingFrame = { frame: number; task: number; state: string; reason: string };

/** Writes each verified frame of a render job as `frame-NNNN.png` under `outDir`; says why each other frame is missing. */
export async function writeRenderedFrames(
  spec: JobSpec,
  status: JobStatus,
  outputs: readonly TaskOutput[],
  outDir: string,
): Promise<{ written: WrittenFrame[]; missing: MissingFrame[] }> {
  const byTask = new Map(outputs.map((x) => [x.index, x]));
  await mkdir(outDir, { recursive: true });
  const written: WrittenFrame[] = [];
  const missing: MissingFrame[] = [];
  for (const t of status.tasks) {
    const frame = Number(spec.tasks[t.index]?.value);
    const got = byTask.get(t.index);
    if (!got) {
      missing.push({ frame, task: t.index, state: t.state, reason: t.reason ?? t.state });
      continue;
    }
    if (got.outputs.exitCode !== 0) {
      missing.push({ frame, task: t.index, state: t.state, reason: `the renderer exited with status ${got.outputs.exitCode}` });
      continue;
    }
    let png: Uint8Array;
    try {
      png = encodePng(decodeRawImage(got.outputs.stdout));
    } catch (err) {
      missing.push({ frame, task: t.index, state: t.state, reason: `its output is not an image: ${(err as Error).message}` });
      continue;
    }
    const file = path.resolve(outDir, `frame-${String(frame).padStart(4, '0')}.png`);
    await writeFile(file, png);
    written.push({ frame, task: t.index, file });
  }
  return { written, missing };
}
