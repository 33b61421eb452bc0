// Message schemas and the bytes devices sign: strict parsing, what a signature covers, error text.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, test } from 'node:test';
import type { Hex } from 'viem';
import { deviceIdHex, deviceIdOf, devicePublicKey, generateDeviceKey, verifyMessage } from '../src/device-key.ts';
import { encodeReport, signReport, signSocketAuth, verifyReport } from '../src/report.ts';
import { canonicalBytes, canonicalJson, sha256Hex } from '../src/encoding.ts';
import { reportDigest } from '../src/epoch-close.ts';
import {
  LIMITS,
  batchSchema,
  challengeSchema,
  describeZodError,
  deviceMessageSchema,
  reportSchema,
  reportSigningBytes,
  serverMessageSchema,
  socketAuthBytes,
  type Domain,
  type Report,
  type UnsignedReport,
} from '../src/schemas.ts';

const key = generateDeviceKey();
const otherKey = generateDeviceKey();
const device = deviceIdHex(deviceIdOf(devicePublicKey(key.publicKey)));
const domain: Domain = { chainId: 31337, registry: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const nonce = `0x${'ab'.repeat(32)}` as Hex;

const unsigned: UnsignedReport = { v: 1, ...domain, network: 'uptime', type: 'uptime.answer', device, epoch: 12, body: { nonce } };
const signed = signReport(unsigned, key.privateKey);

/** `signed` with one field replaced (the signature kept). */
const withField = (field: string, value: unknown): Record<string, unknown> => ({ ...signed, [field]: value });

function refuses(value: unknown, path?: string): void {
  const r = reportSchema.safeParse(value);
  assert.equal(r.success, false, `accepted ${inspect(value)}`);
  if (path !== undefined && !r.success) {
    assert.ok(
      r.error.issues.some((i) => i.path.join('.') === path),
      `expected an issue at ${path}, got ${describeZodError(r.error)}`,
    );
  }
}

describe('reportSchema', () => {
  test('accepts a well-formed signed report and returns it unchanged', () => {
    const r = reportSchema.safeParse(signed);
    assert.ok(r.success, r.success ? '' : describeZodError(r.error));
    assert.deepEqual(r.data, signed);
    assert.match(signed.sig, /^0x[0-9a-f]{128}$/);
  });

  test('accepts boundary values: epoch 0 and 2^40, 32-char network kind, any-case registry', () => {
    assert.ok(reportSchema.safeParse(withField('epoch', 0)).success);
    assert.ok(reportSchema.safeParse(withField('epoch', 2 ** 40)).success);
    assert.ok(reportSchema.safeParse(withField('network', `a${'-'.repeat(31)}`)).success);
    assert.ok(reportSchema.safeParse(withField('registry', domain.registry.toLowerCase())).success);
    assert.ok(reportSchema.safeParse(withField('body', {})).success);
  });

  test('refuses unknown keys, at the top level', () => {
    refuses({ ...signed, extra: 1 });
    refuses({ ...signed, purpose: 'groundwork/report' });
  });

  test('refuses missing fields', () => {
    for (const k of Object.keys(signed)) {
      const { [k]: _drop, ...rest } = signed as Record<string, unknown>;
      refuses(rest, k);
    }
  });

  test('refuses uppercase hex in device and sig', () => {
    refuses(withField('device', device.toUpperCase().replace('0X', '0x')), 'device');
    refuses(withField('device', `0x${'A'.repeat(64)}`), 'device');
    refuses(withField('sig', `0x${signed.sig.slice(2).toUpperCase()}`), 'sig');
  });

  test('refuses wrong lengths of device, sig and registry', () => {
    refuses(withField('device', device.slice(0, 65)), 'device');
    refuses(withField('device', `${device}0`), 'device');
    refuses(withField('device', device.slice(2)), 'device');
    refuses(withField('sig', signed.sig.slice(0, 129)), 'sig');
    refuses(withField('sig', `${signed.sig}00`), 'sig');
    refuses(withField('registry', `${domain.registry}0`), 'registry');
    refuses(withField('registry', domain.registry.slice(0, 41)), 'registry');
  });

  test('refuses negative, fractional, too large or non-number epochs', () => {
    for (const epoch of [-1, 1.5, 2 ** 40 + 1, Number.NaN, Number.POSITIVE_INFINITY, '12', 12n, null])
      refuses(withField('epoch', epoch), 'epoch');
  });

  test('refuses bad network kinds and report types', () => {
    for (const network of ['', 'Uptime', '1uptime', '-uptime', 'up_time', 'up.time', `a${'b'.repeat(32)}`, 7])
      refuses(withField('network', network), 'network');
    for (const type of ['', 'Uptime.answer', '.answer', 'a b', `a${'b'.repeat(64)}`]) refuses(withField('type', type), 'type');
  });

  test('refuses other versions, non-positive chain ids and a non-object body', () => {
    refuses(withField('v', 2), 'v');
    refuses(withField('v', '1'), 'v');
    refuses(withField('chainId', 0), 'chainId');
    refuses(withField('chainId', -1), 'chainId');
    refuses(withField('chainId', 1.5), 'chainId');
    refuses(withField('body', 'nonce'), 'body');
    refuses(withField('body', null), 'body');
  });
});

describe('reportSigningBytes', () => {
  test('excludes sig: the signed and unsigned report give the same bytes, whatever the sig', () => {
    assert.deepEqual(reportSigningBytes(signed), reportSigningBytes(unsigned));
    assert.deepEqual(reportSigningBytes({ ...signed, sig: `0x${'00'.repeat(64)}` as Hex }), reportSigningBytes(signed));
    const parsed = JSON.parse(new TextDecoder().decode(reportSigningBytes(signed))) as Record<string, unknown>;
    assert.equal(parsed.sig, undefined);
  });

  test('is the canonical JSON of every field but sig, plus the purpose', () => {
    const text = new TextDecoder().decode(reportSigningBytes(signed));
    assert.equal(
      text,
      `{"body":{"nonce":"${nonce}"},"chainId":31337,"device":"${device}","epoch":12,"network":"uptime","purpose":"groundwork/report","registry":"${domain.registry}","type":"uptime.answer","v":1}`,
    );
  });

  test('changing any field but sig changes the bytes', () => {
    const changes: Record<keyof UnsignedReport, unknown> = {
      v: 2,
      chainId: 1,
      registry: domain.registry.toLowerCase(), // case matters: the signature covers the exact text
      network: 'storage',
      type: 'uptime.other',
      device: deviceIdHex(1n),
      epoch: 13,
      body: { nonce: `0x${'cd'.repeat(32)}` },
    };
    const base = reportSigningBytes(signed);
    for (const [field, value] of Object.entries(changes)) {
      assert.notDeepEqual(reportSigningBytes({ ...signed, [field]: value } as Report), base, field);
    }
    assert.notDeepEqual(reportSigningBytes({ ...signed, body: { nonce, extra: 1 } }), base, 'body key added');
    assert.notDeepEqual(reportSigningBytes({ ...signed, body: {} }), base, 'body emptied');
  });
});

describe('verifyReport', () => {
  test('is true for the signer and false for another key', () => {
    assert.equal(verifyReport(signed, key.publicKey), true);
    assert.equal(verifyReport(signed, otherKey.publicKey), false);
  });

  test('is false after any field changes', () => {
    const changes: Record<string, unknown> = {
      v: 2,
      chainId: 1,
      registry: '0x0000000000000000000000000000000000000001',
      network: 'storage',
      type: 'uptime.other',
      device: deviceIdHex(1n),
      epoch: 11,
      body: { nonce: `0x${'cd'.repeat(32)}` },
      sig: `0x${signed.sig.slice(2, 66)}${'0'.repeat(63)}1`,
    };
    for (const [field, value] of Object.entries(changes)) {
      assert.equal(verifyReport({ ...signed, [field]: value } as Report, key.publicKey), false, field);
    }
  });
});

describe('socketAuthBytes', () => {
  const base = socketAuthBytes(domain, device, nonce);

  test('binds chainId, registry, device and nonce', () => {
    assert.notDeepEqual(socketAuthBytes({ ...domain, chainId: 1 }, device, nonce), base, 'chainId');
    assert.notDeepEqual(
      socketAuthBytes({ ...domain, registry: '0x0000000000000000000000000000000000000001' }, device, nonce),
      base,
      'registry',
    );
    assert.notDeepEqual(socketAuthBytes(domain, deviceIdHex(1n), nonce), base, 'device');
    assert.notDeepEqual(socketAuthBytes(domain, device, `0x${'cd'.repeat(32)}`), base, 'nonce');
    assert.deepEqual(
      socketAuthBytes({ registry: domain.registry, chainId: domain.chainId }, device, nonce),
      base,
      'key order does not matter',
    );
  });

  test('carries its own purpose, so a socket auth signature is never a report signature', () => {
    const parsed = JSON.parse(new TextDecoder().decode(base)) as Record<string, unknown>;
    assert.deepEqual(parsed, { purpose: 'groundwork/socket-auth', chainId: 31337, registry: domain.registry, device, nonce });
  });

  test('signSocketAuth verifies against exactly these bytes', () => {
    const sig = signSocketAuth(domain, device, nonce, key.privateKey);
    assert.equal(verifyMessage(key.publicKey, base, sig), true);
    assert.equal(verifyMessage(key.publicKey, socketAuthBytes({ ...domain, chainId: 1 }, device, nonce), sig), false);
    assert.equal(verifyMessage(otherKey.publicKey, base, sig), false);
  });
});

describe('describeZodError', () => {
  test('names the path of each issue', () => {
    const r = reportSchema.safeParse({ ...signed, device: 'x', epoch: -1 });
    assert.equal(r.success, false);
    if (r.success) return;
    const text = describeZodError(r.error);
    assert.match(text, /(^|; )device: must be 0x and 64 lowercase hex digits/);
    assert.match(text, /(^|; )epoch: /);
    assert.equal(text.split('; ').length, 2);
  });

  test('joins nested paths with dots and says (root) for the root', () => {
    const nested = serverMessageSchema.safeParse({
      type: 'challenge',
      challenge: { network: 'uptime', device, epoch: 1, nonce: 'bad', issuedAt: 0, deadline: 1 },
    });
    assert.equal(nested.success, false);
    if (!nested.success) assert.match(describeZodError(nested.error), /^challenge\.nonce: /);
    const root = reportSchema.safeParse('not an object');
    assert.equal(root.success, false);
    if (!root.success) assert.match(describeZodError(root.error), /^\(root\): /);
  });

  test('lists at most five issues', () => {
    const r = reportSchema.safeParse({ v: 3, chainId: 0, registry: 'x', network: '', type: '', device: 'x', epoch: -1, body: 1, sig: 'x' });
    assert.equal(r.success, false);
    if (!r.success) {
      assert.ok(r.error.issues.length > 5);
      assert.equal(describeZodError(r.error).split('; ').length, 5);
    }
  });
});

describe('batchSchema', () => {
  const reports = (n: number) => ({ reports: Array.from({ length: n }, () => signed) });

  test('takes 1 to LIMITS.maxBatchReports (500) reports', () => {
    assert.equal(LIMITS.maxBatchReports, 500);
    assert.ok(batchSchema.safeParse(reports(1)).success);
    assert.ok(batchSchema.safeParse(reports(500)).success);
  });

  test('refuses 0 reports, more than 500, and unknown keys', () => {
    const empty = batchSchema.safeParse(reports(0));
    assert.equal(empty.success, false);
    if (!empty.success) assert.match(describeZodError(empty.error), /^reports: must hold at least one report/);
    assert.equal(batchSchema.safeParse(reports(501)).success, false);
    assert.equal(batchSchema.safeParse({ ...reports(1), more: true }).success, false);
    assert.equal(batchSchema.safeParse({}).success, false);
  });
});

describe('other messages', () => {
  test('challengeSchema is strict and needs lowercase 32-byte nonces', () => {
    const c = { network: 'uptime', device, epoch: 3, nonce, issuedAt: 1000, deadline: 5000 };
    assert.ok(challengeSchema.safeParse(c).success);
    assert.equal(challengeSchema.safeParse({ ...c, extra: 1 }).success, false);
    assert.equal(challengeSchema.safeParse({ ...c, nonce: nonce.toUpperCase().replace('0X', '0x') }).success, false);
    assert.equal(challengeSchema.safeParse({ ...c, deadline: -1 }).success, false);
  });

  test('deviceMessageSchema takes auth and report messages only', () => {
    assert.ok(deviceMessageSchema.safeParse({ type: 'auth', device, nonce, sig: signed.sig }).success);
    assert.ok(deviceMessageSchema.safeParse({ type: 'report', report: signed }).success);
    assert.equal(deviceMessageSchema.safeParse({ type: 'hello', nonce, serverTime: 0 }).success, false);
    assert.equal(deviceMessageSchema.safeParse({ type: 'auth', device, nonce, sig: signed.sig, extra: 1 }).success, false);
  });
});

describe('encodeReport (ingest encodes each field once)', () => {
  test('gives the canonical JSON, the digest preimage, the signing bytes and the body size', () => {
    const e = encodeReport(signed);
    assert.equal(e.json, canonicalJson(signed));
    assert.deepEqual(e.bytes, canonicalBytes(signed));
    assert.deepEqual(Buffer.from(e.signingBytes), Buffer.from(reportSigningBytes(signed)));
    assert.equal(e.bodyBytes, Buffer.byteLength(canonicalJson(signed.body)));
    assert.equal(reportDigest(signed), sha256Hex(e.bytes));
  });
  test('throws where canonicalJson throws', () => {
    assert.throws(() => encodeReport({ ...signed, body: { x: 1.5 } }));
  });
});
