// The job spec from disk: the one place in spec/ that does I/O, kept apart so that index.ts
// stays pure (and usable where files come from an upload rather than a file system).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type JobSpec, loadJobSpec } from './index.ts';

/**
 * Reads `job.yaml` and the files it names (relative to its directory). A missing file is
 * reported as "not found" by the field that names it; a directory or unreadable file by its
 * error. `now` is the submission time (relative deadlines count from it).
 */
export async function readJobSpecFile(specPath: string, now = Date.now()): Promise<JobSpec> {
  const absolute = path.resolve(specPath);
  const text = await readFile(absolute, 'utf8');
  return loadJobSpec(text, {
    baseDir: path.dirname(absolute),
    now,
    fileName: specPath,
    readFile: async (p) => {
      try {
        return new Uint8Array(await readFile(p));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
  });
}
