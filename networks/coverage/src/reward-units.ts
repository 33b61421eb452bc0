// Helium IoT reward units per beacon (iot_verifier/src/reward_share.rs): with n selected valid
// witnesses, the beaconer earns n/4 up to four witnesses, then min(2, 2 − 0.8^(n−4)); each
// witness 1 up to four, then min(2, (4 − (1 − 0.8^(n−4))) / n). A hotspot's share is the sum of
// its hex's transmit scale × its units.

export function beaconerUnits(witnesses: number): number {
  if (witnesses <= 0) return 0;
  if (witnesses <= 4) return witnesses / 4;
  return Math.min(2, 2 - 0.8 ** (witnesses - 4));
}

export function witnessUnits(witnesses: number): number {
  if (witnesses <= 0) return 0;
  if (witnesses <= 4) return 1;
  return Math.min(2, (4 - (1 - 0.8 ** (witnesses - 4))) / witnesses);
}

/**
 * The epoch's pools from its emission E (basis points of E): beacons 6%, witnesses 24%, data
 * transfer what the data credits burned are worth, up to 50%; the data pool's unused part goes to
 * beacons and witnesses 20:80. All in token units, rounded down; the rest stays undistributed.
 */
export function coveragePools(
  emission: bigint,
  dataTransferValue: bigint,
  bps = { beacon: 600n, witness: 2_400n, data: 5_000n, unusedToBeacons: 2_000n },
): { beacon: bigint; witness: bigint; data: bigint } {
  const cap = (emission * bps.data) / 10_000n;
  const data = dataTransferValue < cap ? dataTransferValue : cap;
  const unused = cap - data;
  const toBeacons = (unused * bps.unusedToBeacons) / 10_000n;
  return {
    beacon: (emission * bps.beacon) / 10_000n + toBeacons,
    witness: (emission * bps.witness) / 10_000n + (unused - toBeacons),
    data,
  };
}
