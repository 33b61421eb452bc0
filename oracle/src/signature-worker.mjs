// Entry point of a SignaturePool worker thread (signatures.ts). The worker's code is TypeScript,
// so tsx's loader is registered in this thread first, as cli/bin/groundwork.mjs does for the
// main thread (a worker does not run the main thread's loader hooks).
import { register } from 'tsx/esm/api';

register();
await import('./signature-worker-main.ts');
