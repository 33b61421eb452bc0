// Entry point of the artifact writer thread (artifact-file.ts). Its code is TypeScript, so tsx's
// loader is registered in this thread first, as signature-worker.mjs does.
import { register } from 'tsx/esm/api';

register();
await import('./artifact-writer-main.ts');
