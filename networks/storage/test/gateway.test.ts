// The gateway's pure parts: SigV4 checked against requests signed by the AWS SDK's own signer
// (@smithy/signature-v4), with every kind of tampering refused by name, and the aws-chunked
// decoder on bodies as the SDKs send them and on malformed ones. The operations themselves run
// against the AWS SDK client in sim/test/storage.test.ts.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { decodeAwsChunked } from '../src/gateway/chunked.ts';
import { verifySigV4 } from '../src/gateway/sigv4.ts';

const bytes = (d: Uint8Array | string | ArrayBuffer | ArrayBufferView): Uint8Array | string =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** The SDK signer's hash, on node:crypto. */
class Sha256 {
  private readonly h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: Uint8Array | string | ArrayBuffer | ArrayBufferView) {
    this.h = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: Uint8Array | string | ArrayBuffer | ArrayBufferView) {
    this.h.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const secrets = (k: string) => (k === 'AKID' ? 'secret' : undefined);

async function signed(path: string, query: Record<string, string>, secret = 'secret') {
  const signer = new SignatureV4({
    credentials: { accessKeyId: 'AKID', secretAccessKey: secret },
    region: 'us-east-1',
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const req = await signer.sign(
    {
      method: 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path,
      query,
      headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { signingDate: new Date(NOW) },
  );
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const rawQuery = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return { method: 'GET', rawPath: path, rawQuery, headers };
}

test('SigV4: what the SDK signs verifies; tampering, an unknown key and a stale date are refused by name', async () => {
  const req = await signed('/photos/2026/a%20b.jpg', { 'list-type': '2', prefix: 'a/b c' });
  assert.deepEqual(verifySigV4(req, secrets, NOW), { ok: true, accessKey: 'AKID' });
  const code = (r: ReturnType<typeof verifySigV4>) => (r.ok ? 'ok' : r.failure.code);
  assert.equal(code(verifySigV4({ ...req, rawPath: '/photos/other.jpg' }, secrets, NOW)), 'SignatureDoesNotMatch');
  assert.equal(code(verifySigV4({ ...req, rawQuery: 'list-type=2&prefix=x' }, secrets, NOW)), 'SignatureDoesNotMatch');
  assert.equal(code(verifySigV4({ ...req, method: 'DELETE' }, secrets, NOW)), 'SignatureDoesNotMatch');
  assert.equal(code(verifySigV4(await signed('/photos', {}, 'wrong'), secrets, NOW)), 'SignatureDoesNotMatch');
  assert.equal(code(verifySigV4(req, () => undefined, NOW)), 'InvalidAccessKeyId');
  assert.equal(code(verifySigV4(req, secrets, NOW + 16 * 60_000)), 'RequestTimeTooSkewed');
  assert.equal(
    code(verifySigV4({ ...req, headers: { ...req.headers, authorization: 'Basic abc' } }, secrets, NOW)),
    'AuthorizationHeaderMalformed',
  );
  const { authorization: _, ...unsigned } = req.headers;
  assert.equal(code(verifySigV4({ ...req, headers: unsigned }, secrets, NOW)), 'AccessDenied');
});

test('aws-chunked: data and trailers from signed and unsigned chunks; malformed bodies are null', () => {
  const body = Buffer.from('5\r\nhello\r\n6;chunk-signature=abc\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n');
  const d = decodeAwsChunked(body)!;
  assert.equal(Buffer.from(d.data).toString(), 'hello world');
  assert.deepEqual(d.trailers, { 'x-amz-checksum-crc32': 'DUoRhQ==' });
  assert.equal(Buffer.from(decodeAwsChunked(Buffer.from('0\r\n\r\n'))!.data).length, 0);
  for (const bad of ['5\r\nhell', 'zz\r\nhello\r\n0\r\n\r\n', '5\r\nhelloXX0\r\n\r\n', '5\r\nhello\r\n', '0\r\nno-colon\r\n\r\n'])
    assert.equal(decodeAwsChunked(Buffer.from(bad)), null, JSON.stringify(bad));
});
