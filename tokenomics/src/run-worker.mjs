// Entry point of a simulation worker thread (experiments.ts). The simulator is TypeScript, so
// tsx's loader is registered in this thread first (a worker does not run the main thread's hooks).
import { register } from 'tsx/esm/api';

register();
await import('./run-worker-main.ts');
