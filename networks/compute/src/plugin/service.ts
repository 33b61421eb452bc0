// The compute network's oracle-side service: takes jobs whose escrow is open on chain, matches
// their tasks to providers (matcher/), pushes each run down the provider's socket, checks the
// signed results (spot checks on other owners; a mismatch goes to a deciding run), records a
// verdict for each proven lie (the verifier turns it into a finding and a slash order), and
// settles verified runs on chain: the oracle quorum signs a numbered settlement that burns the
// consumer's escrowed credits per device, which is the usage the epoch pays the owners for.
//
// Durable: jobs, blobs, verified tasks and payments live in the oracle's database; a payment is
// marked with the settlement number it was sent in before the transaction goes out, and the
// chain's own count of settlements says after a crash whether it landed, so a retried
// settlement never pays twice. Runs in flight are not stored: after a restart unverified tasks
// run again (the consumer pays only for verified runs).
//
// The consumer's window (Render lets creators reject frames): a verified task's payments become
// due only when the consumer accepts it or its window closes (rejectWindowMs after it was
// verified, and never later than the job's deadline, so the oracle settles before the consumer
// could reclaim). Until then the consumer may reject it once: its unsettled payments are
// withdrawn and the task runs again on an owner it has not used; the rule in judge.ts then
// decides between the first result and the new one. Cancelling accepts what was verified.
import { keccak256, encodePacked, recoverMessageAddress, type Address, type Hex, type LocalAccount } from 'viem';
import { CreditEscrowAbi, sendSettlement } from '@groundwork/contracts';
import {
  type AcceptedReport,
  type NetworkService,
  type ServiceContext,
  ServiceError,
  type ServicePayload,
  canonicalJson,
  type ServiceRoute,
} from '@groundwork/protocol';
import { checkCid, cidOf, jsonBody, parseJsonBody, parseWith } from '@groundwork/protocol';
import { Matcher } from '../matcher/index.ts';
import { INITIAL_REPUTATION, updateReputation } from '../matcher/reputation.ts';
import { describeUnplaced, type Offer as MatcherOffer } from '../matcher/types.ts';
import { describeSandboxCode } from '../sandbox/errors.ts';
import { expiredBlobs, refuseOverCap } from './blob-retention.ts';
import { judgeRuns } from './judge.ts';
import type { ComputeParameters } from './parameters.ts';
import type { Verdict } from './verifier.ts';
import {
  type JobStatus,
  type JobSubmission,
  jobSubmissionSchema,
  MAX_BLOB_BYTES,
  offerSchema,
  RESULT_TYPE,
  type ResultBody,
  claimOf,
  consumerActionMessage,
  consumerActionSchema,
  resultBodySchema,
  type TaskPayload,
  type TaskState,
} from './wire.ts';

const SCHEMA = [
  'create table if not exists compute_blobs (cid text primary key, bytes bytea not null, stored_at bigint not null)',
  `create table if not exists compute_jobs (job_id text primary key, consumer text not null, submission text not null,
     state text not null, error text, created_at bigint not null)`,
  `create table if not exists compute_tasks (job_id text not null, task int not null, state text not null, output text,
     compute_units text, device text, primary key (job_id, task))`,
  `create table if not exists compute_payments (job_id text not null, task int not null, run int not null, device text not null,
     amount text not null, attempt_seq int, settled_seq int, primary key (job_id, task, run))`,
  // The consumer's window (added after the first release: data directories from before it get
  // the columns, and their payments are due at once, as they were then).
  'alter table compute_tasks add column if not exists error text',
  'alter table compute_tasks add column if not exists due_at bigint not null default 0',
  'alter table compute_tasks add column if not exists rejected boolean not null default false',
  'alter table compute_payments add column if not exists due_at bigint not null default 0',
];

type Run = {
  run: number;
  device: Hex;
  owner: string;
  /** Credits per million compute units, times 10^6 (exact). */
  priceMicro: bigint;
  assignedAt: number;
  result: { report: AcceptedReport['report']; body: ResultBody; claim: string } | null;
  lost: boolean;
  /** Credited as verified, or convicted of a lie: a task judged again after a rejection applies neither twice. */
  credited: boolean;
  convicted: boolean;
};

type TaskEntry = {
  index: number;
  args: string[];
  state: TaskState;
  runs: Run[];
  /** Agreeing results needed before it counts as verified (redundancy, plus one for a spot check). */
  needed: number;
  output: string | null;
  computeUnits: string | null;
  device: Hex | null;
  reason: string | null;
  queuedRun: number | null;
  /** The sandbox's code when the agreed result is a deterministic failure (the task failed). */
  error: string | null;
  /** Unix ms when its payments fall due unless rejected (null until it is decided). */
  dueAt: number | null;
  /** The consumer rejected it once (a second rejection is refused). */
  rejected: boolean;
};

type Job = {
  sub: JobSubmission;
  state: JobStatus['state'];
  tasks: TaskEntry[];
  error: string | null;
  burned: bigint;
  settlements: number;
  finalSent: boolean;
};

/** 10^6 × a decimal string with at most 6 decimals. */
function micro(price: string): bigint {
  const [whole, frac = ''] = price.split('.');
  return BigInt(whole!) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
}

/** Credits for `units` compute units at `priceMicro` (10^6 × credits per million units), rounded up. */
export function runCost(units: bigint, priceMicro: bigint): bigint {
  return (units * priceMicro + 10n ** 12n - 1n) / 10n ** 12n;
}

/** Whether task `task` of `job` gets a spot check: a keyed draw, so anyone can recompute it. */
export function spotChecked(job: Hex, task: number, share: number): boolean {
  if (share <= 0) return false;
  if (share >= 1) return true;
  const draw = BigInt(keccak256(encodePacked(['bytes32', 'uint256', 'string'], [job, BigInt(task), 'spot-check'])));
  return Number(draw % 1_000_000n) < Math.round(share * 1_000_000);
}

/** A decided task as compute_tasks keeps it. */
type DecidedRow = {
  task: number;
  state: string;
  output: string | null;
  compute_units: string;
  device: Hex;
  error: string | null;
  due_at: string | number;
  rejected: boolean;
};

const EscrowStatus = { None: 0, Open: 1, Cancelled: 2, Settled: 3, Reclaimed: 4 } as const;

export function computeService(ctx: ServiceContext<ComputeParameters>): NetworkService {
  const p = ctx.parameters;
  const matcher = new Matcher();
  const jobs = new Map<string, Job>();
  const offers = new Map<Hex, MatcherOffer>();
  const reputation = new Map<string, number>();
  const escrow = ctx.chain.addresses.escrow as Address | undefined;
  // Settlements go out from a quorum key other than the one that posts roots, so that the two
  // never race for the same account's nonce.
  const sender: LocalAccount | undefined = ctx.chain.signers.at(-1);
  let timer: NodeJS.Timeout | null = null;
  let settling = false;
  let lastSettle = 0;
  /** Bytes in compute_blobs (counted at start, kept as uploads and sweeps change it). */
  let storedBytes = 0;
  let sweeping = false;
  let lastSweep = Date.now();
  const stats = { assigned: 0, verified: 0, lies: 0, timeouts: 0, settlements: 0, lastError: null as string | null };

  const taskKey = (job: string, task: number, run: number) => ({ job, task, run });

  function jobOf(id: string): Job {
    const j = jobs.get(id);
    if (!j) throw new ServiceError(404, 'unknown-job', `no job ${id} on this oracle`);
    return j;
  }

  function enqueueRun(job: Job, t: TaskEntry): void {
    if (t.queuedRun !== null) return;
    if (t.runs.length >= p.maxRunsPerTask) {
      t.state = 'failed';
      t.reason = `no agreement after ${t.runs.length} runs`;
      finishIfDone(job);
      return;
    }
    const run = t.runs.length;
    const done = t.runs.filter((r) => !r.lost);
    t.queuedRun = run;
    matcher.enqueue({
      job: job.sub.jobId,
      task: t.index,
      run,
      memoryBytes: job.sub.memoryBytes,
      fuel: job.sub.fuel,
      maxPrice: Number(job.sub.maxPrice),
      requiredAttributes: job.sub.attributes,
      // Every run of a task on a new device, and checks on new owners: independent results.
      excludeDevices: t.runs.map((r) => r.device),
      excludeOwners: done.length ? done.map((r) => r.owner) : undefined,
      deadline: job.sub.deadline,
    });
  }

  function payload(job: Job, t: TaskEntry, run: number): TaskPayload {
    return {
      type: 'task',
      job: job.sub.jobId,
      task: t.index,
      run,
      module: job.sub.module,
      args: t.args,
      stdin: job.sub.stdin,
      inputs: job.sub.inputs,
      memoryBytes: job.sub.memoryBytes,
      fuel: job.sub.fuel,
      allow: job.sub.allow,
      seed: keccak256(encodePacked(['bytes32', 'uint256'], [job.sub.jobId, BigInt(t.index)])),
      deadline: job.sub.deadline,
    };
  }

  function assign(now: number): void {
    const { assigned, unplaced } = matcher.assign({ now });
    for (const a of assigned) {
      const job = jobs.get(a.job);
      const t = job?.tasks[a.task];
      // Only an undecided task of a running job takes a run (never reopen a decided one).
      const open = t && (t.state === 'queued' || t.state === 'running' || t.state === 'checking') && t.queuedRun === a.run;
      if (!job || !t || job.state !== 'running' || !open) {
        matcher.release(taskKey(a.job, a.task, a.run));
        continue;
      }
      t.queuedRun = null;
      const offer = offers.get(a.device as Hex);
      t.runs.push({
        run: a.run,
        device: a.device as Hex,
        owner: a.owner,
        priceMicro: micro(offer ? String(offer.pricePerMCU) : job.sub.maxPrice),
        assignedAt: now,
        result: null,
        lost: false,
        credited: false,
        convicted: false,
      });
      t.state = t.runs.length > 1 ? 'checking' : 'running';
      t.reason = null;
      stats.assigned++;
      if (!ctx.send(a.device as Hex, payload(job, t, a.run))) lose(job, t, a.device as Hex, 'vanished');
      // Redundant runs and the spot check go out beside the first, each to another owner.
      else if (t.runs.filter((r) => !r.lost).length < t.needed) enqueueRun(job, t);
    }
    for (const u of unplaced) {
      const t = jobs.get(u.task.job)?.tasks[u.task.task];
      if (t) t.reason = describeUnplaced(u.reason);
      if (t && u.reason.code === 'deadline-passed') {
        t.state = 'failed';
        t.queuedRun = null;
      }
    }
  }

  /** A run that will not answer: its provider loses reputation and the task runs elsewhere. */
  function lose(job: Job, t: TaskEntry, device: Hex, why: 'timeout' | 'vanished'): void {
    const run = t.runs.find((r) => r.device === device && !r.result && !r.lost);
    if (!run) return;
    run.lost = true;
    matcher.release(taskKey(job.sub.jobId, t.index, run.run));
    reputation.set(device, updateReputation(reputation.get(device) ?? INITIAL_REPUTATION, why));
    refreshOffer(device);
    if (why === 'timeout') stats.timeouts++;
    const lost = why === 'timeout' ? `timed out after ${p.runTimeoutMs} ms` : 'was lost (its agent went away)';
    ctx.log(`task ${t.index} of job ${job.sub.jobId.slice(0, 10)}: the run on device ${device.slice(0, 10)} ${lost}`);
    if (t.state === 'running' || t.state === 'checking') enqueueRun(job, t);
  }

  function refreshOffer(device: Hex): void {
    const o = offers.get(device);
    if (!o) return;
    const updated = { ...o, reputation: reputation.get(device) ?? INITIAL_REPUTATION };
    offers.set(device, updated);
    matcher.upsertOffer(updated);
  }

  async function onResult(accepted: AcceptedReport): Promise<void> {
    const body = resultBodySchema.safeParse(accepted.report.body);
    if (!body.success) return;
    const job = jobs.get(body.data.job);
    const t = job?.tasks[body.data.task];
    const run = t?.runs.find((r) => r.run === body.data.run);
    if (!job || !t || !run || run.device !== accepted.report.device || run.result) return;
    // A result that arrives after its run timed out still counts while the task is undecided: it
    // is as much evidence as one on time (the replacement run, if any, may then be released).
    if (run.lost && t.state !== 'running' && t.state !== 'checking') return;
    if (body.data.module !== job.sub.module) return;
    if (body.data.output) {
      const stored = await ctx.db.query('select 1 from compute_blobs where cid = $1', [body.data.output]);
      if (!stored.length) return; // the output must be uploaded before the report; it will time out
    }
    run.result = { report: accepted.report, body: body.data, claim: claimOf(body.data) };
    run.lost = false;
    matcher.release(taskKey(job.sub.jobId, t.index, run.run));
    await judgeTask(job, t);
  }

  async function judgeTask(job: Job, t: TaskEntry): Promise<void> {
    if (t.state !== 'running' && t.state !== 'checking') return;
    const j = judgeRuns(
      t.runs.map((r) => ({ owner: r.owner, claim: r.result?.claim ?? null, lost: r.lost })),
      t.needed,
    );
    if (!j.decided) {
      if (j.runAnother) enqueueRun(job, t);
      return;
    }
    const agreed = j.agreed.map((i) => t.runs[i]!);
    const winner = agreed[0]!.result!;
    const now = Date.now();
    // A deterministic failure every agreeing run reproduced is the task's outcome: it failed, and
    // the work it did is paid like any other (the consumer gave it that fuel and memory).
    t.state = winner.body.error ? 'failed' : 'verified';
    t.error = winner.body.error;
    t.reason = winner.body.error ? `${describeSandboxCode(winner.body.error)} (${winner.body.computeUnits} compute units)` : null;
    t.output = winner.body.output;
    t.computeUnits = winner.body.computeUnits;
    t.device = agreed[0]!.device;
    t.dueAt = Math.min(now + p.rejectWindowMs, job.sub.deadline);
    stats.verified++;
    for (const r of t.runs.filter((x) => !x.result && !x.lost)) {
      r.lost = true;
      matcher.release(taskKey(job.sub.jobId, t.index, r.run));
    }
    // A replacement still waiting for a provider (queued when a run timed out whose late result
    // has now decided the task) must not go out: it would reopen a decided task and pay a run
    // nobody needs.
    if (t.queuedRun !== null) {
      matcher.cancel(taskKey(job.sub.jobId, t.index, t.queuedRun));
      t.queuedRun = null;
    }
    await ctx.db.transaction(async (tx) => {
      await tx.query(
        `insert into compute_tasks (job_id, task, state, output, compute_units, device, error, due_at, rejected)
         values ($1,$2,$3,$4,$5,$6,$7,$8,$9)
         on conflict (job_id, task) do update set state = excluded.state, output = excluded.output,
           compute_units = excluded.compute_units, device = excluded.device, error = excluded.error, due_at = excluded.due_at`,
        [job.sub.jobId, t.index, t.state, t.output, t.computeUnits, t.device, t.error, t.dueAt, t.rejected],
      );
      for (const r of agreed) {
        const amount = runCost(BigInt(r.result!.body.computeUnits), r.priceMicro);
        if (!r.credited) reputation.set(r.device, updateReputation(reputation.get(r.device) ?? INITIAL_REPUTATION, 'verified'));
        r.credited = true;
        if (amount > 0n) {
          await tx.query(
            'insert into compute_payments (job_id, task, run, device, amount, due_at) values ($1,$2,$3,$4,$5,$6) on conflict do nothing',
            [job.sub.jobId, t.index, r.run, r.device, amount.toString(), t.dueAt],
          );
        }
      }
      for (const liar of j.contradicted.map((i) => t.runs[i]!)) {
        if (liar.convicted) continue;
        liar.convicted = true;
        stats.lies++;
        reputation.set(liar.device, updateReputation(reputation.get(liar.device) ?? INITIAL_REPUTATION, 'lie'));
        const verdict: Verdict = {
          job: job.sub.jobId,
          task: t.index,
          accused: liar.device,
          confirmed: winner.claim,
          results: [liar.result!.report, ...agreed.map((r) => r.result!.report)],
        };
        // The oracle's input to this epoch (closer: oracle_inputs), judged again by the verifier.
        await tx.query('insert into oracle_inputs (network, epoch, input) values ($1, $2, $3)', [
          ctx.network,
          ctx.clock.epochAtMs(now),
          canonicalJson(verdict),
        ]);
        ctx.log(`task ${t.index} of job ${job.sub.jobId.slice(0, 10)}: device ${liar.device.slice(0, 10)} returned a wrong result`);
      }
    });
    for (const r of t.runs) refreshOffer(r.device);
    finishIfDone(job);
  }

  /** Writes a job's new state behind the caller (nothing awaits it, so a failure is logged, not thrown). */
  function saveJobState(job: Job, error: string | null): void {
    void ctx.db
      .query('update compute_jobs set state = $2, error = $3 where job_id = $1', [job.sub.jobId, job.state, error])
      .catch((err) => ctx.log(`saving job ${job.sub.jobId}'s state failed: ${(err as Error).message.split('\n')[0]}`));
  }

  function finishIfDone(job: Job): void {
    if (job.state !== 'running') return;
    if (job.tasks.every((t) => t.state === 'verified' || t.state === 'failed')) {
      job.state = job.tasks.some((t) => t.state === 'failed') ? 'failed' : 'done';
      const failed = job.tasks.filter((t) => t.state === 'failed');
      if (job.state === 'failed') {
        const first = failed[0]!;
        job.error = `${failed.length} of ${job.tasks.length} task(s) failed; task ${first.index}: ${first.reason ?? 'failed'}`;
      }
      saveJobState(job, job.error);
    }
  }

  async function cancelJob(job: Job, why: string): Promise<void> {
    // What was decided before the cancel is accepted: cancelling is not a way out of paying for it.
    await accept(job, null);
    job.state = 'cancelled';
    job.error = why;
    for (const t of job.tasks) {
      if (t.state === 'verified' || t.state === 'failed') continue;
      t.state = 'cancelled';
      if (t.queuedRun !== null) matcher.cancel(taskKey(job.sub.jobId, t.index, t.queuedRun));
      for (const r of t.runs) if (!r.result && !r.lost) matcher.release(taskKey(job.sub.jobId, t.index, r.run));
    }
    saveJobState(job, why);
  }

  /** Makes the decided tasks' payments due now (`tasks` null: every task); returns the tasks accepted. */
  async function accept(job: Job, tasks: number[] | null): Promise<number[]> {
    const now = Date.now();
    const chosen = (tasks ?? job.tasks.map((t) => t.index)).map((i) => job.tasks[i]!);
    const accepted = chosen.filter((t) => t.dueAt !== null && t.dueAt > now);
    for (const t of accepted) t.dueAt = now;
    if (!accepted.length) return [];
    const list = accepted.map((t) => t.index);
    await ctx.db.transaction(async (tx) => {
      await tx.query('update compute_tasks set due_at = $3 where job_id = $1 and task = any($2::int[])', [job.sub.jobId, list, now]);
      await tx.query('update compute_payments set due_at = $3 where job_id = $1 and task = any($2::int[]) and attempt_seq is null', [
        job.sub.jobId,
        list,
        now,
      ]);
    });
    return list;
  }

  /**
   * The consumer rejects decided tasks inside their windows: their unsettled payments are
   * withdrawn and each runs once more on an owner it has not used, needing one more agreeing
   * result than it had. Refused whole (nothing changes) if any task cannot be rejected.
   */
  async function reject(job: Job, tasks: number[]): Promise<number[]> {
    const now = Date.now();
    if (job.finalSent) throw new ServiceError(409, 'job-closed', `job ${job.sub.jobId} is settled and closed on chain`);
    if (job.state === 'cancelled') throw new ServiceError(409, 'job-cancelled', `job ${job.sub.jobId} was cancelled`);
    const chosen = tasks.map((i) => job.tasks[i]!);
    for (const t of chosen) {
      if (t.rejected)
        throw new ServiceError(409, 'already-rejected', `task ${t.index} was rejected once already; its second decision stands`);
      if (t.dueAt === null)
        throw new ServiceError(409, 'not-decided', `task ${t.index} is ${t.state}: only a decided task can be rejected`);
      if (t.dueAt <= now)
        throw new ServiceError(409, 'window-closed', `task ${t.index}'s window closed at ${new Date(t.dueAt).toISOString()}`);
    }
    await ctx.db.transaction(async (tx) => {
      for (const t of chosen) {
        const left = await tx.query<{ n: number }>(
          'select count(*)::int as n from compute_payments where job_id = $1 and task = $2 and attempt_seq is not null',
          [job.sub.jobId, t.index],
        );
        if (left[0]!.n > 0) throw new ServiceError(409, 'window-closed', `task ${t.index}'s payments are already being settled`);
        await tx.query('delete from compute_payments where job_id = $1 and task = $2', [job.sub.jobId, t.index]);
        await tx.query("update compute_tasks set state = 'rejected', rejected = true, due_at = 0 where job_id = $1 and task = $2", [
          job.sub.jobId,
          t.index,
        ]);
      }
      if (job.state !== 'running')
        await tx.query("update compute_jobs set state = 'running', error = null where job_id = $1", [job.sub.jobId]);
    });
    for (const t of chosen) {
      const agreeing = t.runs.filter((r) => r.result && r.result.claim === claimOfTask(t)).length;
      t.rejected = true;
      t.state = 'checking';
      t.dueAt = null;
      t.needed = Math.max(t.needed, agreeing) + 1;
      t.reason = 'rejected by the consumer: running again on another owner';
      t.output = null;
      t.computeUnits = null;
      t.device = null;
      t.error = null;
      enqueueRun(job, t);
    }
    job.state = 'running';
    job.error = null;
    ctx.log(`job ${job.sub.jobId.slice(0, 10)}: the consumer rejected task(s) ${tasks.join(', ')}`);
    return tasks;
  }

  /** The claim a decided task stands on (of the device its output is credited to). */
  function claimOfTask(t: TaskEntry): string | null {
    return t.runs.find((r) => r.device === t.device && r.result)?.result?.claim ?? null;
  }

  /** Checks a consumer's signed accept or reject; returns the tasks it names (null: all, for accept). */
  async function consumerAction(job: Job, action: 'accept' | 'reject', raw: Uint8Array): Promise<number[] | null> {
    const parsed = parseJsonBody({ body: raw }, consumerActionSchema);
    const tasks = parsed.tasks ? [...new Set(parsed.tasks)] : null;
    if (action === 'reject' && !tasks) throw new ServiceError(400, 'malformed', 'tasks: name the tasks to reject');
    for (const i of tasks ?? []) {
      if (i >= job.tasks.length) throw new ServiceError(400, 'malformed', `tasks: job ${job.sub.jobId} has no task ${i}`);
    }
    const message = consumerActionMessage({ action, chainId: ctx.chain.chainId, jobId: job.sub.jobId as Hex, tasks });
    let signer: Address;
    try {
      signer = await recoverMessageAddress({ message, signature: parsed.signature as Hex });
    } catch (err) {
      throw new ServiceError(400, 'bad-signature', `signature: ${(err as Error).message.split('\n')[0]}`);
    }
    if (signer.toLowerCase() !== job.sub.consumer.toLowerCase()) {
      throw new ServiceError(403, 'not-consumer', `the signature is by ${signer}, not by the job's consumer ${job.sub.consumer}`);
    }
    return tasks;
  }

  /** One settlement per job with verified runs not yet settled, or that has ended and not closed. */
  async function settle(): Promise<void> {
    if (!escrow || !sender) return;
    for (const job of jobs.values()) {
      if (job.finalSent) continue;
      const chainJob = (await ctx.chain.client.readContract({
        address: escrow,
        abi: CreditEscrowAbi,
        functionName: 'job',
        args: [job.sub.jobId],
      })) as { status: number; seq: bigint; burned: bigint };
      if (chainJob.status === EscrowStatus.Settled || chainJob.status === EscrowStatus.Reclaimed) {
        job.finalSent = true;
        if (job.state === 'running') await cancelJob(job, 'the escrow was closed on chain');
        continue;
      }
      if (chainJob.status === EscrowStatus.Cancelled && job.state === 'running') await cancelJob(job, 'cancelled by the consumer');
      if (job.state === 'running' && Date.now() > job.sub.deadline) await cancelJob(job, 'the deadline passed');
      const seq = Number(chainJob.seq);
      // A settlement sent before a crash that landed: its payments are settled.
      await ctx.db.query(
        'update compute_payments set settled_seq = attempt_seq where job_id = $1 and attempt_seq <= $2 and settled_seq is null',
        [job.sub.jobId, seq],
      );
      const now = Date.now();
      const next = seq + 1;
      // Taking the due payments and marking them with this settlement is one statement, so a
      // rejection (which withdraws payments not yet taken) cannot slip between the two.
      // A settlement `next` already sent whose receipt never came may still land: it is sent again
      // exactly as it was (other due payments wait for the one after), or a payment added to it
      // would be marked settled by a transaction that never carried it.
      const resent = await ctx.db.query<{ device: string; amount: string }>(
        'select device, amount from compute_payments where job_id = $1 and attempt_seq = $2 and settled_seq is null',
        [job.sub.jobId, next],
      );
      const taken = resent.length
        ? resent
        : await ctx.db.query<{ device: string; amount: string }>(
            'update compute_payments set attempt_seq = $2 where job_id = $1 and settled_seq is null and due_at <= $3 returning device, amount',
            [job.sub.jobId, next, now],
          );
      const byDevice = new Map<string, bigint>();
      for (const r of taken) byDevice.set(r.device, (byDevice.get(r.device) ?? 0n) + BigInt(r.amount));
      const due = [...byDevice].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([device, amount]) => ({ device, amount }));
      // Final once the job has ended and no task's window is open: nothing more can fall due.
      const isFinal = !resent.length && job.state !== 'running' && !job.tasks.some((t) => t.dueAt !== null && t.dueAt > now);
      if (!due.length && !isFinal) continue;
      const message = {
        jobId: job.sub.jobId,
        consumer: job.sub.consumer,
        network: ctx.networkId,
        seq: BigInt(next),
        deviceIds: due.map((d) => BigInt(d.device)),
        amounts: due.map((d) => BigInt(d.amount)),
        isFinal,
      };
      await sendSettlement(ctx.chain, sender, { escrow, message });
      await ctx.db.query('update compute_payments set settled_seq = $2 where job_id = $1 and attempt_seq = $2', [job.sub.jobId, next]);
      job.burned += message.amounts.reduce((a, b) => a + b, 0n);
      job.settlements = next;
      stats.settlements++;
      if (isFinal) job.finalSent = true;
    }
  }

  /** Deletes blobs past retention that no running job, or job with a window open, still names. */
  async function sweepBlobs(now: number): Promise<void> {
    const old = await ctx.db.query<{ cid: string; bytes: number; stored_at: string }>(
      'select cid, octet_length(bytes) as bytes, stored_at from compute_blobs where stored_at < $1',
      [now - p.blobRetentionMs],
    );
    if (!old.length) return;
    const inUse = new Set<string>();
    for (const job of jobs.values()) {
      if (job.state !== 'running' && !job.tasks.some((t) => t.dueAt !== null && t.dueAt > now)) continue;
      for (const cid of [job.sub.module, job.sub.stdin, ...Object.values(job.sub.inputs)]) if (cid) inUse.add(cid);
      for (const t of job.tasks) {
        if (t.output) inUse.add(t.output);
        for (const r of t.runs) if (r.result?.body.output) inUse.add(r.result.body.output);
      }
    }
    const blobs = old.map((b) => ({ cid: b.cid, bytes: Number(b.bytes), storedAt: Number(b.stored_at) }));
    const gone = expiredBlobs(blobs, inUse, now, p.blobRetentionMs);
    if (!gone.length) return;
    const deleted = await ctx.db.query<{ bytes: number }>(
      'delete from compute_blobs where cid = any($1::text[]) returning octet_length(bytes) as bytes',
      [gone],
    );
    storedBytes -= deleted.reduce((n, d) => n + Number(d.bytes), 0);
    ctx.log(`deleted ${deleted.length} blob(s) past the ${Math.round(p.blobRetentionMs / 3600_000)} h retention`);
  }

  function tick(): void {
    const now = Date.now();
    if (!sweeping && now - lastSweep >= 60_000) {
      sweeping = true;
      lastSweep = now;
      void sweepBlobs(now)
        .catch((err) => ctx.log(`sweeping blobs failed: ${(err as Error).message.split('\n')[0]}`))
        .finally(() => {
          sweeping = false;
        });
    }
    for (const job of jobs.values()) {
      if (job.state !== 'running') continue;
      for (const t of job.tasks) {
        for (const r of t.runs) if (!r.result && !r.lost && now - r.assignedAt > p.runTimeoutMs) lose(job, t, r.device, 'timeout');
      }
    }
    assign(now);
    if (!settling && now - lastSettle >= p.settleEveryMs) {
      settling = true;
      lastSettle = now;
      void settle()
        .then(() => {
          stats.lastError = null;
        })
        .catch((err) => {
          stats.lastError = (err as Error).message.split('\n')[0]!;
          ctx.log(`settling failed: ${stats.lastError}`);
        })
        .finally(() => {
          settling = false;
        });
    }
  }

  async function submit(raw: unknown): Promise<Job> {
    const sub = parseWith(jobSubmissionSchema, raw);
    if (jobs.has(sub.jobId)) throw new ServiceError(409, 'duplicate-job', `job ${sub.jobId} was already submitted`);
    const blobs = [sub.module, ...(sub.stdin ? [sub.stdin] : []), ...Object.values(sub.inputs)];
    for (const cid of blobs) {
      const found = await ctx.db.query('select 1 from compute_blobs where cid = $1', [cid]);
      if (!found.length) throw new ServiceError(400, 'missing-blob', `${cid} was not uploaded (PUT /v1/compute/blobs/${cid} first)`);
    }
    const [module] = await ctx.db.query<{ bytes: Uint8Array }>('select bytes from compute_blobs where cid = $1', [sub.module]);
    // Loaded on first use: binaryen takes seconds to load, and an oracle without compute jobs
    // (or the artifact writer thread, which loads every plug-in) should not pay for it.
    const { validateTask } = await import('../sandbox/run.ts');
    try {
      validateTask({ module: module!.bytes, allow: sub.allow, limits: { memoryBytes: sub.memoryBytes, fuel: sub.fuel } });
    } catch (err) {
      throw new ServiceError(400, 'bad-module', `module: ${(err as Error).message}`);
    }
    if (!escrow) throw new ServiceError(503, 'no-escrow', 'this deployment has no credit escrow contract');
    const onChain = (await ctx.chain.client.readContract({
      address: escrow,
      abi: CreditEscrowAbi,
      functionName: 'job',
      args: [sub.jobId],
    })) as {
      consumer: Address;
      status: number;
      network: Hex;
      escrowed: bigint;
    };
    if (onChain.status !== EscrowStatus.Open) throw new ServiceError(402, 'no-escrow', `job ${sub.jobId} has no open escrow on chain`);
    if (onChain.consumer.toLowerCase() !== sub.consumer.toLowerCase()) {
      throw new ServiceError(403, 'wrong-consumer', `the escrow of ${sub.jobId} belongs to ${onChain.consumer}, not ${sub.consumer}`);
    }
    if (onChain.network !== ctx.networkId) throw new ServiceError(400, 'wrong-network', `the escrow of ${sub.jobId} is not for compute`);
    if (onChain.escrowed < BigInt(sub.maxCost)) {
      throw new ServiceError(402, 'escrow-too-small', `maxCost ${sub.maxCost} credits but only ${onChain.escrowed} are escrowed`);
    }
    await ctx.db.query('insert into compute_jobs (job_id, consumer, submission, state, created_at) values ($1,$2,$3,$4,$5)', [
      sub.jobId,
      sub.consumer.toLowerCase(),
      JSON.stringify(sub),
      'running',
      Date.now(),
    ]);
    return addJob(sub, 'running', null, []);
  }

  function addJob(sub: JobSubmission, state: Job['state'], error: string | null, decided: DecidedRow[]): Job {
    const spot = Math.max(sub.spotCheck, p.minSpotCheck);
    const job: Job = { sub, state, error, burned: 0n, settlements: 0, finalSent: false, tasks: [] };
    const done = new Map(decided.map((v) => [v.task, v]));
    for (const [i, t] of sub.tasks.entries()) {
      // A task rejected before a restart runs again from scratch, with one agreeing result more.
      const row = done.get(i);
      const v = row && row.state !== 'rejected' ? row : undefined;
      job.tasks.push({
        index: i,
        args: t.args,
        state: v ? (v.state as TaskState) : state === 'running' ? 'queued' : 'cancelled',
        runs: [],
        needed: sub.redundancy + (spotChecked(sub.jobId, i, spot) ? 1 : 0) + (row?.rejected ? 1 : 0),
        output: v?.output ?? null,
        computeUnits: v?.compute_units ?? null,
        device: v?.device ?? null,
        reason: v?.error ? describeSandboxCode(v.error) : null,
        queuedRun: null,
        error: v?.error ?? null,
        dueAt: v ? Number(v.due_at) : null,
        rejected: row?.rejected ?? false,
      });
    }
    jobs.set(sub.jobId, job);
    if (state === 'running') for (const t of job.tasks) if (t.state === 'queued') enqueueRun(job, t);
    finishIfDone(job);
    return job;
  }

  function statusOf(job: Job): JobStatus {
    return {
      jobId: job.sub.jobId,
      consumer: job.sub.consumer,
      state: job.state,
      tasks: job.tasks.map((t) => ({
        index: t.index,
        state: t.state,
        output: t.output,
        computeUnits: t.computeUnits,
        device: t.device,
        reason: t.reason,
        error: t.error,
        acceptBy: t.dueAt,
        rejected: t.rejected,
      })),
      burned: job.burned.toString(),
      maxCost: job.sub.maxCost,
      settlements: job.settlements,
      error: job.error,
    };
  }

  const routes: ServiceRoute[] = [
    {
      method: 'PUT',
      path: 'blobs/(b[a-z2-7]{20,120})',
      maxBodyBytes: MAX_BLOB_BYTES,
      handle: async (req) => {
        const cid = req.params[0]!;
        try {
          checkCid(req.body, cid, 'the body');
        } catch (err) {
          throw new ServiceError(400, 'cid-mismatch', (err as Error).message);
        }
        const known = await ctx.db.query('select 1 from compute_blobs where cid = $1', [cid]);
        if (known.length) return { status: 200, json: { cid, bytes: req.body.length } };
        const full = refuseOverCap(storedBytes, req.body.length, p.maxStoredBytes);
        if (full) throw new ServiceError(507, 'store-full', full);
        // Reserved before the insert, so that uploads at once cannot together pass the cap.
        storedBytes += req.body.length;
        let rows: unknown[];
        try {
          rows = await ctx.db.query(
            'insert into compute_blobs (cid, bytes, stored_at) values ($1, $2, $3) on conflict do nothing returning cid',
            [cid, req.body, Date.now()],
          );
        } catch (err) {
          storedBytes -= req.body.length;
          throw err;
        }
        if (!rows.length) storedBytes -= req.body.length;
        return { status: rows.length ? 201 : 200, json: { cid, bytes: req.body.length } };
      },
    },
    {
      method: 'GET',
      path: 'blobs/(b[a-z2-7]{20,120})',
      handle: async (req) => {
        const [row] = await ctx.db.query<{ bytes: Uint8Array }>('select bytes from compute_blobs where cid = $1', [req.params[0]]);
        if (!row) throw new ServiceError(404, 'unknown-blob', `no blob ${req.params[0]}`);
        return { body: new Uint8Array(row.bytes), type: 'application/octet-stream' };
      },
    },
    {
      method: 'POST',
      path: 'jobs',
      handle: async (req) => {
        const raw = jsonBody(req);
        return { status: 201, json: statusOf(await submit(raw)) };
      },
    },
    { method: 'GET', path: 'jobs/(0x[0-9a-f]{64})', handle: async (req) => ({ json: statusOf(jobOf(req.params[0]!)) }) },
    {
      method: 'POST',
      path: 'jobs/(0x[0-9a-f]{64})/accept',
      handle: async (req) => {
        const job = jobOf(req.params[0]!);
        const accepted = await accept(job, await consumerAction(job, 'accept', req.body));
        return { json: { accepted, status: statusOf(job) } };
      },
    },
    {
      method: 'POST',
      path: 'jobs/(0x[0-9a-f]{64})/reject',
      handle: async (req) => {
        const job = jobOf(req.params[0]!);
        const rejected = await reject(job, (await consumerAction(job, 'reject', req.body))!);
        return { json: { rejected, status: statusOf(job) } };
      },
    },
    {
      method: 'GET',
      path: 'jobs',
      handle: async (req) => {
        const consumer = req.query.get('consumer')?.toLowerCase();
        const list = [...jobs.values()].filter((j) => !consumer || j.sub.consumer.toLowerCase() === consumer);
        return { json: { jobs: list.map(statusOf) } };
      },
    },
  ];

  return {
    schema: SCHEMA,
    routes,
    async onConnection(device, hello) {
      if (!hello) {
        offers.delete(device);
        const running = matcher.removeProvider(device);
        for (const ref of running) {
          const job = jobs.get(ref.job);
          const t = job?.tasks[ref.task];
          if (job && t) lose(job, t, device, 'vanished');
        }
        return;
      }
      const offer = offerSchema.safeParse(hello);
      const known = ctx.device(device);
      if (!offer.success || !known) return ctx.log(`device ${device.slice(0, 10)} sent a malformed offer`);
      const o: MatcherOffer = {
        device,
        owner: known.owner.toLowerCase(),
        cores: offer.data.cores,
        memoryBytes: offer.data.memoryBytes,
        benchScore: offer.data.benchScore,
        pricePerMCU: Number(offer.data.pricePerMCU),
        reputation: reputation.get(device) ?? INITIAL_REPUTATION,
        attributes: offer.data.attributes,
        maxConcurrent: offer.data.maxConcurrent,
      };
      offers.set(device, o);
      matcher.upsertOffer(o);
    },
    async onMessage(_device: Hex, _payload: ServicePayload) {},
    async onReport(accepted) {
      if (accepted.report.type === RESULT_TYPE) await onResult(accepted);
    },
    async start() {
      const [held] = await ctx.db.query<{ n: string }>('select coalesce(sum(octet_length(bytes)), 0)::text as n from compute_blobs');
      storedBytes = Number(held!.n);
      const rows = await ctx.db.query<{ submission: string; state: string; error: string | null }>(
        'select submission, state, error from compute_jobs order by created_at',
      );
      for (const r of rows) {
        const sub = jobSubmissionSchema.parse(JSON.parse(r.submission));
        const decided = await ctx.db.query<DecidedRow>(
          'select task, state, output, compute_units, device, error, due_at, rejected from compute_tasks where job_id = $1',
          [sub.jobId],
        );
        addJob(sub, r.state as Job['state'], r.error, decided);
      }
      timer = setInterval(tick, 100);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
    status: () => ({
      jobs: jobs.size,
      running: [...jobs.values()].filter((j) => j.state === 'running').length,
      providers: offers.size,
      queued: matcher.queueLength,
      storedBytes,
      ...stats,
    }),
  };
}

export { cidOf };
