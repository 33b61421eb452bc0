// What the coverage network's parts say to each other: the hotspots' signed reports (a beacon it
// sent, a witness of one it heard), the rows the oracle contributes to each epoch (entropy, each
// hotspot's asserted place and radio, the reciprocity history), and the service payloads over the
// device's socket (the entropy to beacon with, a hotspot's radio, an uplink it carried). Radio
// figures are whole tenths, as Helium's reports carry them (signal in deci-dBm, gain in deci-dBi):
// what goes into an artifact is canonical JSON, which has integers only.
import { createHash } from 'node:crypto';
import { hex32 } from '@groundwork/protocol';
import { getResolution, isValidCell } from 'h3-js';
import { keccak256, concat, type Hex } from 'viem';
import { z } from 'zod';
import { ASSERT_RESOLUTION, MAX_ANTENNA_GAIN_DBI, REGIONS } from '../rules.ts';

export const KIND = 'coverage';
export const BEACON_TYPE = 'coverage.beacon';
export const WITNESS_TYPE = 'coverage.witness';

const hex16 = z.string().regex(/^0x[0-9a-f]{32}$/, 'must be 0x and 32 lowercase hex digits');
const frequency = z.number().int().min(100_000_000).max(3_000_000_000);
const region = z.string().refine((r) => r in REGIONS, { message: `must be one of ${Object.keys(REGIONS).join(', ')}` });
export const h3Cell = z.string().refine((c) => isValidCell(c), { message: 'must be an H3 cell index' });
/** A hotspot's asserted place: an H3 cell at resolution 12, as Helium asserts them (HIP-17 counts from resolution 11 up). */
export const assertedCell = z.string().refine((c) => isValidCell(c) && getResolution(c) === ASSERT_RESOLUTION, {
  message: `must be an H3 cell at resolution ${ASSERT_RESOLUTION}`,
});

/** A beacon the hotspot transmitted: the oracle's entropy, its own, the payload they make, and how it sent it. */
export const beaconBodySchema = z
  .object({
    entropy: hex32,
    localEntropy: hex16,
    payload: hex32,
    frequencyHz: frequency,
    txPowerDdbm: z.number().int().min(-100).max(400),
  })
  .strict();
export type BeaconBody = z.infer<typeof beaconBodySchema>;

/** A beacon the hotspot's radio heard, as its radio measured it. */
export const witnessBodySchema = z
  .object({
    payload: hex32,
    frequencyHz: frequency,
    signalDdbm: z.number().int().min(-2000).max(500),
    snrDdb: z.number().int().min(-500).max(1000),
  })
  .strict();
export type WitnessBody = z.infer<typeof witnessBodySchema>;

/**
 * The payload a beacon carries: sha256 of the entropy, the beaconer and its local entropy. A
 * witness can only know it by hearing it (or from the beaconer), as gateway-rs mixes local entropy.
 */
export function beaconPayload(entropy: string, device: string, localEntropy: string): Hex {
  return `0x${createHash('sha256')
    .update(Buffer.from(entropy.slice(2), 'hex'))
    .update(Buffer.from(device.slice(2), 'hex'))
    .update(Buffer.from(localEntropy.slice(2), 'hex'))
    .digest('hex')}`;
}

/** An entropy's id: keccak256(block hash ‖ the oracle's random), so it was unknowable before the block. */
export function entropyId(blockHash: Hex, random: Hex): Hex {
  return keccak256(concat([blockHash, random]));
}

/** The oracle's rows in an epoch's inputs. */
export const entropyRowSchema = z
  .object({
    kind: z.literal('entropy'),
    id: hex32,
    /** Unix ms it was taken; beacons with it are valid for ENTROPY_LIFESPAN_MS after. */
    start: z.number().int().nonnegative(),
    blockNumber: z.number().int().nonnegative(),
    blockHash: hex32,
    random: hex32,
  })
  .strict();
export type EntropyRow = z.infer<typeof entropyRowSchema>;

/** What a hotspot declares about its radio when it connects (Helium asserts gain and elevation with the location). */
export const radioHelloSchema = z
  .object({
    gainDdbi: z
      .number()
      .int()
      .min(0)
      .max(MAX_ANTENNA_GAIN_DBI * 10),
    elevationM: z.number().int().min(0).max(10_000),
    region,
  })
  .strict();
export type RadioHello = z.infer<typeof radioHelloSchema>;

export const hotspotRowSchema = z
  .object({
    kind: z.literal('hotspot'),
    device: hex32,
    /** The location asserted on chain (H3, resolution 12), null when none is (or one at another resolution). */
    cell: assertedCell.nullable(),
    ...radioHelloSchema.shape,
  })
  .strict();
export type HotspotRow = z.infer<typeof hotspotRowSchema>;

/** HIP-106's memory, carried from one epoch to the next: last valid witness, last witnessed beacon (unix ms). */
export const historyRowSchema = z
  .object({
    kind: z.literal('history'),
    device: hex32,
    witnessedAt: z.number().int().nonnegative().nullable(),
    beaconWitnessedAt: z.number().int().nonnegative().nullable(),
  })
  .strict();
export type HistoryRow = z.infer<typeof historyRowSchema>;

/**
 * What credits were worth at the epoch's snapshot block: `tokens` token units buy `credits`
 * credits (ServiceCredits.quoteTokens). The data-transfer pool is capped at the epoch's burned
 * credits at this rate (Helium: DC burned, converted at $0.00001 per DC, up to 50% of emissions).
 */
export const creditPriceRowSchema = z
  .object({
    kind: z.literal('credit-price'),
    credits: z.string().regex(/^[1-9][0-9]{0,30}$/),
    tokens: z.string().regex(/^(0|[1-9][0-9]{0,77})$/),
    block: z.number().int().nonnegative(),
  })
  .strict();
export type CreditPriceRow = z.infer<typeof creditPriceRowSchema>;

export const coverageInputSchema = z.discriminatedUnion('kind', [
  entropyRowSchema,
  hotspotRowSchema,
  historyRowSchema,
  creditPriceRowSchema,
]);
export type CoverageInput = z.infer<typeof coverageInputSchema>;

/** An uplink as a sensor sends it (LoRaWAN's shape, with an HMAC for the MIC). */
export const uplinkSchema = z
  .object({
    /** The sensor's id (a LoRaWAN DevEUI: 8 bytes). */
    sensor: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits'),
    /** Frame counter: each uplink of a sensor has a new one. */
    fcnt: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    /** The application payload, base64. */
    data: z
      .string()
      .max(400)
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
    /** HMAC-SHA256 over (sensor, fcnt, data) with the sensor's session key, first 8 bytes. */
    mic: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits'),
  })
  .strict();
export type Uplink = z.infer<typeof uplinkSchema>;

/** Payloads between the service and the workers. */
export const servicePayloadSchema = z.discriminatedUnion('kind', [
  /** Service → worker: beacon with this entropy once in the window starting now. */
  z.object({ kind: z.literal('entropy'), id: hex32, start: z.number().int(), windowMs: z.number().int().positive() }).strict(),
  /** Worker → service: an uplink its radio heard, with how it heard it. */
  z
    .object({
      kind: z.literal('uplink'),
      uplink: uplinkSchema,
      signalDdbm: z.number().int().min(-2000).max(500),
      snrDdb: z.number().int().min(-500).max(1000),
      frequencyHz: frequency,
    })
    .strict(),
]);
export type CoveragePayload = z.infer<typeof servicePayloadSchema>;
