// The compute network's parts so far (issue 9): the job spec, the sandbox that runs and meters a
// task, the matcher, content addressing and the demo renderer. The plug-in that joins them to the
// oracle (services, worker, verifier) builds on these.
export { CidError, CidMismatchError, checkCid, cidOf, parseCid, RAW_CODEC, SHA2_256 } from '@groundwork/protocol';
export * from './matcher/index.ts';
export * from './render/index.ts';
export * from './sandbox/index.ts';
export * from './spec/index.ts';
export * from './client/index.ts';
export * from './plugin/index.ts';
export { readJobSpecFile } from './spec/file.ts';
