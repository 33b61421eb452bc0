// @groundwork/protocol: pure code shared by the agent, the oracle and `epoch verify` (no I/O).
export * from './device-key.ts';
export * from './encoding.ts';
export * from './schemas.ts';
export * from './report.ts';
export * from './epoch.ts';
export * from './rewards.ts';
export * from './merkle.ts';
export * from './network.ts';
export * from './epoch-close.ts';
export * from './root-signature.ts';
export * from './random.ts';
