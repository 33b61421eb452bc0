// Building and checking signed device messages.
import type { KeyObject } from 'node:crypto';
import type { Hex } from 'viem';
import { signMessage, verifyMessage } from './device-key.ts';
import { canonicalJson } from './encoding.ts';
import type { WorkerContext } from './network.ts';
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

/** A report of `network` by the worker's device for its current epoch, signed with its key. */
export function signWorkerReport(
  ctx: Pick<WorkerContext, 'domain' | 'device' | 'epoch' | 'key'>,
  network: string,
  type: string,
  body: Record<string, unknown>,
): Report {
  return signReport(
    { v: 1, chainId: ctx.domain.chainId, registry: ctx.domain.registry, network, type, device: ctx.device, epoch: ctx.epoch(), body },
    ctx.key,
  );
}

/** Whether `report.sig` is the device key's signature over the report. */
export function verifyReport(report: Report, publicKey: KeyObject): boolean {
  return verifyMessage(publicKey, reportSigningBytes(report), report.sig);
}

/** The device's answer to a socket's hello nonce. */
export function signSocketAuth(domain: Domain, device: Hex, nonce: Hex, key: KeyObject): Hex {
  return signMessage(key, socketAuthBytes(domain, device, nonce));
}

const utf8 = new TextEncoder();
const SIGNING_PURPOSE = canonicalJson({ purpose: 'groundwork/report' }).slice(1, -1); // "purpose":"groundwork/report"

export type EncodedReport = {
  /** Canonical JSON of the whole report: what `reportDigest` hashes and the oracle stores. */
  json: string;
  bytes: Uint8Array;
  /** What the signature covers: every field but `sig`, plus `purpose` (= `reportSigningBytes`). */
  signingBytes: Uint8Array;
  /** Bytes of the canonical body (ingest's size limit). */
  bodyBytes: number;
};

/**
 * Encodes each field once and gives everything ingest needs from a report; the same output as
 * `canonicalJson` and `reportSigningBytes`, which sort keys the same way. Throws as they do on a
 * value with no canonical encoding.
 */
export function encodeReport(report: Report): EncodedReport {
  const fields: [string, string][] = [];
  let bodyBytes = 0;
  for (const key of Object.keys(report).sort()) {
    const value = (report as Record<string, unknown>)[key];
    if (value === undefined) continue;
    // strings and safe integers encode as JSON.stringify does; objects (the body) as canonicalJson
    const json =
      typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value))
        ? JSON.stringify(value)
        : canonicalJson(value);
    if (key === 'body') bodyBytes = Buffer.byteLength(json, 'utf8');
    fields.push([key, `${JSON.stringify(key)}:${json}`]);
  }
  const json = `{${fields.map((f) => f[1]).join(',')}}`;
  const signing = fields.filter((f) => f[0] !== 'sig');
  const at = signing.findIndex((f) => f[0] > 'purpose');
  signing.splice(at < 0 ? signing.length : at, 0, ['purpose', SIGNING_PURPOSE]);
  return { json, bytes: utf8.encode(json), signingBytes: utf8.encode(`{${signing.map((f) => f[1]).join(',')}}`), bodyBytes };
}
