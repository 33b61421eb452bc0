// The storage network (issue 10): files encrypted on the client, erasure-coded into shards placed
// on different providers, committed by Merkle roots, proven every epoch and repaired when lost.
export * from './codec.ts';
export * from './commitment.ts';
export * from './durability.ts';
export * from './encryption.ts';
export * from './erasure.ts';
export * from './layout.ts';
export * from './orders.ts';
export * from './proof.ts';
export * from './reputation.ts';
