// The tokenomics simulator (issue 14): a network's epochs under the real emission schedule
// (schedule.ts, the Emissions contract's integers), the oracle's reward split (rewards.ts) and
// burn-and-mint, with providers that enter and leave by profit, demand regimes and price models.
export * from './engine.ts';
export * from './rewards.ts';
export * from './rng.ts';
export * from './scenario.ts';
export * from './schedule.ts';
export * from './experiments.ts';
export * from './report.ts';
