// Provider reputation as Storj's satellites keep it (field/storage.md §1, satellite/reputation): a
// beta model over audit outcomes, forgetting the past at rate λ. A success adds w to α, a failure
// adds w to β; the score is α / (α + β), and a provider below the disqualification line gets no
// new shards and its shards are repaired elsewhere. From a perfect score, about 41 failures in a
// row cross 0.96.
export type ReputationParameters = { lambda: number; weight: number; disqualifyBelow: number; initialAlpha: number };

export const STORJ_REPUTATION: ReputationParameters = { lambda: 0.999, weight: 1, disqualifyBelow: 0.96, initialAlpha: 1000 };

export type Reputation = { alpha: number; beta: number };

export function initialReputation(p: ReputationParameters): Reputation {
  return { alpha: p.initialAlpha, beta: 0 };
}

export function recordAudit(r: Reputation, passed: boolean, p: ReputationParameters): Reputation {
  return { alpha: p.lambda * r.alpha + (passed ? p.weight : 0), beta: p.lambda * r.beta + (passed ? 0 : p.weight) };
}

export function reputationScore(r: Reputation): number {
  return r.alpha / (r.alpha + r.beta);
}

export function isDisqualified(r: Reputation, p: ReputationParameters): boolean {
  return reputationScore(r) < p.disqualifyBelow;
}
