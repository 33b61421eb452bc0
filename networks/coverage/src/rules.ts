// Helium IoT proof-of-coverage's constants, each named after the rule it comes from (sources in
// ../shared/field/coverage.md: helium/oracles at 824f7724, iot_verifier and poc_entropy, and the HIPs).

/** poc_entropy: a piece of entropy is valid for 180 s after it is taken (ENTROPY_LIFESPAN). */
export const ENTROPY_LIFESPAN_MS = 180_000;
/** A hotspot beacons once per interval; 6 h by default, and it must divide 24 h. */
export const DEFAULT_BEACON_INTERVAL_MS = 6 * 3600_000;
/** Witness lag: at most 4,000 ms after the beacon was received… */
export const MAX_WITNESS_LAG_MS = 4_000;
/** …or at most 1,500 ms after the first witness, when a witness arrived before the beacon. */
export const MAX_LAG_AFTER_FIRST_WITNESS_MS = 1_500;
/** A witness heard the beacon within ±100 kHz of its frequency. */
export const MAX_FREQUENCY_DELTA_HZ = 100_000;
/** Beaconer and witness at least 8 cells apart at H3 resolution 11 (about 350 m). */
export const MIN_CELL_DISTANCE = 8;
export const CELL_DISTANCE_RESOLUTION = 11;
/** And at most 100 km apart. */
export const MAX_WITNESS_DISTANCE_M = 100_000;
/** HIP-106 reciprocity: a valid witness (beaconer) or valid witnessed beacon (witness) within 48 h. */
export const RECIPROCITY_WINDOW_MS = 48 * 3600_000;
/** HIP-83: the 14 earliest valid witnesses by receive time are rewarded. */
export const MAX_WITNESSES_PER_POC = 14;
/** Locations are asserted at H3 resolution 12. */
export const ASSERT_RESOLUTION = 12;
/** HIP-17: hotspots are counted at resolution 11 and rolled up through 10 to 4. */
export const DENSITY_RESOLUTION = 11;
/** HIP-17 with HIP-104's parameters, per resolution: (N, target, max). */
export const HIP17_RESOLUTIONS: Readonly<Record<number, { n: number; target: number; max: number }>> = {
  4: { n: 2, target: 500, max: 1000 },
  5: { n: 4, target: 100, max: 200 },
  6: { n: 4, target: 25, max: 50 },
  7: { n: 4, target: 5, max: 10 },
  8: { n: 2, target: 1, max: 1 },
  9: { n: 2, target: 1, max: 1 },
  10: { n: 2, target: 1, max: 1 },
};
/** tx_scaler: a hex the density map does not know scales by 0.2. */
export const DEFAULT_TX_SCALE = 0.2;
/** Hotspots with a reciprocity-valid beacon in the last 60 h count as active for HIP-17. */
export const ACTIVE_WINDOW_MS = 60 * 3600_000;
/** IoT reward pools as shares of the epoch's emission, in basis points (beacons 6%, witnesses 24%, data transfer up to 50%). */
export const BEACON_POOL_BPS = 600;
export const WITNESS_POOL_BPS = 2_400;
export const DATA_POOL_BPS = 5_000;
/** What data transfer does not use goes to the beacon and witness pools, 20:80. */
export const UNUSED_DATA_TO_BEACONS_BPS = 2_000;
/** IoT data credits: 1 DC per 24 bytes of uplink, at least 1 (BYTES_PER_DC). */
export const BYTES_PER_DC = 24;
/** Fees: onboarding a hotspot 4,000,000 DC ($40), a location assert 1,000,000 DC ($10). */
export const ONBOARD_FEE_DC = 4_000_000n;
export const ASSERT_FEE_DC = 1_000_000n;
/** The speed of light, for free-space path loss. */
export const SPEED_OF_LIGHT = 299_792_458;
/**
 * LoRaWAN regional parameters (RP002-1.0.4) the checks need: the band a region's channels lie in
 * and the most a hotspot may radiate there (EIRP, dBm). A beacon claiming more power than its
 * region allows would raise the free-space maximum its witnesses are held to.
 */
export const REGIONS: Readonly<Record<string, { minHz: number; maxHz: number; maxEirpDbm: number }>> = {
  US915: { minHz: 902_000_000, maxHz: 928_000_000, maxEirpDbm: 36 },
  EU868: { minHz: 863_000_000, maxHz: 870_000_000, maxEirpDbm: 16 },
  AU915: { minHz: 915_000_000, maxHz: 928_000_000, maxEirpDbm: 30 },
  AS923: { minHz: 915_000_000, maxHz: 928_000_000, maxEirpDbm: 16 },
};
/** Antenna gains a hotspot may declare (Helium's assert takes 1.0 to 15.0 dBi; 0 for none declared). */
export const MAX_ANTENNA_GAIN_DBI = 15;
