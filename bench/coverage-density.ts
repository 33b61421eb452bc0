/**
 * HIP-17 transmit scaling at scale (issue 11):
 *
 *   node --import tsx bench/coverage-density.ts [--hotspots N] [--json]
 *
 * N hotspots (default 1,000,000) at res-12 cells, 70% in ten dense cities and 30% spread over a
 * continent-sized box; times `hexDensity` (counting at res 11, rolling up to res 4 with the
 * neighbour-dependent limits) and a transmit scale for every hotspot, and reports the peak RSS.
 * The baseline, in the same run, is the floor of that work: one cellToParent per hotspot per
 * resolution (7 per hotspot), the H3 calls any implementation must make.
 */
import { parseArgs } from 'node:util';
import { cellToParent, latLngToCell } from 'h3-js';
import { seededUnit } from '@groundwork/protocol';
import { hexDensity } from '../networks/coverage/src/index.ts';

const { values } = parseArgs({ options: { hotspots: { type: 'string', default: '1000000' }, json: { type: 'boolean', default: false } } });
const N = Number(values.hotspots);
const random = seededUnit(1);
const cities = Array.from({ length: 10 }, () => [30 + random() * 15, -120 + random() * 45] as const);
process.stderr.write(`placing ${N.toLocaleString('en-US')} hotspots\n`);
const cells: string[] = new Array(N);
for (let i = 0; i < N; i++) {
  if (random() < 0.7) {
    const [lat, lng] = cities[i % 10]!;
    cells[i] = latLngToCell(lat + (random() - 0.5) * 0.3, lng + (random() - 0.5) * 0.3, 12);
  } else cells[i] = latLngToCell(25 + random() * 24, -124 + random() * 57, 12);
}
const rssBefore = process.memoryUsage().rss;
let t = performance.now();
let floorChecksum = 0;
for (const c of cells) for (let r = 11; r >= 5; r--) floorChecksum += cellToParent(c, r).length;
const floorMs = performance.now() - t;
t = performance.now();
const map = hexDensity(cells);
const buildMs = performance.now() - t;
t = performance.now();
let sum = 0;
for (const c of cells) sum += map.scaleOf(c);
const scaleMs = performance.now() - t;
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
const result = {
  hotspots: N,
  hexes: map.hexes.size,
  buildSeconds: buildMs / 1000,
  scaleSeconds: scaleMs / 1000,
  totalSeconds: (buildMs + scaleMs) / 1000,
  floorSeconds: floorMs / 1000,
  ratio: floorMs / (buildMs + scaleMs),
  meanScale: sum / N,
  peakRssMiB,
  rssBeforeMiB: rssBefore / 2 ** 20,
  floorChecksum,
};
process.stderr.write(
  `hexDensity ${result.buildSeconds.toFixed(2)} s + a scale for each ${result.scaleSeconds.toFixed(2)} s over ${map.hexes.size.toLocaleString('en-US')} hexes; ` +
    `the cellToParent floor ${result.floorSeconds.toFixed(2)} s (ratio ${result.ratio.toFixed(2)}); peak RSS ${peakRssMiB.toFixed(0)} MiB; mean scale ${result.meanScale.toFixed(3)}\n`,
);
if (values.json) console.log(JSON.stringify(result));
else console.log(result);
