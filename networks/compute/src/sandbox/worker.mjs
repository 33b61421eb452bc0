// Entry point of a runTask worker thread (run.ts). Its code is TypeScript, so tsx's loader is
// registered in this thread first, as oracle/src/signature-worker.mjs does (a worker does not
// run the main thread's loader hooks).
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');
