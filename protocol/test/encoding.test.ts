// canonicalJson / canonicalBytes / canonicalDigest / sha256Hex: one value, one encoding.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { EncodingError, canonicalBytes, canonicalDigest, canonicalJson, sha256Hex } from '../src/encoding.ts';

/** Asserts that encoding `value` throws an EncodingError whose message starts with `path`. */
function assertRefused(value: unknown, path: string, what?: RegExp): void {
  assert.throws(
    () => canonicalJson(value),
    (err: unknown) => {
      assert.ok(err instanceof EncodingError, `expected an EncodingError, got ${String(err)}`);
      assert.equal(err.name, 'EncodingError');
      assert.ok(err.message.startsWith(`${path}:`), `message "${err.message}" should name the path ${path}`);
      if (what) assert.match(err.message, what);
      return true;
    },
  );
}

describe('canonicalJson', () => {
  test('encodes scalars exactly', () => {
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson(true), 'true');
    assert.equal(canonicalJson(false), 'false');
    assert.equal(canonicalJson(0), '0');
    assert.equal(canonicalJson(-0), '0');
    assert.equal(canonicalJson(-42), '-42');
    assert.equal(canonicalJson(Number.MAX_SAFE_INTEGER), '9007199254740991');
    assert.equal(canonicalJson('a"b\\c\n'), '"a\\"b\\\\c\\n"');
    assert.equal(canonicalJson('é✓'), '"é✓"');
    assert.equal(canonicalJson([]), '[]');
    assert.equal(canonicalJson({}), '{}');
  });

  test('sorts keys at every depth and uses no whitespace', () => {
    const value = { b: 1, a: { z: [{ y: 1, x: 2 }], c: { f: null, e: true } }, A: 'upper' };
    assert.equal(canonicalJson(value), '{"A":"upper","a":{"c":{"e":true,"f":null},"z":[{"x":2,"y":1}]},"b":1}');
  });

  test('keeps array order (arrays are not sorted)', () => {
    assert.equal(canonicalJson([3, 1, 2]), '[3,1,2]');
  });

  test('drops keys whose value is undefined, at every depth, but keeps null', () => {
    assert.equal(canonicalJson({ a: undefined, b: 1, c: { d: undefined, e: null } }), '{"b":1,"c":{"e":null}}');
    assert.equal(canonicalJson({ a: undefined }), '{}');
  });

  test('encodes bigints as decimal strings', () => {
    assert.equal(canonicalJson(0n), '"0"');
    assert.equal(canonicalJson(-5n), '"-5"');
    assert.equal(canonicalJson({ v: 2n ** 256n - 1n }), `{"v":"${(2n ** 256n - 1n).toString()}"}`);
    // A bigint and the same decimal string encode alike: the encoding carries no type tag.
    assert.equal(canonicalJson({ v: 10n ** 18n }), canonicalJson({ v: '1000000000000000000' }));
  });

  test('refuses floats, NaN, Infinity and unsafe integers, naming the path', () => {
    assertRefused(1.5, '$', /1\.5/);
    assertRefused({ a: { b: [0, 0.1] } }, '$.a.b[1]', /safe integers/);
    assertRefused({ n: Number.NaN }, '$.n', /NaN/);
    assertRefused({ n: Number.POSITIVE_INFINITY }, '$.n', /Infinity/);
    assertRefused([Number.NEGATIVE_INFINITY], '$[0]', /-Infinity/);
    assertRefused({ big: Number.MAX_SAFE_INTEGER + 1 }, '$.big');
  });

  test('refuses functions, symbols and undefined outside an object, naming the path', () => {
    assertRefused({ f: () => 1 }, '$.f', /function/);
    assertRefused({ s: Symbol('x') }, '$.s', /symbol/);
    assertRefused([1, undefined], '$[1]', /undefined/);
    assertRefused(undefined, '$', /undefined/);
    assertRefused({ deep: [{ ok: 1, bad: () => 0 }] }, '$.deep[0].bad', /function/);
  });

  test('refuses cycles, naming the path where the cycle closes', () => {
    const obj: Record<string, unknown> = { a: 1 };
    obj.self = obj;
    assertRefused(obj, '$.self', /cycle/);
    const arr: unknown[] = [1];
    arr.push({ back: arr });
    assertRefused(arr, '$[1].back', /cycle/);
  });

  test('accepts a shared (non-cyclic) reference in two places', () => {
    const shared = { k: 1 };
    assert.equal(canonicalJson({ a: shared, b: [shared, shared] }), '{"a":{"k":1},"b":[{"k":1},{"k":1}]}');
  });

  test('the same object built in different key orders gives identical bytes and digest', () => {
    const one = { network: 'uptime', epoch: 7, body: { nonce: '0x01', extra: { q: 1, p: [2, { z: 0, a: 1 }] } }, v: 1 };
    const two: Record<string, unknown> = {};
    two.v = 1;
    two.body = { extra: { p: [2, { a: 1, z: 0 }], q: 1 }, nonce: '0x01' };
    two.epoch = 7;
    two.network = 'uptime';
    assert.deepEqual(canonicalBytes(one), canonicalBytes(two));
    assert.equal(canonicalDigest(one), canonicalDigest(two));
    // And a real difference shows up.
    assert.notEqual(canonicalDigest(one), canonicalDigest({ ...one, epoch: 8 }));
  });

  test('canonical JSON parses back to an equal value', () => {
    const value = { z: [1, 'two', null, true, { y: -3 }], a: 'x' };
    assert.deepEqual(JSON.parse(canonicalJson(value)), value);
  });
});

describe('canonicalBytes / canonicalDigest / sha256Hex', () => {
  test('canonicalBytes is the UTF-8 encoding of canonicalJson', () => {
    const value = { s: 'ünïcødé ✓', n: 1 };
    assert.deepEqual(canonicalBytes(value), new Uint8Array(Buffer.from(canonicalJson(value), 'utf8')));
  });

  test('sha256Hex matches node:crypto and is 0x + 64 lowercase hex digits', () => {
    for (const input of [new Uint8Array(), new TextEncoder().encode('abc'), Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff)]) {
      const expected = `0x${createHash('sha256').update(input).digest('hex')}`;
      assert.equal(sha256Hex(input), expected);
      assert.match(sha256Hex(input), /^0x[0-9a-f]{64}$/);
    }
    // Known vector: sha256("abc").
    assert.equal(sha256Hex(new TextEncoder().encode('abc')), '0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('canonicalDigest is sha256 of the canonical bytes', () => {
    const value = { b: 2n, a: [1, { d: 'x', c: null }] };
    assert.equal(canonicalDigest(value), `0x${createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex')}`);
  });
});
