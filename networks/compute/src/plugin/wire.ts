// What the compute network's parts say to each other, as zod schemas: the provider's offer (its
// worker's hello), a task pushed to a provider, the signed result report, a consumer's job
// submission and the job's status. The oracle's service, the agent's worker and the consumer's
// client all check what they receive against these.
//
// Routes of the service (under /v1/compute/):
//   PUT  blobs/<cid>          raw bytes; the CID must be theirs (modules, inputs, outputs)
//   GET  blobs/<cid>          the bytes
//   POST jobs                 a JobSubmission (JSON); the escrow must already be open on chain
//   GET  jobs/<jobId>         its JobStatus
//   GET  jobs?consumer=<addr> the consumer's jobs
//   POST jobs/<jobId>/accept  a ConsumerAction: the named decided tasks (all, without `tasks`) are paid now
//   POST jobs/<jobId>/reject  a ConsumerAction: the named tasks run again inside their windows
import type { Hex } from 'viem';
import { z } from 'zod';
import { addressSchema, hex32, uintString } from '@groundwork/protocol';

export const KIND = 'compute';
export const RESULT_TYPE = 'result';
/** Largest blob the service stores (a module, an input, a task's encoded output). */
export const MAX_BLOB_BYTES = 64 << 20;

const cid = z.string().regex(/^b[a-z2-7]{20,120}$/, 'must be a base32 CIDv1 (bafk…)');
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** Credits per million compute units, as a decimal string with up to 6 decimals (exact). */
const price = z.string().regex(/^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$/, 'must be a decimal number with at most 6 decimals');

/** A provider's offer: sent by its worker as the socket's hello (Akash's profile, Golem's offer). */
export const offerSchema = z
  .object({
    cores: z.number().int().min(1).max(1024),
    memoryBytes: count,
    /** Compute units per second the agent measured on its own sandbox. */
    benchScore: z.number().positive().max(1e15),
    pricePerMCU: price,
    maxConcurrent: z.number().int().min(1).max(256),
    attributes: z.record(z.string().max(64), z.string().max(128)).default({}),
  })
  .strict();
export type Offer = z.infer<typeof offerSchema>;

/** A task as the service pushes it to the provider chosen for it. */
export const taskPayloadSchema = z
  .object({
    type: z.literal('task'),
    job: hex32,
    task: count,
    /** 0 for the first run of a task; spot checks, redundant and deciding runs count up. */
    run: z.number().int().min(0).max(64),
    module: cid,
    args: z.array(z.string().max(4096)).max(256),
    stdin: cid.nullable(),
    inputs: z.record(z.string().max(255), cid),
    memoryBytes: count,
    fuel: count,
    allow: z.object({ clock: z.boolean(), random: z.boolean() }).strict(),
    /** Fixes the clock and the random bytes a task sees, if it may have them. */
    seed: hex32,
    deadline: count,
  })
  .strict();
export type TaskPayload = z.infer<typeof taskPayloadSchema>;

/** A provider's signed answer to a task (a report of type `result`, through ingest). */
export const resultBodySchema = z
  .object({
    job: hex32,
    task: count,
    run: z.number().int().min(0).max(64),
    module: cid,
    /** CID of the canonical encoding of exit code, stdout and /output (sandbox/encoding.ts); uploaded before the report. */
    output: cid.nullable(),
    computeUnits: uintString,
    exitCode: z.number().int(),
    /** The sandbox's error code when the task did not finish (deterministic ones are results too). */
    error: z.string().max(64).nullable(),
  })
  .strict();
export type ResultBody = z.infer<typeof resultBodySchema>;

/**
 * What a result claims, as one string: two results agree iff their claims are equal. Output,
 * compute units and exit code all count (a provider that bills more units than it ran is as
 * wrong as one with a wrong output); a deterministic sandbox error is a claim of its own.
 */
export function claimOf(body: ResultBody): string {
  return body.error ? `error:${body.error}:${body.computeUnits}` : `${body.output}:${body.computeUnits}:${body.exitCode}`;
}

/** A job as the consumer's client submits it, after uploading its blobs and opening the escrow. */
export const jobSubmissionSchema = z
  .object({
    jobId: hex32,
    consumer: addressSchema,
    module: cid,
    stdin: cid.nullable(),
    inputs: z.record(z.string().max(255), cid),
    tasks: z
      .array(z.object({ index: count, args: z.array(z.string().max(4096)).max(256) }).strict())
      .min(1)
      .max(10_000),
    memoryBytes: count,
    fuel: count,
    maxPrice: price,
    /** Unix ms. */
    deadline: count,
    spotCheck: z.number().min(0).max(1),
    redundancy: z.number().int().min(1).max(5),
    allow: z.object({ clock: z.boolean(), random: z.boolean() }).strict(),
    maxCost: uintString,
    /** Provider attributes every run needs, matched exactly (Akash's placement attributes; e.g. { region: 'eu' }). */
    attributes: z.record(z.string().max(64), z.string().max(128)).default({}),
  })
  .strict();
export type JobSubmission = z.infer<typeof jobSubmissionSchema>;

export type TaskState = 'queued' | 'running' | 'checking' | 'verified' | 'failed' | 'cancelled';

export type JobStatus = {
  jobId: string;
  consumer: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  tasks: {
    index: number;
    state: TaskState;
    /** The verified output's CID. */
    output: string | null;
    computeUnits: string | null;
    device: string | null;
    /** Why it is not placed or failed, in words (the matcher's reason, or the sandbox's). */
    reason: string | null;
    /** The sandbox's code when the task failed deterministically (fuel-exhausted, trap, …). */
    error: string | null;
    /** Unix ms when it is accepted (its payments fall due) unless rejected first; null until decided. */
    acceptBy: number | null;
    /** The consumer rejected it once; the decision after that stands. */
    rejected: boolean;
  }[];
  /** Credits burned so far (settled on chain) and the escrowed maximum. */
  burned: string;
  maxCost: string;
  settlements: number;
  error: string | null;
};

/**
 * A consumer's accept or reject of decided tasks, signed (EIP-191) by the job's consumer over
 * consumerActionMessage. Replaying one is harmless: accepting twice changes nothing, and a task
 * can be rejected only once.
 */
export const consumerActionSchema = z
  .object({
    /** Task indexes; absent (accept only) means every decided task. */
    tasks: z.array(count).min(1).max(10_000).optional(),
    signature: z.string().regex(/^0x[0-9a-f]{130}$/i, 'must be a 65-byte hex signature'),
  })
  .strict();
export type ConsumerAction = z.infer<typeof consumerActionSchema>;

/** The text a consumer signs to accept or reject tasks of a job on one chain. */
export function consumerActionMessage(a: { action: 'accept' | 'reject'; chainId: number; jobId: Hex; tasks: number[] | null }): string {
  const tasks = a.tasks === null ? 'all' : [...new Set(a.tasks)].sort((x, y) => x - y).join(',');
  return `groundwork compute ${a.action}\nchain ${a.chainId}\njob ${a.jobId.toLowerCase()}\ntasks ${tasks}`;
}
