// Reputation: a provider's 0..1 track record, updated after each run whose outcome is known. It
// ranks offers at equal prices (types.ts compareOffers: benchScore × reputation), so it is how
// the network remembers who delivers; it is not what deters lying (stake and slashing on
// evidence are). An exponential moving average toward 1 on success and toward 0 on failure:
//
//   r' = r + α·(target − r)
//
//   verified   target 1, α = 0.05   a result that matched an independent run (spot check or
//                                   redundancy): slow to earn, about 14 in a row from 0.5 to 0.75
//   timeout    target 0, α = 0.10   the run was not delivered by its deadline, or the provider
//   vanished                        vanished mid-run: r × 0.9, the same for either (from the
//                                   consumer's side they are the same loss: a re-run)
//   lie        target 0, α = 0.90   a result an independent run showed wrong: r × 0.1; a
//                                   provider at 0.9 drops to 0.09 and needs 44 verified results
//                                   in a row to be back at 0.9
//
// Results nobody re-ran leave reputation unchanged: they are neither evidence for nor against.
// New providers start at 0.5 (INITIAL_REPUTATION), below every provider that has proven itself
// and above any caught lying. Deterministic: the same outcomes in the same order give the same
// bits on any machine (IEEE-754 + − × are exact-rounded everywhere).

export type RunOutcome = 'verified' | 'timeout' | 'vanished' | 'lie';

export type ReputationRules = {
  /** Step toward 1 after a verified result. */
  verified: number;
  /** Step toward 0 after a timeout or a vanished provider. */
  timeout: number;
  /** Step toward 0 after a caught lie. */
  lie: number;
};

export const REPUTATION_RULES: Readonly<ReputationRules> = { verified: 0.05, timeout: 0.1, lie: 0.9 };
export const INITIAL_REPUTATION = 0.5;

/** The reputation after one outcome. Throws RangeError on a reputation outside 0..1 or an unknown outcome. */
export function updateReputation(reputation: number, outcome: RunOutcome, rules: Readonly<ReputationRules> = REPUTATION_RULES): number {
  if (!(reputation >= 0 && reputation <= 1)) throw new RangeError(`reputation must be between 0 and 1, got ${reputation}`);
  let next: number;
  switch (outcome) {
    case 'verified':
      next = reputation + rules.verified * (1 - reputation);
      break;
    case 'timeout':
    case 'vanished':
      next = reputation - rules.timeout * reputation;
      break;
    case 'lie':
      next = reputation - rules.lie * reputation;
      break;
    default:
      throw new RangeError(`unknown outcome ${JSON.stringify(outcome)}`);
  }
  return Math.min(1, Math.max(0, next));
}

/** The reputation after a sequence of outcomes, starting from `start` (default INITIAL_REPUTATION). */
export function replayReputation(
  outcomes: Iterable<RunOutcome>,
  start = INITIAL_REPUTATION,
  rules: Readonly<ReputationRules> = REPUTATION_RULES,
): number {
  let r = start;
  for (const o of outcomes) r = updateReputation(r, o, rules);
  return r;
}
