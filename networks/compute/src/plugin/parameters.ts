// The compute network's parameters, with the field's numbers they come from.
import { z } from 'zod';
import { uintString } from '@groundwork/protocol';
import { MAX_BLOB_BYTES } from './wire.ts';

export const computeParametersSchema = z
  .object({
    /** Share of the network's budget paid for usage: all of it (Render pays job rewards by work done). */
    usageShareBps: z.number().int().min(0).max(10_000),
    /** Least share of a job's tasks re-run elsewhere, whatever the job asks (the spot-check rate). */
    minSpotCheck: z.number().min(0).max(1),
    /** Milliseconds a provider has to answer a task before it is given to another. */
    runTimeoutMs: z
      .number()
      .int()
      .min(1_000)
      .max(24 * 3600_000),
    /** Stake slashed for a proven wrong result, in token units. */
    slashAmount: uintString,
    /** Milliseconds between settlements of a job's verified runs on chain. */
    settleEveryMs: z.number().int().min(100).max(3600_000),
    /** Runs of one task at most (first, spot check, deciding runs, retries) before it fails. */
    maxRunsPerTask: z.number().int().min(2).max(16),
    /** Milliseconds a consumer may reject a decided task before it is accepted (never past the job's deadline). */
    rejectWindowMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600_000),
    /** Milliseconds a blob (module, input, output) is kept unless a running job uses it. */
    blobRetentionMs: z
      .number()
      .int()
      .min(60_000)
      .max(365 * 24 * 3600_000),
    /** Bytes the blob store holds at most; an upload past it is refused (507). */
    maxStoredBytes: z.number().int().min(MAX_BLOB_BYTES).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();
export type ComputeParameters = z.infer<typeof computeParametersSchema>;

export const DEFAULT_COMPUTE_PARAMETERS: ComputeParameters = {
  usageShareBps: 10_000,
  minSpotCheck: 0,
  // Golem's task timeout is 5 min (docs.golem.network task executor); devnet tasks take seconds.
  runTimeoutMs: 60_000,
  slashAmount: (10n ** 18n).toString(),
  settleEveryMs: 2_000,
  // Golem's SDK retries a task up to 5 times on other providers (maxRetries 5), plus checks.
  maxRunsPerTask: 8,
  // Render auto-approves frames 72 h after the job completes (field/compute.md, Render details).
  rejectWindowMs: 72 * 3600_000,
  // Outputs stay downloadable for a week (the window is 72 h; the consumer fetches before it accepts).
  blobRetentionMs: 7 * 24 * 3600_000,
  maxStoredBytes: 4 * 2 ** 30,
};

export const COMPUTE_REFERENCES: Record<string, string> = {
  usageShareBps: 'Render compute subnet: job rewards follow work done (FIELD.md compute §3, RNP-019/021)',
  minSpotCheck: 'Golem gWASM: re-running 1 of n subtasks catches a cheater with probability 1/n (field/compute.md §2)',
  runTimeoutMs: 'Golem task executor timeout 5 min, startup 2 min (field/compute.md §1)',
  slashAmount: 'AEP-86 proposes a slashable provider bond (field/compute.md §1); one devnet token',
  settleEveryMs: 'Golem debit notes every 120 s; Akash settles lazily per block (field/compute.md §1); seconds on the devnet',
  maxRunsPerTask: 'Golem SDK maxRetries 5 (field/compute.md §1), plus the spot check and a deciding run',
  blobRetentionMs: 'a week: past the 72 h window, so results are there while they may still be rejected',
  maxStoredBytes: '4 GiB: 64 blobs of the 64 MiB maximum; a devnet-sized bound on what anyone may upload',
  rejectWindowMs: 'Render: frames auto-approve 72 h after the job completes; a rejected frame is re-rendered elsewhere (field/compute.md)',
};
