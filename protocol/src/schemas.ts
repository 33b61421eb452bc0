// zod schemas for every message between devices, oracle and clients. Parsing is strict: unknown
// keys are refused, so what was signed is exactly what was parsed.
import { z } from 'zod';
import type { Address, Hex } from 'viem';
import { canonicalBytes } from './encoding.ts';

/** Limits that keep one message cheap to check (ingest refuses anything larger). */
export const LIMITS = {
  /** Bytes of one HTTP request body. */
  maxRequestBytes: 1 << 20,
  /** Reports in one batch. */
  maxBatchReports: 500,
  /** Bytes of a report's canonical body. */
  maxReportBodyBytes: 4096,
  /** Bytes of one WebSocket message. */
  maxSocketMessageBytes: 64 * 1024,
} as const;

export const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/, 'must be 0x and 64 lowercase hex digits') as unknown as z.ZodType<Hex>;
export const deviceIdSchema = hex32;
export const signatureSchema = z
  .string()
  .regex(/^0x[0-9a-f]{128}$/, 'must be a 64-byte P-256 signature r||s as 0x and 128 lowercase hex digits') as unknown as z.ZodType<Hex>;
export const addressSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address') as unknown as z.ZodType<Address>;
export const uintString = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, 'must be a non-negative integer in decimal');
export const networkKindSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be 1-32 lowercase letters, digits or dashes, starting with a letter');
export const epochSchema = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 40);

/** Binds a device message to one deployment, so it cannot be replayed on another network. */
export const domainSchema = z.object({ chainId: z.number().int().positive(), registry: addressSchema }).strict();
export type Domain = z.infer<typeof domainSchema>;

/**
 * A signed activity report. `body` is validated by the network plug-in named by `network` and
 * `type`; the signature covers the canonical encoding of every field but `sig`.
 */
export const reportSchema = z
  .object({
    v: z.literal(1),
    chainId: z.number().int().positive(),
    registry: addressSchema,
    network: networkKindSchema,
    type: z.string().regex(/^[a-z][a-z0-9.-]{0,63}$/, 'must be 1-64 lowercase letters, digits, dots or dashes'),
    device: deviceIdSchema,
    epoch: epochSchema,
    body: z.record(z.string(), z.unknown()),
    sig: signatureSchema,
  })
  .strict();
export type Report = z.infer<typeof reportSchema>;
export type UnsignedReport = Omit<Report, 'sig'>;

export const batchSchema = z
  .object({ reports: z.array(z.unknown()).min(1, 'must hold at least one report').max(LIMITS.maxBatchReports) })
  .strict();

/** The bytes a device signs for a report. */
export function reportSigningBytes(report: UnsignedReport | Report): Uint8Array {
  const { sig: _sig, ...unsigned } = report as Report;
  return canonicalBytes({ purpose: 'groundwork/report', ...unsigned });
}

/** A challenge the oracle pushes to a device (a fresh nonce it must answer, signed, in time). */
export const challengeSchema = z
  .object({
    network: networkKindSchema,
    device: deviceIdSchema,
    epoch: epochSchema,
    nonce: hex32,
    issuedAt: z.number().int().nonnegative(),
    deadline: z.number().int().nonnegative(),
  })
  .strict();
export type Challenge = z.infer<typeof challengeSchema>;

// WebSocket messages. The device opens the socket (it sits behind NAT); the oracle says hello with
// a nonce, the device proves it holds its key, then challenges flow down and reports flow up.
export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), nonce: hex32, serverTime: z.number().int() }).strict(),
  z.object({ type: z.literal('ready'), device: deviceIdSchema, epoch: epochSchema }).strict(),
  z.object({ type: z.literal('challenge'), challenge: challengeSchema }).strict(),
  z.object({ type: z.literal('ack'), digest: hex32, status: z.enum(['stored', 'duplicate']) }).strict(),
  z.object({ type: z.literal('rejected'), digest: hex32.optional(), reason: z.string(), detail: z.string() }).strict(),
  z.object({ type: z.literal('error'), reason: z.string(), detail: z.string() }).strict(),
  z.object({ type: z.literal('service'), network: networkKindSchema, payload: z.record(z.string(), z.unknown()) }).strict(),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

export const deviceMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), device: deviceIdSchema, nonce: hex32, sig: signatureSchema }).strict(),
  z.object({ type: z.literal('report'), report: z.unknown() }).strict(),
  z.object({ type: z.literal('service'), network: networkKindSchema, payload: z.record(z.string(), z.unknown()) }).strict(),
  z.object({ type: z.literal('hello'), network: networkKindSchema, payload: z.record(z.string(), z.unknown()) }).strict(),
]);
export type DeviceMessage = z.infer<typeof deviceMessageSchema>;

/** The bytes a device signs to prove, on a new socket, that it holds its key. */
export function socketAuthBytes(domain: Domain, device: Hex, nonce: Hex): Uint8Array {
  return canonicalBytes({ purpose: 'groundwork/socket-auth', ...domain, device, nonce });
}

/** A human-readable summary of a zod error: "path: message; path: message". */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
