/** Builds src/ and exports the ABIs if they are stale; returns whether it compiled. */
export function ensureContractsBuilt(options?: { progress?: (line: string) => void }): boolean;
/** Whether ts/generated/contracts.ts is missing or was built from other sources than the current ones. */
export function contractsStale(): boolean;
export class ContractsBuildError extends Error {}
