// The storage network's parameters, with the field's numbers they come from (field/storage.md).
import { z } from 'zod';
import { uintString } from '@groundwork/protocol';
import { MAX_CHALLENGED_LEAVES } from './wire.ts';

export const storageParametersSchema = z
  .object({
    /** Share of the network's budget paid for usage (credits the deals released per proven shard). */
    usageShareBps: z.number().int().min(0).max(10_000),
    /** Leaves challenged per shard per epoch. */
    challengedLeaves: z.number().int().min(1).max(MAX_CHALLENGED_LEAVES),
    /** Milliseconds a provider has to answer a challenge (never past the epoch's end). */
    proofDeadlineMs: z.number().int().min(500).max(3600_000),
    /** Failed or unanswered challenges in a row after which a shard counts as lost and is repaired. */
    faultsToRepair: z.number().int().min(1).max(1000),
    /** Healthy shards at or below which a file is repaired (k < threshold ≤ n; 0: n − 1, any loss). */
    repairThreshold: z.number().int().min(0).max(255),
    /** Storj's beta reputation: forgetting factor λ and the disqualification line in parts per million (artifacts hold integers), weight per audit, prior α. */
    reputationLambdaPpm: z.number().int().min(1).max(1_000_000),
    reputationWeight: z.number().int().min(1).max(1000),
    disqualifyBelowPpm: z.number().int().min(0).max(1_000_000),
    initialAlpha: z.number().int().min(1).max(1e9),
    /** Stake slashed for a signed proof that shows the data is gone or altered, in token units. */
    slashAmount: uintString,
    /** Stake slashed when a shard is lost to `faultsToRepair` faults in a row (unanswered, late or unprovable answers), in token units. */
    faultSlashAmount: uintString,
    /** Credits a consumer pays per 10⁹ bytes read (each order rounded up, at least 1 credit), to the provider that served them. */
    retrievalCreditsPerGB: z.number().int().min(1).max(1e12),
  })
  .strict();
export type StorageParameters = z.infer<typeof storageParametersSchema>;

export const DEFAULT_STORAGE_PARAMETERS: StorageParameters = {
  usageShareBps: 5_000,
  challengedLeaves: 5,
  proofDeadlineMs: 4_000,
  faultsToRepair: 2,
  repairThreshold: 0,
  reputationLambdaPpm: 999_000,
  reputationWeight: 1,
  disqualifyBelowPpm: 960_000,
  initialAlpha: 1000,
  slashAmount: (10n ** 18n).toString(),
  faultSlashAmount: (10n ** 17n).toString(),
  retrievalCreditsPerGB: 700,
};

export const STORAGE_REFERENCES: Record<string, string> = {
  usageShareBps: 'half usage (deals pay proven storage, as Filecoin PDP pays only proven periods), half proven bytes (storage power)',
  challengedLeaves: 'Filecoin PDP: 5 challenges per proof (field/storage.md, PDP)',
  proofDeadlineMs: 'Storj audit download timeout 15 s (field/storage.md §1); seconds on the devnet, inside one epoch',
  faultsToRepair: 'Storj reverifies a contained node up to 3 times before the audit fails (MaxReverifyCount); 2 epochs on the devnet',
  repairThreshold: 'Storj repairs at 35 of 80 with 29 needed (29/35/80/110); 0 here means repair on the first lost shard',
  reputationLambdaPpm: 'Storj beta reputation λ = 0.999 (satellite/reputation/config.go)',
  reputationWeight: 'Storj beta reputation w = 1',
  disqualifyBelowPpm: 'Storj disqualifies below α/(α+β) = 0.96',
  initialAlpha: 'Storj α₀ = 1000',
  slashAmount: 'one devnet token for a signed proof of lost or altered data (Filecoin: a faulted sector pays a penalty)',
  faultSlashAmount:
    'a tenth of slashAmount once a shard is lost to repeated faults and must be repaired: Filecoin charges a missed WindowPoSt a fault fee smaller than the termination fee of a lost sector (floor 1.05 × the fault fee, field/storage.md)',
  retrievalCreditsPerGB:
    'Storj customers pay $7/TB of egress (satellite/payments/paymentsconfig/config.go, field/storage.md); 1 credit = $0.00001, so 700 credits per 10⁹ bytes',
};
