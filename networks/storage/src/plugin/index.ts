// The storage network as a plug-in: deals escrowed on chain, shards placed on providers of
// different owners, proven every epoch from chain entropy, paid per proven shard, repaired when lost.
import { type NetworkPlugin, ObjectRows } from '@groundwork/protocol';
import { DEFAULT_STORAGE_PARAMETERS, STORAGE_REFERENCES, type StorageParameters, storageParametersSchema } from './parameters.ts';
import { storageService } from './service.ts';
import { challengeRowSchema, verifyStorage } from './verifier.ts';
import { KIND, PROOF_TYPE, proofBodySchema, STORED_TYPE, storedBodySchema } from './wire.ts';
import { storageWorker } from './worker.ts';

export * from './bundle.ts';
export * from './parameters.ts';
export * from './rules.ts';
export { ShardStore, ShardStoreError } from './shard-store.ts';
export { storageService } from './service.ts';
export { type ChallengeRow, challengeRowSchema, verifyStorage } from './verifier.ts';
export * from './wire.ts';
export { type StorageWorker, type StorageWorkerOptions, storageWorker } from './worker.ts';

export const storageNetwork: NetworkPlugin<StorageParameters, ObjectRows<unknown>> = {
  kind: KIND,
  description:
    'Storage: files erasure-coded across providers, proven every epoch, paid per proven shard, repaired when lost (Filecoin PDP, Storj)',
  parameters: { schema: storageParametersSchema, defaults: DEFAULT_STORAGE_PARAMETERS, references: STORAGE_REFERENCES },
  reportTypes: { [STORED_TYPE]: storedBodySchema, [PROOF_TYPE]: proofBodySchema },
  oracleInputs: { row: challengeRowSchema, table: () => new ObjectRows<unknown>(), fromShared: (s) => ObjectRows.fromShared<unknown>(s) },
  verify: verifyStorage,
  usageShareBps: (p) => p.usageShareBps,
  worker: storageWorker(),
  service: storageService,
};

export default storageNetwork;
