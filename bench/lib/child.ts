// Each benchmark side runs in its own process so its peak RSS is its own.
import { spawn } from 'node:child_process';

/**
 * Runs `worker` with `args` under `node --expose-gc --import tsx` (the worker settles its input with
 * a GC before taking its baseline) and resolves with the JSON object on its last stdout line.
 */
export function runWorker<T>(worker: string, args: readonly string[], label: string, cwd: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', worker, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) return reject(new Error(`${label} exited with ${signal ?? code}: ${stdout.slice(-2000)}`));
      resolve(JSON.parse(line) as T);
    });
  });
}
