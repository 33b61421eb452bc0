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
import { keccak256, encodePacked, type Address, type Hex, type LocalAccount } from 'viem';
import { CreditEscrowAbi, signSettlement } from '@groundwork/contracts';
import {
  type AcceptedReport,
  type NetworkService,
  type ServiceContext,
  ServiceError,
  type ServicePayload,
  canonicalJson,
  type ServiceRoute,
} from '@groundwork/protocol';
import { checkCid, cidOf } from '../cid.ts';
import { Matcher } from '../matcher/index.ts';
import { INITIAL_REPUTATION, updateReputation } from '../matcher/reputation.ts';
import { describeUnplaced, type Offer as MatcherOffer } from '../matcher/types.ts';
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
      if (!job || !t || job.state !== 'running') {
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
    if (!job || !t || !run || run.device !== accepted.report.device || run.result || run.lost) return;
    if (body.data.module !== job.sub.module) return;
    if (body.data.output) {
      const stored = await ctx.db.query('select 1 from compute_blobs where cid = $1', [body.data.output]);
      if (!stored.length) return; // the output must be uploaded before the report; it will time out
    }
    run.result = { report: accepted.report, body: body.data, claim: claimOf(body.data) };
    matcher.release(taskKey(job.sub.jobId, t.index, run.run));
    await judgeTask(job, t);
  }

  async function judgeTask(job: Job, t: TaskEntry): Promise<void> {
    if (t.state !== 'running' && t.state !== 'checking') return;
    const answered = t.runs.filter((r) => r.result);
    const byClaim = new Map<string, Run[]>();
    for (const r of answered) byClaim.set(r.result!.claim, [...(byClaim.get(r.result!.claim) ?? []), r]);
    const agreed = [...byClaim.values()].sort((a, b) => b.length - a.length)[0];
    const disputed = byClaim.size > 1;
    // Verified when `needed` results agree and nobody disagrees, or, after a dispute, when two
    // owners' results agree against the rest (the deciding run settles it).
    const owners = new Set(agreed?.map((r) => r.owner));
    const decided = agreed && (disputed ? agreed.length >= 2 && owners.size >= 2 : agreed.length >= t.needed);
    if (!decided) {
      // A dispute needs one more result than there are (the deciding run); otherwise `needed`.
      const outstanding = t.runs.filter((r) => !r.result && !r.lost).length;
      const target = disputed ? answered.length + 1 : t.needed;
      if (answered.length + outstanding < target) enqueueRun(job, t);
      return;
    }
    const winner = agreed[0]!.result!;
    t.state = 'verified';
    t.output = winner.body.output;
    t.computeUnits = winner.body.computeUnits;
    t.device = agreed[0]!.device;
    stats.verified++;
    for (const r of t.runs.filter((x) => !x.result && !x.lost)) {
      r.lost = true;
      matcher.release(taskKey(job.sub.jobId, t.index, r.run));
    }
    await ctx.db.transaction(async (tx) => {
      await tx.query(
        'insert into compute_tasks (job_id, task, state, output, compute_units, device) values ($1,$2,$3,$4,$5,$6) on conflict do nothing',
        [job.sub.jobId, t.index, 'verified', t.output, t.computeUnits, t.device],
      );
      for (const r of agreed) {
        const amount = runCost(BigInt(r.result!.body.computeUnits), r.priceMicro);
        reputation.set(r.device, updateReputation(reputation.get(r.device) ?? INITIAL_REPUTATION, 'verified'));
        if (amount > 0n) {
          await tx.query(
            'insert into compute_payments (job_id, task, run, device, amount) values ($1,$2,$3,$4,$5) on conflict do nothing',
            [job.sub.jobId, t.index, r.run, r.device, amount.toString()],
          );
        }
      }
      for (const [claim, runs] of byClaim) {
        if (claim === winner.claim) continue;
        for (const liar of runs) {
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
            ctx.clock.epochAtMs(Date.now()),
            canonicalJson(verdict),
          ]);
          ctx.log(`task ${t.index} of job ${job.sub.jobId.slice(0, 10)}: device ${liar.device.slice(0, 10)} returned a wrong result`);
        }
      }
    });
    for (const r of t.runs) refreshOffer(r.device);
    finishIfDone(job);
  }

  function finishIfDone(job: Job): void {
    if (job.state !== 'running') return;
    if (job.tasks.every((t) => t.state === 'verified' || t.state === 'failed')) {
      job.state = job.tasks.some((t) => t.state === 'failed') ? 'failed' : 'done';
      if (job.state === 'failed') job.error = `${job.tasks.filter((t) => t.state === 'failed').length} task(s) failed`;
      void ctx.db.query('update compute_jobs set state = $2, error = $3 where job_id = $1', [job.sub.jobId, job.state, job.error]);
    }
  }

  function cancelJob(job: Job, why: string): void {
    job.state = 'cancelled';
    job.error = why;
    for (const t of job.tasks) {
      if (t.state === 'verified' || t.state === 'failed') continue;
      t.state = 'cancelled';
      if (t.queuedRun !== null) matcher.cancel(taskKey(job.sub.jobId, t.index, t.queuedRun));
      for (const r of t.runs) if (!r.result && !r.lost) matcher.release(taskKey(job.sub.jobId, t.index, r.run));
    }
    void ctx.db.query('update compute_jobs set state = $2, error = $3 where job_id = $1', [job.sub.jobId, job.state, why]);
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
        if (job.state === 'running') cancelJob(job, 'the escrow was closed on chain');
        continue;
      }
      if (chainJob.status === EscrowStatus.Cancelled && job.state === 'running') cancelJob(job, 'cancelled by the consumer');
      if (job.state === 'running' && Date.now() > job.sub.deadline) cancelJob(job, 'the deadline passed');
      const seq = Number(chainJob.seq);
      // A settlement sent before a crash that landed: its payments are settled.
      await ctx.db.query(
        'update compute_payments set settled_seq = attempt_seq where job_id = $1 and attempt_seq <= $2 and settled_seq is null',
        [job.sub.jobId, seq],
      );
      const due = await ctx.db.query<{ device: string; amount: string }>(
        'select device, sum(amount::numeric)::text as amount from compute_payments where job_id = $1 and settled_seq is null group by device order by device',
        [job.sub.jobId],
      );
      const isFinal = job.state !== 'running';
      if (!due.length && !isFinal) continue;
      const next = seq + 1;
      await ctx.db.query('update compute_payments set attempt_seq = $2 where job_id = $1 and settled_seq is null', [job.sub.jobId, next]);
      const message = {
        jobId: job.sub.jobId,
        consumer: job.sub.consumer,
        network: ctx.networkId,
        seq: BigInt(next),
        deviceIds: due.map((d) => BigInt(d.device)),
        amounts: due.map((d) => BigInt(d.amount)),
        isFinal,
      };
      const signatures = await signSettlement(ctx.chain.signers.slice(0, ctx.chain.quorum), ctx.chain.chainId, escrow, message);
      const hash = await ctx.chain.wallet.writeContract({
        account: sender,
        chain: null,
        address: escrow,
        abi: CreditEscrowAbi,
        functionName: 'settle',
        args: [message.jobId, message.seq, message.deviceIds, message.amounts, message.isFinal, signatures],
      });
      const receipt = await ctx.chain.client.waitForTransactionReceipt({ hash });
      if (receipt.status !== 'success') throw new Error(`settlement ${next} of job ${job.sub.jobId} reverted (${hash})`);
      await ctx.db.query('update compute_payments set settled_seq = $2 where job_id = $1 and attempt_seq = $2', [job.sub.jobId, next]);
      job.burned += message.amounts.reduce((a, b) => a + b, 0n);
      job.settlements = next;
      stats.settlements++;
      if (isFinal) job.finalSent = true;
    }
  }

  function tick(): void {
    const now = Date.now();
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
    const parsed = jobSubmissionSchema.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new ServiceError(400, 'malformed', `${i.path.join('.') || '(root)'}: ${i.message}`);
    }
    const sub = parsed.data;
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

  function addJob(
    sub: JobSubmission,
    state: Job['state'],
    error: string | null,
    verified: { task: number; output: string | null; computeUnits: string; device: Hex }[],
  ): Job {
    const spot = Math.max(sub.spotCheck, p.minSpotCheck);
    const job: Job = { sub, state, error, burned: 0n, settlements: 0, finalSent: false, tasks: [] };
    const done = new Map(verified.map((v) => [v.task, v]));
    for (const [i, t] of sub.tasks.entries()) {
      const v = done.get(i);
      job.tasks.push({
        index: i,
        args: t.args,
        state: v ? 'verified' : state === 'running' ? 'queued' : 'cancelled',
        runs: [],
        needed: sub.redundancy + (spotChecked(sub.jobId, i, spot) ? 1 : 0),
        output: v?.output ?? null,
        computeUnits: v?.computeUnits ?? null,
        device: v?.device ?? null,
        reason: null,
        queuedRun: null,
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
        const rows = await ctx.db.query(
          'insert into compute_blobs (cid, bytes, stored_at) values ($1, $2, $3) on conflict do nothing returning cid',
          [cid, req.body, Date.now()],
        );
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
        let raw: unknown;
        try {
          raw = JSON.parse(Buffer.from(req.body).toString('utf8'));
        } catch (err) {
          throw new ServiceError(400, 'malformed', `body is not JSON: ${(err as Error).message}`);
        }
        return { status: 201, json: statusOf(await submit(raw)) };
      },
    },
    { method: 'GET', path: 'jobs/(0x[0-9a-f]{64})', handle: async (req) => ({ json: statusOf(jobOf(req.params[0]!)) }) },
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
      const rows = await ctx.db.query<{ submission: string; state: string; error: string | null }>(
        'select submission, state, error from compute_jobs order by created_at',
      );
      for (const r of rows) {
        const sub = jobSubmissionSchema.parse(JSON.parse(r.submission));
        const verified = await ctx.db.query<{ task: number; output: string | null; compute_units: string; device: Hex }>(
          'select task, output, compute_units, device from compute_tasks where job_id = $1',
          [sub.jobId],
        );
        addJob(
          sub,
          r.state as Job['state'],
          r.error,
          verified.map((v) => ({ task: v.task, output: v.output, computeUnits: v.compute_units, device: v.device })),
        );
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
      ...stats,
    }),
  };
}

export { cidOf };
