// @groundwork/oracle: layer 2, the middleware.
export * from './oracle.ts';
export * from './db/database.ts';
export * from './closer.ts';
export * from './ingest.ts';
export * from './follower.ts';
export { createMetrics } from './metrics.ts';
export * from './epochs.ts';
export * from './slashing.ts';
