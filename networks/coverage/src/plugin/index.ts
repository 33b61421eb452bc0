// The coverage network as a plug-in: hotspots beacon with the oracle's entropy and witness each
// other's beacons (Helium IoT proof of coverage, scored with HIP-17 and its reward units), and
// carry consumers' sensor uplinks for credits (the packet router).
import { type NetworkPlugin, ObjectRows } from '@groundwork/protocol';
import { COVERAGE_REFERENCES, type CoverageParameters, coverageParametersSchema, DEFAULT_COVERAGE_PARAMETERS } from './parameters.ts';
import { coverageService } from './service.ts';
import { verifyCoverage } from './verifier.ts';
import { BEACON_TYPE, beaconBodySchema, coverageInputSchema, KIND, WITNESS_TYPE, witnessBodySchema } from './wire.ts';
import { coverageWorker, type HotspotRadio } from './worker.ts';

export * from './parameters.ts';
export * from './round.ts';
export * from './router.ts';
export { coverageService } from './service.ts';
export { repeatOffenders, verifyCoverage } from './verifier.ts';
export * from './wire.ts';
export * from './worker.ts';

/** The plug-in; `radio` is the hotspot's radio for the agent's worker (none: the worker hears nothing and sends nothing). */
export function coverageNetworkWith(radio?: HotspotRadio): NetworkPlugin<CoverageParameters, ObjectRows<unknown>> {
  return {
    kind: KIND,
    description:
      'Coverage: hotspots prove radio coverage by witnessing each other’s beacons and carry sensors’ packets for credits (Helium IoT)',
    parameters: { schema: coverageParametersSchema, defaults: DEFAULT_COVERAGE_PARAMETERS, references: COVERAGE_REFERENCES },
    reportTypes: { [BEACON_TYPE]: beaconBodySchema, [WITNESS_TYPE]: witnessBodySchema },
    oracleInputs: {
      row: coverageInputSchema,
      table: () => new ObjectRows<unknown>(),
      fromShared: (s) => ObjectRows.fromShared<unknown>(s),
    },
    verify: verifyCoverage,
    usageShareBps: (p) => p.usageShareBps,
    worker: radio ? coverageWorker(radio) : {},
    service: coverageService,
  };
}

export const coverageNetwork = coverageNetworkWith();
export default coverageNetwork;
