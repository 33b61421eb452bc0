// The compute network as a plug-in: jobs matched to providers, run in the metered sandbox,
// spot-checked on other owners, settled from the consumer's escrow (usage), liars slashed.
import { type NetworkPlugin, ObjectRows } from '@groundwork/protocol';
import { COMPUTE_REFERENCES, type ComputeParameters, computeParametersSchema, DEFAULT_COMPUTE_PARAMETERS } from './parameters.ts';
import { computeService } from './service.ts';
import { verdictSchema, verifyCompute } from './verifier.ts';
import { computeWorker } from './worker.ts';
import { KIND, RESULT_TYPE, resultBodySchema } from './wire.ts';

export * from './parameters.ts';
export { computeService, runCost, spotChecked } from './service.ts';
export { type Verdict, verdictSchema, verifyCompute } from './verifier.ts';
export {
  claimOf,
  type JobStatus,
  type JobSubmission,
  jobSubmissionSchema,
  KIND,
  MAX_BLOB_BYTES,
  type Offer as ProviderOffer,
  offerSchema,
  RESULT_TYPE,
  type ResultBody,
  resultBodySchema,
  type TaskPayload,
  type TaskState,
  taskPayloadSchema,
} from './wire.ts';
export { computeWorker };

export const computeNetwork: NetworkPlugin<ComputeParameters, ObjectRows<unknown>> = {
  kind: KIND,
  description: 'Compute: WebAssembly jobs matched to providers, metered, spot-checked and paid from escrow (Render, Akash, Golem)',
  parameters: { schema: computeParametersSchema, defaults: DEFAULT_COMPUTE_PARAMETERS, references: COMPUTE_REFERENCES },
  reportTypes: { [RESULT_TYPE]: resultBodySchema },
  oracleInputs: { row: verdictSchema, table: () => new ObjectRows<unknown>(), fromShared: (s) => ObjectRows.fromShared<unknown>(s) },
  verify: verifyCompute,
  usageShareBps: (p) => p.usageShareBps,
  worker: computeWorker(),
  service: computeService,
};

export default computeNetwork;
