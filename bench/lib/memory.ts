/**
 * Resident memory as the benchmarks measure it, on Linux: the current RSS, and the peak of a
 * timed part alone. {@link settleAndResetPeak} runs a GC (with --expose-gc), then resets the
 * kernel's high-water mark (writing 5 to /proc/self/clear_refs), so that {@link peakRssKiB}
 * read after the timed part is that part's peak (it includes what was resident when it began:
 * the input), not the peak of building the input.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const rssKiB = (): number => Math.round(process.memoryUsage.rss() / 1024);

/** The process's peak resident memory since start or the last reset (VmHWM). */
export function peakRssKiB(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'latin1'));
  if (!match) throw new Error('no VmHWM in /proc/self/status: peak memory cannot be measured on this system');
  return Number(match[1]);
}

/**
 * Collects garbage and waits (at most 5 s) until the resident memory stops falling, as V8 hands
 * freed pages back a little later; then makes the current RSS the peak. Returns the RSS then
 * and the peak before (building the input).
 */
export async function settleAndResetPeak(): Promise<{ baselineRssKiB: number; inputPeakRssKiB: number }> {
  const inputPeakRssKiB = peakRssKiB();
  globalThis.gc?.();
  globalThis.gc?.();
  for (let waited = 0, last = rssKiB(); waited < 5_000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    globalThis.gc?.();
    const now = rssKiB();
    if (last - now < 1024) break;
    last = now;
  }
  writeFileSync('/proc/self/clear_refs', '5');
  return { baselineRssKiB: rssKiB(), inputPeakRssKiB };
}
