// A file's durability estimate: the chance that more shards than its code can spare are lost
// before the network notices and repairs them, from its healthy shard count and the providers'
// observed loss rate. Storj ranks segments the same way, with a prior of 0.00005435 permanent
// losses per node-day (field/storage.md §2, satellite/repair/priority.go).
export const STORJ_NODE_LOSS_PER_DAY = 0.00005435;

/** The loss rate per provider-day: observed losses over observed provider-days, with Storj's rate as a one-loss prior. */
export function observedLossPerDay(losses: number, providerDays: number): number {
  const priorDays = 1 / STORJ_NODE_LOSS_PER_DAY;
  return (losses + 1) / (providerDays + priorDays);
}

/** P(X ≥ m) for X ~ Binomial(h, q), summed from the smallest term up for precision. */
function binomialTail(h: number, q: number, m: number): number {
  if (m <= 0) return 1;
  if (m > h) return 0;
  let term = 1;
  for (let j = 0; j < m; j++) term *= (h - j) / (j + 1);
  term *= q ** m * (1 - q) ** (h - m);
  let sum = 0;
  for (let j = m; j <= h; j++) {
    sum += term;
    term *= ((h - j) / (j + 1)) * (q / (1 - q));
  }
  return Math.min(1, sum);
}

export type Durability = {
  /** Chance the file is lost within a year if repairs keep up. */
  lossPerYear: number;
  /** −log10(lossPerYear), the "nines" of durability (Infinity when the loss chance underflows). */
  nines: number;
};

/**
 * Durability over a year for a file with `healthy` shards of which `k` rebuild it, when each
 * provider is lost with probability `lossPerDay` a day and a loss is repaired within `repairDays`.
 */
export function durability(healthy: number, k: number, lossPerDay: number, repairDays: number): Durability {
  if (healthy < k) return { lossPerYear: 1, nines: 0 };
  const q = 1 - (1 - lossPerDay) ** repairDays;
  const perWindow = binomialTail(healthy, q, healthy - k + 1);
  const windows = 365 / repairDays;
  const lossPerYear = perWindow >= 1 ? 1 : -Math.expm1(windows * Math.log1p(-perWindow));
  return { lossPerYear, nines: lossPerYear > 0 ? -Math.log10(lossPerYear) : Number.POSITIVE_INFINITY };
}
