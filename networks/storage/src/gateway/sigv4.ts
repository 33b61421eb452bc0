// AWS Signature Version 4 as S3 checks it (the Authorization header form): the canonical request
// from the method, the path as sent, the sorted query, the signed headers and the payload hash the
// client declared (x-amz-content-sha256), signed with a key derived from the secret, the date, the
// region and the service. Pure, so the gateway's check is tested on its own.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type SignedRequest = {
  method: string;
  /** The path exactly as the client sent it (already URI-encoded). */
  rawPath: string;
  /** The query string as sent (without the ?). */
  rawQuery: string;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
};

export type SigV4Failure = {
  code: 'AccessDenied' | 'InvalidAccessKeyId' | 'SignatureDoesNotMatch' | 'AuthorizationHeaderMalformed' | 'RequestTimeTooSkewed';
  message: string;
};

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
/** S3 refuses a request dated more than 15 minutes from its clock. */
const MAX_SKEW_MS = 15 * 60_000;

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept, everything else %XX, upper case). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(raw: string): string {
  if (!raw) return '';
  const pairs = raw.split('&').map((p) => {
    const i = p.indexOf('=');
    const k = decodeURIComponent((i < 0 ? p : p.slice(0, i)).replace(/\+/g, ' '));
    const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1).replace(/\+/g, ' '));
    return [uriEncode(k), uriEncode(v)] as const;
  });
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function header(h: SignedRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** The access key a request is signed with, and whether its signature holds under `secretOf`. */
export function verifySigV4(
  req: SignedRequest,
  secretOf: (accessKey: string) => string | undefined,
  now = Date.now(),
): { ok: true; accessKey: string } | { ok: false; failure: SigV4Failure } {
  const fail = (code: SigV4Failure['code'], message: string) => ({ ok: false as const, failure: { code, message } });
  const auth = header(req.headers, 'authorization');
  if (!auth) return fail('AccessDenied', 'the request is not signed (no Authorization header)');
  const m = AUTH.exec(auth.trim());
  if (!m)
    return fail(
      'AuthorizationHeaderMalformed',
      'the Authorization header is not AWS4-HMAC-SHA256 with Credential, SignedHeaders and Signature',
    );
  const [, accessKey, day, region, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string];
  const secret = secretOf(accessKey);
  if (secret === undefined) return fail('InvalidAccessKeyId', `the access key ${accessKey} is not one of this gateway's`);
  const amzDate = header(req.headers, 'x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day)
    return fail('AuthorizationHeaderMalformed', "x-amz-date is missing or not the credential's day");
  const at = Date.UTC(
    +amzDate.slice(0, 4),
    +amzDate.slice(4, 6) - 1,
    +amzDate.slice(6, 8),
    +amzDate.slice(9, 11),
    +amzDate.slice(11, 13),
    +amzDate.slice(13, 15),
  );
  if (Math.abs(now - at) > MAX_SKEW_MS)
    return fail('RequestTimeTooSkewed', `the request was signed at ${amzDate}, more than 15 minutes from now`);
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return fail('AuthorizationHeaderMalformed', 'the host header must be signed');
  const canonicalHeaders = names.map((n) => `${n}:${(header(req.headers, n) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payload = header(req.headers, 'x-amz-content-sha256') ?? 'UNSIGNED-PAYLOAD';
  const canonical = [req.method, req.rawPath || '/', canonicalQuery(req.rawQuery), canonicalHeaders, signedHeaders, payload].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), 's3'), 'aws4_request');
  const expected = hmac(key, toSign);
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex')))
    return fail(
      'SignatureDoesNotMatch',
      'the request signature we calculated does not match the signature you provided; check your key and signing method',
    );
  return { ok: true, accessKey };
}
