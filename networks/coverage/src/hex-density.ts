// HIP-17 transmit scaling with HIP-104's parameters (iot_verifier/src/{hex_density,tx_scaler}.rs):
// active hotspots are counted per hex at resolution 11 and rolled up through 10 to 4. At each of
// those resolutions a hex's limit is min(max, target × (max(occupied neighbours − N, 0) + 1)),
// where an occupied neighbour is a cell of its k=1 ring whose count reaches the target; the
// clipped count, min(count, limit), is what the parent rolls up. A hotspot's transmit scale is
// the product over its ancestors of clipped / unclipped: a crowded area's hotspots share its
// rewards, a sparse one's keep them.
import { cellToParent, getResolution, gridDisk, isValidCell } from 'h3-js';
import { DEFAULT_TX_SCALE, DENSITY_RESOLUTION, HIP17_RESOLUTIONS } from './rules.ts';

export type DensityMap = {
  /** Transmit scale of the res-11 hex a hotspot is in (DEFAULT_TX_SCALE for one the map does not know). */
  scaleOf(cell: string): number;
  /** Per resolution, per hex: active hotspots (unclipped), the limit and what it clipped to. */
  hexes: Map<string, { resolution: number; unclipped: number; limit: number; clipped: number }>;
};

/** Builds the map from the cells (any resolution ≥ 11) of the active hotspots. */
export function hexDensity(activeCells: Iterable<string>): DensityMap {
  const counts = new Map<string, number>();
  for (const cell of activeCells) {
    if (!isValidCell(cell) || getResolution(cell) < DENSITY_RESOLUTION)
      throw new RangeError(`${cell} is not an H3 cell at resolution ${DENSITY_RESOLUTION} or finer`);
    const at11 = getResolution(cell) === DENSITY_RESOLUTION ? cell : cellToParent(cell, DENSITY_RESOLUTION);
    counts.set(at11, (counts.get(at11) ?? 0) + 1);
  }
  const hexes: DensityMap['hexes'] = new Map();
  // Resolution 11 has no limit: its counts roll up as they are.
  let level = new Map(counts);
  for (const [cell, n] of level) hexes.set(cell, { resolution: DENSITY_RESOLUTION, unclipped: n, limit: n, clipped: n });
  for (let res = DENSITY_RESOLUTION - 1; res >= 4; res--) {
    const up = new Map<string, number>();
    for (const [cell, n] of level) {
      const parent = cellToParent(cell, res);
      up.set(parent, (up.get(parent) ?? 0) + (hexes.get(cell)?.clipped ?? n));
    }
    const p = HIP17_RESOLUTIONS[res]!;
    for (const [cell, unclipped] of up) {
      // Where max = target (resolutions 8 to 10) the limit is the target whatever the
      // neighbours: no ring to look at, which is most of the hexes.
      let limit = p.max;
      if (p.max !== p.target) {
        let occupied = 0;
        for (const neighbour of gridDisk(cell, 1)) if (neighbour !== cell && (up.get(neighbour) ?? 0) >= p.target) occupied++;
        limit = Math.min(p.max, p.target * (Math.max(occupied - p.n, 0) + 1));
      }
      hexes.set(cell, { resolution: res, unclipped, limit, clipped: Math.min(unclipped, limit) });
    }
    level = up;
  }
  // Each hex's scale is its parent's × its own clipped / unclipped, computed once per hex.
  const scales = new Map<string, number>();
  const scaleAt = (hex: string, res: number): number => {
    const known = scales.get(hex);
    if (known !== undefined) return known;
    const h = hexes.get(hex)!;
    const own = res < DENSITY_RESOLUTION && h.unclipped > 0 ? h.clipped / h.unclipped : 1;
    const scale = res === 4 ? own : own * scaleAt(cellToParent(hex, res - 1), res - 1);
    scales.set(hex, scale);
    return scale;
  };
  return {
    hexes,
    scaleOf(cell) {
      if (!isValidCell(cell) || getResolution(cell) < DENSITY_RESOLUTION) return DEFAULT_TX_SCALE;
      const at11 = getResolution(cell) === DENSITY_RESOLUTION ? cell : cellToParent(cell, DENSITY_RESOLUTION);
      return hexes.has(at11) ? scaleAt(at11, DENSITY_RESOLUTION) : DEFAULT_TX_SCALE;
    },
  };
}
