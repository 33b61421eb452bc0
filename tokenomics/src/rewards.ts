// One epoch's rewards for the simulated providers: the oracle's own code path. The simulator
// builds the same columns the epoch close builds (scores in parts per million, credits spent per
// device, owners, the prior cumulative amounts) and calls `computeRewardColumns` from
// @groundwork/protocol, so what a simulated provider earns is what the oracle would pay it for the
// same inputs (checked against a devnet epoch's artifact in test/oracle-parity.test.ts).
import { computeRewardColumns, type RewardColumns, SCORE_SCALE } from '@groundwork/protocol';

export type EpochRewardInput = {
  kind: string;
  budget: bigint;
  usageShareBps: number;
  /** Owner account of each device, 20 bytes each (no account twice). */
  owners: Uint8Array;
  /** Each device's owner index into `owners`. */
  ownerOf: Uint32Array;
  /** Each device's score, 0..SCORE_SCALE. */
  scores: Uint32Array;
  /** Devices (strictly increasing indexes) that consumers spent credits on, and the credits. */
  usage: { index: Uint32Array; credits: bigint[] };
  prior: { accounts: Uint8Array; amounts: bigint[] };
};

export function epochRewards(input: EpochRewardInput): RewardColumns {
  return computeRewardColumns({
    owners: input.owners,
    networks: [
      {
        kind: input.kind,
        budget: input.budget,
        usageShareBps: input.usageShareBps,
        scores: input.scores,
        ownerOf: input.ownerOf,
        usage: input.usage,
      },
    ],
    prior: input.prior,
  });
}

/** Scores in parts per million of the largest weight, as verifiers score: the best device scores SCORE_SCALE. */
export function scoresFromWeights(weights: Float64Array, n: number): Uint32Array {
  let max = 0;
  for (let i = 0; i < n; i++) if (weights[i]! > max) max = weights[i]!;
  const out = new Uint32Array(n);
  if (max <= 0) return out;
  const scale = Number(SCORE_SCALE) / max;
  for (let i = 0; i < n; i++) out[i] = Math.min(Number(SCORE_SCALE), Math.floor(weights[i]! * scale));
  return out;
}

/** A provider's account: its id, big-endian in the last 6 bytes of 20 (ids are below 2^48). */
export function writeAccount(into: Uint8Array, at: number, id: number): void {
  for (let b = 0; b < 6; b++) into[at + 19 - b] = Math.floor(id / 2 ** (8 * b)) % 256;
}
