// Radio arithmetic the witness check needs: free-space path loss and the strongest signal a
// witness could possibly receive from a beaconer (Helium's RSSI plausibility check).
import { SPEED_OF_LIGHT } from './rules.ts';

/** Free-space path loss in dB: 20·log10(4π·d·f / c), d in metres, f in Hz. */
export function freeSpacePathLoss(distanceM: number, frequencyHz: number): number {
  return 20 * Math.log10((4 * Math.PI * Math.max(distanceM, 1) * frequencyHz) / SPEED_OF_LIGHT);
}

/** The strongest receivable power (dBm): transmit power + both antennas' gains − free-space loss. */
export function maxReceivedDbm(
  txPowerDbm: number,
  beaconerGainDbi: number,
  witnessGainDbi: number,
  distanceM: number,
  frequencyHz: number,
): number {
  return txPowerDbm + beaconerGainDbi + witnessGainDbi - freeSpacePathLoss(distanceM, frequencyHz);
}

/** Packets cost 1 data credit per 24 bytes, at least 1. */
export function packetCredits(bytes: number, bytesPerCredit = 24): bigint {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes must be a whole number, got ${bytes}`);
  return BigInt(Math.max(1, Math.ceil(bytes / bytesPerCredit)));
}
