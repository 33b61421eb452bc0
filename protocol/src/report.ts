// Building and checking signed device messages.
import type { KeyObject } from 'node:crypto';
import type { Hex } from 'viem';
import { signMessage, verifyMessage } from './device-key.ts';
import { reportSigningBytes, socketAuthBytes, type Domain, type Report, type UnsignedReport } from './schemas.ts';

/**
 * Signs a report with the device key.
 *
 * @example
 * const report = signReport({ v: 1, ...domain, network: 'uptime', type: 'uptime.answer', device, epoch, body: { nonce } }, key);
 */
export function signReport(unsigned: UnsignedReport, key: KeyObject): Report {
  return { ...unsigned, sig: signMessage(key, reportSigningBytes(unsigned)) };
}

/** Whether `report.sig` is the device key's signature over the report. */
export function verifyReport(report: Report, publicKey: KeyObject): boolean {
  return verifyMessage(publicKey, reportSigningBytes(report), report.sig);
}

/** The device's answer to a socket's hello nonce. */
export function signSocketAuth(domain: Domain, device: Hex, nonce: Hex, key: KeyObject): Hex {
  return signMessage(key, socketAuthBytes(domain, device, nonce));
}
