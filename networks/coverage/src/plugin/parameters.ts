// The coverage network's parameters, with the field's numbers they come from (field/coverage.md).
import { hex32, uintString } from '@groundwork/protocol';
import { z } from 'zod';
import { BYTES_PER_DC } from '../rules.ts';

export const coverageParametersSchema = z
  .object({
    /** Beacon intervals per epoch: each hotspot beacons once in each (Helium: every 6 h of a 24 h epoch). */
    beaconsPerEpoch: z.number().int().min(1).max(96),
    /** Share of the network's budget paid for data transfer (the credits packets burned on each hotspot). */
    usageShareBps: z.number().int().min(0).max(10_000),
    /** Uplink bytes a credit buys (at least one credit a packet). */
    bytesPerCredit: z.number().int().min(1).max(1_000_000),
    /**
     * A hotspot with at least this many physically impossible witness reports in an epoch (RSSI
     * above the free-space maximum, or heard over more than the maximum distance), from as many
     * different beaconers, and with more impossible than possible ones, is a repeat offender: its
     * stake is slashed with those reports as evidence. 0 turns slashing off.
     */
    impossibleWitnessesToSlash: z.number().int().min(0).max(1000),
    /** Stake slashed from a repeat offender, in token units. */
    slashAmount: uintString,
    /** Hotspots whose reports earn nothing (Helium's denylist), by device id. */
    denylist: z.array(hex32).max(100_000),
  })
  .strict();
export type CoverageParameters = z.infer<typeof coverageParametersSchema>;

export const DEFAULT_COVERAGE_PARAMETERS: CoverageParameters = {
  beaconsPerEpoch: 1,
  usageShareBps: 5_000,
  bytesPerCredit: BYTES_PER_DC,
  impossibleWitnessesToSlash: 3,
  slashAmount: (10n ** 18n).toString(),
  denylist: [],
};

export const COVERAGE_REFERENCES: Record<string, string> = {
  beaconsPerEpoch:
    'Helium IoT: one beacon per 6 h beacon_interval, 4 in a 24 h reward epoch (iot_verifier/src/settings.rs); 1 per devnet epoch',
  usageShareBps:
    'Helium IoT: data transfer takes up to 50% of the epoch’s emission, the unused part flows back to beacons and witnesses (iot_verifier/src/reward_share.rs)',
  bytesPerCredit: 'Helium IoT: 1 DC per 24 bytes of uplink, at least 1 (iot_packet_verifier, BYTES_PER_DC = 24)',
  impossibleWitnessesToSlash:
    'Helium denylists hotspots whose witnesses are physically impossible (the denylist check); here three in an epoch from three beaconers, and a majority of its witnesses, slash its stake on the evidence',
  slashAmount: 'one devnet token per epoch of proven spoofing',
  denylist: 'Helium IoT: the denylist check, first of the beacon and witness checks (iot_verifier/src/poc.rs)',
};
