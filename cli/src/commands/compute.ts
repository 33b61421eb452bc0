// `groundwork compute ...`: what a consumer of the compute network runs. submit a job spec
// (job.yaml: upload, escrow, hand to the oracle), follow it (status, jobs), take the verified
// outputs home (result), accept or reject decided tasks inside their windows (accept, reject),
// stop it (cancel, then reclaim), and render a scene with the demo
// renderer in one step (render). The compute package is imported when a command runs, not when
// the CLI starts: it loads binaryen, which every other command would pay for.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Address, Hex } from 'viem';
import type { Deployment } from '@groundwork/contracts';
import type { ComputeClient, JobSpec, JobStatus, SubmitResult } from '@groundwork/network-compute';
import {
  address,
  flag,
  integer,
  keySource,
  loadDeployment,
  loadPrivateKey,
  optional,
  parseFlags,
  required,
  url,
  type Flags,
  type KeySource,
} from '../args.ts';
import { helpFlag, jsonFlag, type Command } from '../command.ts';
import { CHAIN_OPTIONS, CHAIN_SPEC, type ChainFlags, chainFlags, positional, positionalFile, withClient } from '../consumer.ts';
import { CliError, UsageError, line, oneLine, printJson, step, type Io } from '../io.ts';

type Compute = typeof import('@groundwork/network-compute');
const loadCompute = (): Promise<Compute> => import('@groundwork/network-compute');

function jobArg(f: Flags): Hex {
  const v = positional(f, 'job', 'the job id, 0x + 64 hex digits, as submit printed it');
  if (!/^0x[0-9a-fA-F]{64}$/.test(v)) throw new UsageError(`<job> must be 0x followed by 64 hex digits, got ${JSON.stringify(v)}`);
  return v.toLowerCase() as Hex;
}

function timeoutFlag(f: Flags): number | undefined {
  const t = optional(f, 'timeout');
  return t === undefined ? undefined : integer('timeout', t, { min: 1 }) * 1000;
}

async function chainClient(compute: Compute, o: ChainFlags): Promise<{ client: ComputeClient; deployment: Deployment }> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  const privateKey = loadPrivateKey(o.key);
  if (!deployment.networks.some((n) => n.kind === 'compute'))
    throw new UsageError(
      `--deployment ${o.deploymentFile} has no compute network (it has ${deployment.networks.map((n) => n.kind).join(', ')})`,
    );
  if (!deployment.addresses.escrow)
    throw new UsageError(`--deployment ${o.deploymentFile} has no CreditEscrow address (an older deployment?)`);
  return { client: new compute.ComputeClient({ oracleUrl: o.oracle, rpcUrl: o.rpc, deployment, privateKey }), deployment };
}

function counts(s: JobStatus): string {
  const by = new Map<string, number>();
  for (const t of s.tasks) by.set(t.state, (by.get(t.state) ?? 0) + 1);
  return [...by].map(([state, n]) => `${n} ${state}`).join(', ');
}

function statusLines(s: JobStatus): string[] {
  const out = [`job ${s.jobId}  ${s.state}`];
  out.push(`  consumer  ${s.consumer}`);
  out.push(`  tasks     ${s.tasks.length}: ${counts(s)}`);
  out.push(
    `  credits   ${s.maxCost} escrowed, ${s.burned} burned (${s.settlements} settlement${s.settlements === 1 ? '' : 's'} on chain so far)`,
  );
  if (s.error) out.push(`  error     ${s.error}`);
  const shown = s.tasks.slice(0, 50);
  for (const t of shown) {
    const detail =
      t.state === 'verified'
        ? `${t.output ?? 'no output (the run stopped in the sandbox)'}${t.computeUnits ? `  ${t.computeUnits} units` : ''}${t.device ? `  ${t.device.slice(0, 10)}…` : ''}`
        : (t.reason ?? '');
    const window =
      t.acceptBy !== null && t.acceptBy > Date.now() ? `  accepted at ${new Date(t.acceptBy).toISOString()} unless rejected` : '';
    out.push(
      `  task ${String(t.index).padEnd(5)} ${t.state.padEnd(9)} ${detail}${t.rejected ? '  (rejected once)' : ''}${window}`.trimEnd(),
    );
  }
  if (s.tasks.some((t) => t.acceptBy !== null && t.acceptBy > Date.now()))
    out.push(`  accept now: groundwork compute accept ${s.jobId}; run tasks again: groundwork compute reject ${s.jobId} --tasks <n,…>`);
  if (s.tasks.length > shown.length) out.push(`  … and ${s.tasks.length - shown.length} more tasks (--json lists them all)`);
  return out;
}

/** How long to wait by default: until the job's deadline, and a minute for the last settlement. */
function waitMs(deadline: number, timeout: number | undefined): number {
  return timeout ?? Math.max(1000, deadline - Date.now() + 60_000);
}

async function submitSpec(
  client: ComputeClient,
  spec: JobSpec,
  o: { buyCredits: boolean; oracle: string; rpc: string },
  io: Io,
): Promise<SubmitResult> {
  return withClient(o, () => client.submit(spec, { buyCredits: o.buyCredits, onProgress: (t) => step(io, t) }));
}

async function wait(client: ComputeClient, jobId: Hex, timeoutMs: number, oracle: string, io: Io): Promise<JobStatus> {
  step(io, `waiting for job ${jobId} (up to ${Math.round(timeoutMs / 1000)} s)`);
  return withClient({ oracle }, () => client.waitForJob(jobId, { timeoutMs, onProgress: (s) => step(io, `${s.state}: ${counts(s)}`) }));
}

// ---------------------------------------------------------------------------------------------
// compute submit

const SUBMIT_USAGE = `usage: groundwork compute submit <spec.yaml> --oracle <url> --deployment <file> --rpc <url>
         (--key <hex> | --key-file <file>) [--buy-credits] [--wait] [--timeout <seconds>] [--json]

Submits a job spec (job.yaml, see networks/compute/docs/job-spec.md): uploads the program and its
inputs to the oracle, escrows the job's worst-case cost in credits (CreditEscrow.open; what is not
used comes back) and hands the job to the oracle's matcher. Prints the job id.

options:
${CHAIN_OPTIONS}
  --buy-credits           buy the credits the consumer lacks (burning its token) instead of failing
  --wait                  wait for the job to finish; exit 1 unless every task was verified
  --timeout <seconds>     with --wait: how long (default until the job's deadline)
${jsonFlag(24)}
${helpFlag(24)}`;

export type SubmitOptions = ChainFlags & { spec: string; buyCredits: boolean; wait: boolean; timeoutMs?: number; json: boolean };

export function parseSubmit(argv: string[]): SubmitOptions {
  const f = parseFlags(
    argv,
    { ...CHAIN_SPEC, 'buy-credits': { type: 'boolean' }, wait: { type: 'boolean' }, timeout: { type: 'string' } },
    1,
  );
  const spec = positional(f, 'spec', 'the job spec, a job.yaml file');
  const timeoutMs = timeoutFlag(f);
  if (timeoutMs !== undefined && !flag(f, 'wait')) throw new UsageError('--timeout needs --wait');
  return { spec, ...chainFlags(f), buyCredits: flag(f, 'buy-credits'), wait: flag(f, 'wait'), timeoutMs, json: flag(f, 'json') };
}

/**
 * Reads and checks the spec, and that the network can carry it; its problems are a bad command
 * line (exit 2, nothing done), each naming its field.
 */
async function readSpec(compute: Compute, file: string): Promise<JobSpec> {
  positionalFile('spec', file);
  let spec: JobSpec;
  try {
    spec = await compute.readJobSpecFile(file);
  } catch (err) {
    if (err instanceof compute.JobSpecError) throw new UsageError(err.message);
    throw new UsageError(`<spec> ${file}: ${oneLine((err as Error).message)}`);
  }
  try {
    compute.jobSubmissionFor(spec, { jobId: `0x${'0'.repeat(64)}`, consumer: `0x${'0'.repeat(40)}` });
  } catch (err) {
    if (err instanceof compute.ComputeClientError) throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
  return spec;
}

export async function runSubmit(o: SubmitOptions, io: Io): Promise<number> {
  positionalFile('spec', o.spec);
  const compute = await loadCompute();
  const spec = await readSpec(compute, o.spec);
  const { client } = await chainClient(compute, o);
  for (const w of spec.warnings) line(io.stderr, `warning: ${w}`);
  const r = await submitSpec(client, spec, o, io);
  const status = o.wait ? await wait(client, r.jobId, waitMs(spec.deadline, o.timeoutMs), o.oracle, io) : r.status;
  if (o.json) {
    printJson(io, {
      jobId: r.jobId,
      consumer: r.consumer,
      maxCost: r.maxCost,
      creditsBought: r.creditsBought,
      tx: r.txHash,
      uploaded: r.uploaded,
      status,
    });
  } else {
    line(io.stdout, `submitted job ${r.jobId}`);
    line(io.stdout, `  consumer  ${r.consumer}`);
    line(io.stdout, `  escrowed  ${r.maxCost} credits${r.creditsBought ? ` (bought ${r.creditsBought})` : ''}`);
    line(io.stdout, `  tasks     ${spec.tasks.length}`);
    line(io.stdout, `  tx        ${r.txHash}`);
    if (o.wait) for (const l of statusLines(status)) line(io.stdout, l);
    else line(io.stdout, `next: groundwork compute status ${r.jobId} --oracle ${o.oracle}`);
  }
  return !o.wait || status.state === 'done' ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// compute status / jobs

const STATUS_USAGE = `usage: groundwork compute status <job> --oracle <url> [--json]

Shows a job as the oracle has it: its state, each task's state (and why a task is not placed),
the verified outputs and the credits burned so far.

options:
  --oracle <url>          the oracle's base URL
${jsonFlag(24)}
${helpFlag(24)}`;

export type StatusOptions = { job: Hex; oracle: string; json: boolean };

export function parseStatus(argv: string[]): StatusOptions {
  const f = parseFlags(argv, { oracle: { type: 'string' }, json: { type: 'boolean' } }, 1);
  return { job: jobArg(f), oracle: url('oracle', required(f, 'oracle')), json: flag(f, 'json') };
}

export async function runStatus(o: StatusOptions, io: Io): Promise<number> {
  const compute = await loadCompute();
  const client = new compute.ComputeClient({ oracleUrl: o.oracle });
  const s = await withClient(o, () => client.status(o.job));
  if (o.json) printJson(io, s);
  else for (const l of statusLines(s)) line(io.stdout, l);
  return 0;
}

const JOBS_USAGE = `usage: groundwork compute jobs (--consumer <address> | --key <hex> | --key-file <file>) --oracle <url> [--json]

Lists a consumer's jobs on the oracle, one line each.

options:
  --consumer <address>    the consumer account
  --key <hex>             or the consumer's private key (only its address is used)
  --key-file <file>       or a file holding it
  --oracle <url>          the oracle's base URL
${jsonFlag(24)}
${helpFlag(24)}`;

export type JobsOptions = { consumer?: Address; key?: KeySource; oracle: string; json: boolean };

export function parseJobs(argv: string[]): JobsOptions {
  const f = parseFlags(argv, {
    consumer: { type: 'string' },
    key: { type: 'string' },
    'key-file': { type: 'string' },
    oracle: { type: 'string' },
    json: { type: 'boolean' },
  });
  const consumer = optional(f, 'consumer');
  const hasKey = optional(f, 'key') !== undefined || optional(f, 'key-file') !== undefined;
  if (consumer !== undefined && hasKey) throw new UsageError('give --consumer or --key, not both');
  if (consumer === undefined && !hasKey) throw new UsageError('missing --consumer (or --key / --key-file)');
  return {
    consumer: consumer === undefined ? undefined : address('consumer', consumer),
    key: hasKey ? keySource(f, 'key') : undefined,
    oracle: url('oracle', required(f, 'oracle')),
    json: flag(f, 'json'),
  };
}

export async function runJobs(o: JobsOptions, io: Io): Promise<number> {
  const compute = await loadCompute();
  const client = new compute.ComputeClient(
    o.consumer ? { oracleUrl: o.oracle, consumer: o.consumer } : { oracleUrl: o.oracle, privateKey: loadPrivateKey(o.key!) },
  );
  const jobs = await withClient(o, () => client.jobs());
  if (o.json) {
    printJson(io, { consumer: client.consumer, jobs });
    return 0;
  }
  if (!jobs.length) line(io.stdout, `no jobs of ${client.consumer} on this oracle`);
  for (const j of jobs) line(io.stdout, `${j.jobId}  ${j.state.padEnd(9)} ${counts(j)}  (${j.burned}/${j.maxCost} credits)`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// compute accept / reject

const WINDOW_OPTIONS = `  --oracle <url>          the oracle's base URL
  --deployment <file>     the deployment file (its chain id is in what is signed)
  --key <hex>             the consumer's private key (0x + 64 hex digits); signs, pays nothing
  --key-file <file>       a file holding it instead`;

const ACCEPT_USAGE = `usage: groundwork compute accept <job> [--tasks <n,…>] --oracle <url> --deployment <file> (--key <hex> | --key-file <file>) [--json]

Accepts a job's decided tasks (all of them, or those --tasks names) before their windows close:
their payments fall due now, so the oracle settles them and, once nothing is left open, refunds
the rest of the escrow. Without it a task is accepted when its window closes (the network's
rejectWindowMs after it was decided, never later than the job's deadline).

options:
  --tasks <n,…>           task indexes as status shows them (default: every decided task)
${WINDOW_OPTIONS}
${jsonFlag(24)}
${helpFlag(24)}`;

const REJECT_USAGE = `usage: groundwork compute reject <job> --tasks <n,…> --oracle <url> --deployment <file> (--key <hex> | --key-file <file>) [--json]

Rejects decided tasks inside their windows (Render lets creators reject frames): each runs again
on a provider of an owner it has not used, and the result more independent runs agree on stands.
If the first result was wrong its provider is caught and slashed and is not paid; if it was
right, the new run confirms it and is paid too. A task can be rejected once.

options:
  --tasks <n,…>           task indexes as status shows them
${WINDOW_OPTIONS}
${jsonFlag(24)}
${helpFlag(24)}`;

export type WindowOptions = { job: Hex; tasks: number[] | null; oracle: string; deploymentFile: string; key: KeySource; json: boolean };

export function parseWindow(argv: string[], action: 'accept' | 'reject'): WindowOptions {
  const f = parseFlags(
    argv,
    {
      tasks: { type: 'string' },
      oracle: { type: 'string' },
      deployment: { type: 'string' },
      key: { type: 'string' },
      'key-file': { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  const raw = action === 'reject' ? required(f, 'tasks') : optional(f, 'tasks');
  const tasks = raw === undefined ? null : raw.split(',').map((v) => integer('tasks', v.trim(), { min: 0, max: 9_999 }));
  return {
    job: jobArg(f),
    tasks,
    oracle: url('oracle', required(f, 'oracle')),
    deploymentFile: required(f, 'deployment'),
    key: keySource(f, 'key'),
    json: flag(f, 'json'),
  };
}

export async function runWindow(o: WindowOptions, action: 'accept' | 'reject', io: Io): Promise<number> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  const privateKey = loadPrivateKey(o.key);
  const compute = await loadCompute();
  // Signing needs the chain id only: the deployment file's, with no RPC call.
  const client = new compute.ComputeClient({ oracleUrl: o.oracle, deployment, privateKey });
  const r =
    action === 'accept'
      ? await withClient(o, async () => {
          const a = await client.accept(o.job, o.tasks ?? undefined);
          return { tasks: a.accepted, status: a.status };
        })
      : await withClient(o, async () => {
          const a = await client.reject(o.job, o.tasks!);
          return { tasks: a.rejected, status: a.status };
        });
  if (o.json) {
    printJson(io, { [action === 'accept' ? 'accepted' : 'rejected']: r.tasks, status: r.status });
    return 0;
  }
  if (action === 'accept')
    line(io.stdout, r.tasks.length ? `accepted task(s) ${r.tasks.join(', ')} of job ${o.job}` : `nothing left to accept in job ${o.job}`);
  else line(io.stdout, `rejected task(s) ${r.tasks.join(', ')} of job ${o.job}: each runs again on another owner`);
  for (const l of statusLines(r.status)) line(io.stdout, l);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// compute cancel / reclaim

const CANCEL_USAGE = `usage: groundwork compute cancel <job> --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [--json]

Stops a job on chain (CreditEscrow.cancel; the consumer only). Its credits stay held so that the
oracle's final settlement can pay the work verified so far and refund the rest; if that does not
come, \`groundwork compute reclaim\` takes them back once the settlement grace has passed.

options:
  --deployment <file>     the deployment file
  --rpc <url>             JSON-RPC endpoint of the chain
  --key <hex>             the consumer's private key (0x + 64 hex digits)
  --key-file <file>       a file holding it instead
${jsonFlag(24)}
${helpFlag(24)}`;

const RECLAIM_USAGE = `usage: groundwork compute reclaim <job> --deployment <file> --rpc <url> (--key <hex> | --key-file <file>) [--json]

Takes back the credits of a job the oracle has not settled (CreditEscrow.reclaim), once the
settlement grace after its deadline, or after its cancel, has passed. Forfeits any settlement
still to come.

options:
  --deployment <file>     the deployment file
  --rpc <url>             JSON-RPC endpoint of the chain
  --key <hex>             the consumer's private key (0x + 64 hex digits)
  --key-file <file>       a file holding it instead
${jsonFlag(24)}
${helpFlag(24)}`;

export type EscrowOptions = { job: Hex; deploymentFile: string; rpc: string; key: KeySource; json: boolean };

export function parseEscrow(argv: string[]): EscrowOptions {
  const f = parseFlags(
    argv,
    {
      deployment: { type: 'string' },
      rpc: { type: 'string' },
      key: { type: 'string' },
      'key-file': { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  return {
    job: jobArg(f),
    deploymentFile: required(f, 'deployment'),
    rpc: url('rpc', required(f, 'rpc')),
    key: keySource(f, 'key'),
    json: flag(f, 'json'),
  };
}

async function escrowClient(o: EscrowOptions): Promise<ComputeClient> {
  const deployment = loadDeployment('deployment', o.deploymentFile);
  const privateKey = loadPrivateKey(o.key);
  const compute = await loadCompute();
  return new compute.ComputeClient({ rpcUrl: o.rpc, deployment, privateKey });
}

export async function runCancel(o: EscrowOptions, io: Io): Promise<number> {
  const client = await escrowClient(o);
  step(io, `cancelling job ${o.job}`);
  const r = await withClient(o, () => client.cancel(o.job));
  if (o.json) {
    printJson(io, r);
    return 0;
  }
  line(io.stdout, `cancelled job ${r.jobId}`);
  line(io.stdout, `  held         ${r.held} credits (the oracle's final settlement pays the verified work and refunds the rest)`);
  line(io.stdout, `  reclaimable  from ${new Date(r.reclaimableAt * 1000).toISOString()} if it does not come (groundwork compute reclaim)`);
  line(io.stdout, `  tx           ${r.txHash}`);
  return 0;
}

export async function runReclaim(o: EscrowOptions, io: Io): Promise<number> {
  const client = await escrowClient(o);
  step(io, `reclaiming job ${o.job}`);
  const r = await withClient(o, () => client.reclaim(o.job));
  if (o.json) {
    printJson(io, r);
    return 0;
  }
  line(io.stdout, `reclaimed job ${r.jobId}: ${r.refunded} credits refunded in all, ${r.burned} burned`);
  line(io.stdout, `  tx  ${r.txHash}`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// compute result

const RESULT_USAGE = `usage: groundwork compute result <job> --oracle <url> --out <dir> [--json]

Downloads the verified output of every task, checks each against its CID and writes it as
<dir>/<task index>/stdout and <dir>/<task index>/<path> for each file the task wrote under /output.
Tasks not verified (yet) get no files. Refuses output paths that would leave <dir>.

options:
  --oracle <url>          the oracle's base URL
  --out <dir>             where the outputs go (created if missing)
${jsonFlag(24)}
${helpFlag(24)}`;

export type ResultOptions = { job: Hex; oracle: string; out: string; json: boolean };

export function parseResult(argv: string[]): ResultOptions {
  const f = parseFlags(argv, { oracle: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } }, 1);
  const job = jobArg(f);
  const out = required(f, 'out');
  if (out === '') throw new UsageError('--out must not be empty');
  return { job, oracle: url('oracle', required(f, 'oracle')), out, json: flag(f, 'json') };
}

export async function runResult(o: ResultOptions, io: Io): Promise<number> {
  const compute = await loadCompute();
  const client = new compute.ComputeClient({ oracleUrl: o.oracle });
  step(io, `fetching the outputs of job ${o.job}`);
  const r = await withClient(o, () => client.result(o.job, o.out));
  if (o.json) {
    printJson(io, r);
    return 0;
  }
  const written = r.tasks.filter((t) => t.files.length);
  line(
    io.stdout,
    `job ${r.jobId} (${r.state}): wrote ${r.files.length} files for ${written.length} of ${r.tasks.length} tasks to ${path.resolve(o.out)}`,
  );
  for (const t of r.tasks.filter((x) => !x.files.length).slice(0, 20))
    line(
      io.stdout,
      `  task ${t.index}: ${t.state === 'verified' ? 'verified without an output (the run stopped in the sandbox)' : t.state}`,
    );
  return 0;
}

// ---------------------------------------------------------------------------------------------
// compute render

const RENDER_USAGE = `usage: groundwork compute render <scene.json> --out <dir> --oracle <url> --deployment <file> --rpc <url>
         (--key <hex> | --key-file <file>) [--frames <list>] [--max-price <credits>] [--spot-check <share>]
         [--fuel <count>] [--memory <size>] [--deadline <duration>] [--buy-credits] [--timeout <seconds>] [--json]

Renders a scene with the demo path tracer on the compute network: one task per frame (the
renderer reads the scene on stdin, --frame <n>), each spot-checked as --spot-check says; waits,
then writes <dir>/frame-0001.png … from the verified frames.

options:
${CHAIN_OPTIONS}
  --out <dir>             where the frames go (created if missing)
  --frames <list>         frames to render, 1-based: 1-24, 7, or 1-3,10 (default every frame of the scene)
  --max-price <credits>   the most paid per million compute units (default 1)
  --spot-check <share>    share of frames run again on another owner's device, 0-1 or N% (default 0.1)
  --fuel <count>          compute units per frame at most (default 2e9; a 160x90 frame at 16 samples
                          per pixel takes about 5.8e8)
  --memory <size>         memory per frame (default 64MiB)
  --deadline <duration>   when the job must be done (default 30m)
  --buy-credits           buy the credits the consumer lacks instead of failing
  --timeout <seconds>     how long to wait (default until the deadline)
${jsonFlag(24)}
${helpFlag(24)}`;

export type RenderOptions = ChainFlags & {
  scene: string;
  out: string;
  frames?: string;
  maxPrice: string;
  spotCheck: string;
  fuel: string;
  memory: string;
  deadline: string;
  buyCredits: boolean;
  timeoutMs?: number;
  json: boolean;
};

export function parseRender(argv: string[]): RenderOptions {
  const f = parseFlags(
    argv,
    {
      ...CHAIN_SPEC,
      out: { type: 'string' },
      frames: { type: 'string' },
      'max-price': { type: 'string' },
      'spot-check': { type: 'string' },
      fuel: { type: 'string' },
      memory: { type: 'string' },
      deadline: { type: 'string' },
      'buy-credits': { type: 'boolean' },
      timeout: { type: 'string' },
    },
    1,
  );
  const scene = positional(f, 'scene', 'the scene, a JSON file');
  const out = required(f, 'out');
  if (out === '') throw new UsageError('--out must not be empty');
  const maxPrice = optional(f, 'max-price') ?? '1';
  if (!/^\d+(\.\d+)?$/.test(maxPrice))
    throw new UsageError(`--max-price must be a number of credits such as 0.5, got ${JSON.stringify(maxPrice)}`);
  const spotCheck = optional(f, 'spot-check') ?? '0.1';
  if (!/^\d+(\.\d+)?%?$/.test(spotCheck))
    throw new UsageError(`--spot-check must be a share from 0 to 1 or a percentage such as 10%, got ${JSON.stringify(spotCheck)}`);
  return {
    scene,
    out,
    ...chainFlags(f),
    frames: optional(f, 'frames'),
    maxPrice,
    spotCheck,
    fuel: optional(f, 'fuel') ?? '2e9',
    memory: optional(f, 'memory') ?? '64MiB',
    deadline: optional(f, 'deadline') ?? '30m',
    buyCredits: flag(f, 'buy-credits'),
    timeoutMs: timeoutFlag(f),
    json: flag(f, 'json'),
  };
}

/** `1-24`, `7`, `1-3,10` → the frame numbers, each once, in the order given; within 1..last. */
export function parseFrames(value: string, last: number): number[] {
  const frames: number[] = [];
  const seen = new Set<number>();
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`--frames must be frame numbers or ranges such as 1-24 or 1-3,10, got ${JSON.stringify(value)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new UsageError(`--frames ${part.trim()} ends before it starts`);
    if (a < 1) throw new UsageError('--frames are 1-based: frame 0 does not exist');
    if (b > last) throw new UsageError(`--frames ${part.trim()} goes past the scene's last frame, ${last}`);
    if (b - a + frames.length >= 10_000) throw new UsageError('--frames: a job has at most 10,000 tasks');
    for (let n = a; n <= b; n++) {
      if (seen.has(n)) throw new UsageError(`--frames names frame ${n} twice`);
      seen.add(n);
      frames.push(n);
    }
  }
  return frames;
}

/** Which flag a problem of the render job's spec comes from. */
const RENDER_FLAGS: Record<string, keyof RenderOptions> = {
  tasks: 'frames',
  maxPrice: 'maxPrice',
  'verification.spotCheck': 'spotCheck',
  'resources.fuel': 'fuel',
  'resources.memory': 'memory',
  deadline: 'deadline',
};
const FLAG_NAMES: Partial<Record<keyof RenderOptions, string>> = {
  frames: 'frames',
  maxPrice: 'max-price',
  spotCheck: 'spot-check',
  fuel: 'fuel',
  memory: 'memory',
  deadline: 'deadline',
};

export async function runRender(o: RenderOptions, io: Io): Promise<number> {
  positionalFile('scene', o.scene);
  const compute = await loadCompute();
  const sceneBytes = new Uint8Array(readFileSync(o.scene));
  let scene: { frames: number };
  try {
    scene = compute.parseScene(sceneBytes);
  } catch (err) {
    if (err instanceof compute.SceneError) throw new UsageError(`<scene> ${o.scene}: ${err.problems.join('; ')}`);
    throw err;
  }
  const frames = o.frames === undefined ? Array.from({ length: scene.frames }, (_, i) => i + 1) : parseFrames(o.frames, scene.frames);
  const { client } = await chainClient(compute, o);

  step(io, 'loading the renderer (compiling it first if it is not built)');
  const wasm = await compute.loadRendererWasm().catch((err: Error) => {
    throw new CliError(`the renderer could not be built: ${oneLine(err.message).slice(0, 300)}`);
  });
  let spec: JobSpec;
  try {
    spec = compute.renderJobSpec({
      wasm,
      scene: sceneBytes,
      frames,
      maxPrice: Number(o.maxPrice),
      spotCheck: o.spotCheck.endsWith('%') ? o.spotCheck : Number(o.spotCheck),
      fuel: o.fuel,
      memory: o.memory,
      deadline: o.deadline,
    });
  } catch (err) {
    if (!(err instanceof compute.JobSpecError)) throw err;
    const p = err.problems[0]!;
    const key = RENDER_FLAGS[p.field];
    if (!key) throw new UsageError(compute.formatProblem(p));
    throw new UsageError(`--${FLAG_NAMES[key]} ${JSON.stringify(String(o[key]))}: ${p.message}`);
  }

  const r = await submitSpec(client, spec, o, io);
  step(io, `submitted job ${r.jobId} (${frames.length} frames, ${r.maxCost} credits escrowed)`);
  const status = await wait(client, r.jobId, waitMs(spec.deadline, o.timeoutMs), o.oracle, io);
  const outputs = await withClient(o, () => client.outputs(r.jobId, status));
  const { written, missing } = await compute.writeRenderedFrames(spec, status, outputs, path.resolve(o.out));
  const ok = missing.length === 0 && status.state === 'done';
  if (o.json) {
    printJson(io, {
      jobId: r.jobId,
      maxCost: r.maxCost,
      tx: r.txHash,
      state: status.state,
      out: path.resolve(o.out),
      frames: written,
      missing,
      status,
    });
  } else {
    line(io.stdout, `job ${r.jobId} ${status.state}: ${written.length} of ${frames.length} frames written to ${path.resolve(o.out)}`);
    if (written.length)
      line(io.stdout, `  ${path.basename(written[0]!.file)}${written.length > 1 ? ` … ${path.basename(written.at(-1)!.file)}` : ''}`);
    line(
      io.stdout,
      `  credits  ${r.maxCost} escrowed, ${status.burned} burned so far (the final settlement refunds what the runs did not use)`,
    );
    for (const m of missing.slice(0, 20)) line(io.stdout, `  frame ${m.frame} missing: ${m.reason}`);
  }
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------

export const COMPUTE_USAGE = `usage: groundwork compute <command> [options]

commands:
  submit     submit a job spec (job.yaml): upload, escrow the credits, hand it to the oracle
  status     a job's state, task by task
  jobs       a consumer's jobs
  result     download a job's verified outputs
  accept     accept decided tasks now (their payments fall due)
  reject     run decided tasks again inside their windows
  cancel     stop a job on chain
  reclaim    take back the credits of a job the oracle did not settle
  render     render a scene's frames with the demo renderer, to PNG files

Run \`groundwork compute <command> --help\` for its options.`;

export const computeCommands: Command[] = [
  {
    name: 'compute submit',
    summary: 'submit a compute job spec',
    usage: SUBMIT_USAGE,
    run: (argv, io) => runSubmit(parseSubmit(argv), io),
  },
  {
    name: 'compute status',
    summary: "a compute job's state, task by task",
    usage: STATUS_USAGE,
    run: (argv, io) => runStatus(parseStatus(argv), io),
  },
  { name: 'compute jobs', summary: "a consumer's compute jobs", usage: JOBS_USAGE, run: (argv, io) => runJobs(parseJobs(argv), io) },
  {
    name: 'compute result',
    summary: "download a compute job's verified outputs",
    usage: RESULT_USAGE,
    run: (argv, io) => runResult(parseResult(argv), io),
  },
  {
    name: 'compute accept',
    summary: "accept a compute job's decided tasks",
    usage: ACCEPT_USAGE,
    run: (argv, io) => runWindow(parseWindow(argv, 'accept'), 'accept', io),
  },
  {
    name: 'compute reject',
    summary: "reject a compute job's tasks inside their windows",
    usage: REJECT_USAGE,
    run: (argv, io) => runWindow(parseWindow(argv, 'reject'), 'reject', io),
  },
  {
    name: 'compute cancel',
    summary: 'stop a compute job on chain',
    usage: CANCEL_USAGE,
    run: (argv, io) => runCancel(parseEscrow(argv), io),
  },
  {
    name: 'compute reclaim',
    summary: 'take back the credits of an unsettled compute job',
    usage: RECLAIM_USAGE,
    run: (argv, io) => runReclaim(parseEscrow(argv), io),
  },
  {
    name: 'compute render',
    summary: 'render a scene on the compute network',
    usage: RENDER_USAGE,
    run: (argv, io) => runRender(parseRender(argv), io),
  },
];
