// P-256 device keys: PEM round trip, coordinates, low-s signatures and the registry's device id.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { concat, encodeAbiParameters, keccak256, type Hex } from 'viem';
import {
  DeviceKeyError,
  P256_N,
  deviceIdHex,
  deviceIdOf,
  devicePublicKey,
  exportDeviceKey,
  generateDeviceKey,
  importDeviceKey,
  publicKeyFromCoordinates,
  signMessage,
  signP256,
  verifyMessage,
} from '../src/device-key.ts';

const HALF_N = P256_N / 2n;
const hex64 = (n: bigint): string => n.toString(16).padStart(64, '0');
const isDeviceKeyError = (err: unknown): boolean => err instanceof DeviceKeyError && err.name === 'DeviceKeyError';

const { privateKey, publicKey } = generateDeviceKey();
const other = generateDeviceKey();
const message = new TextEncoder().encode('groundwork device-key test message');

describe('key generation and PEM files', () => {
  test('P256_N is the order of the P-256 group', () => {
    assert.equal(P256_N, 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n);
  });

  test('generateDeviceKey gives a P-256 pair', () => {
    assert.equal(privateKey.asymmetricKeyType, 'ec');
    assert.equal(privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(publicKey.type, 'public');
  });

  test('generated keys: distinct, matching halves, 32-byte scalars (also those with leading zero bytes)', () => {
    const seen = new Set<string>();
    let shortScalars = 0;
    for (let i = 0; i < 3000; i++) {
      const k = generateDeviceKey();
      const pub = devicePublicKey(k.publicKey);
      assert.deepEqual(devicePublicKey(k.privateKey), pub);
      const d = Buffer.from(k.privateKey.export({ format: 'jwk' }).d!, 'base64url');
      assert.equal(d.length, 32);
      if (d[0] === 0) shortScalars++;
      assert.ok(!seen.has(pub.x), 'a repeated key');
      seen.add(pub.x);
      if (i % 100 === 0) assert.equal(verifyMessage(k.publicKey, message, signMessage(k.privateKey, message)), true);
    }
    // About 3000/256 scalars start with a zero byte; each had to be padded to import at all.
    assert.ok(shortScalars > 0, 'no scalar with a leading zero byte among 3000');
  });

  test('generating and exporting many keys does not hang the process (Node 20 key-generation job deadlock)', () => {
    // Run apart: a deadlocked main thread could not even time out a test in this process. The hang
    // needs a scavenge to land inside an export, so a small new space makes scavenges frequent;
    // with generateKeyPairSync this loop hung in about one run of four (never with ECDH keys).
    const script = `import { generateDeviceKey, devicePublicKey } from ${JSON.stringify(new URL('../src/device-key.ts', import.meta.url).href)};
      for (let i = 0; i < 30000; i++) devicePublicKey(generateDeviceKey().publicKey);
      console.log('done');`;
    const r = spawnSync(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.signal, null, 'killed after 120 s: the key loop hung');
    assert.equal(r.stdout.trim(), 'done', r.stderr);
  });

  test('export → import round trip (PKCS#8 PEM) keeps the key', () => {
    const pem = exportDeviceKey(privateKey);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(pem, /-----END PRIVATE KEY-----\n?$/);
    const back = importDeviceKey(pem);
    assert.deepEqual(devicePublicKey(back), devicePublicKey(publicKey));
    assert.equal(exportDeviceKey(back), pem);
    // The imported key signs for the original public key.
    assert.equal(verifyMessage(publicKey, message, signMessage(back, message)), true);
  });

  test('importDeviceKey also reads a SEC1 ("EC PRIVATE KEY") PEM', () => {
    const sec1 = privateKey.export({ format: 'pem', type: 'sec1' }).toString();
    assert.match(sec1, /BEGIN EC PRIVATE KEY/);
    assert.deepEqual(devicePublicKey(importDeviceKey(sec1)), devicePublicKey(publicKey));
  });

  test('importDeviceKey refuses ed25519, secp256k1, RSA, a public key and garbage with DeviceKeyError', () => {
    const pkcs8 = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();
    const ed25519 = pkcs8(generateKeyPairSync('ed25519').privateKey);
    const secp256k1 = pkcs8(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey);
    const rsa = pkcs8(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey);
    const p384 = pkcs8(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
    assert.throws(
      () => importDeviceKey(ed25519),
      (e) => isDeviceKeyError(e) && /ed25519/.test((e as Error).message),
    );
    assert.throws(
      () => importDeviceKey(secp256k1),
      (e) => isDeviceKeyError(e) && /secp256k1/.test((e as Error).message),
    );
    assert.throws(
      () => importDeviceKey(rsa),
      (e) => isDeviceKeyError(e) && /rsa/.test((e as Error).message),
    );
    assert.throws(() => importDeviceKey(p384), isDeviceKeyError);
    const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    assert.throws(() => importDeviceKey(publicPem), isDeviceKeyError);
    for (const garbage of ['', 'not a key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n']) {
      assert.throws(
        () => importDeviceKey(garbage),
        (e) => isDeviceKeyError(e) && /not a PEM private key/.test((e as Error).message),
      );
    }
  });
});

describe('coordinates', () => {
  test('devicePublicKey gives 32-byte lowercase hex x and y, the same from the private key', () => {
    const pub = devicePublicKey(publicKey);
    assert.match(pub.x, /^0x[0-9a-f]{64}$/);
    assert.match(pub.y, /^0x[0-9a-f]{64}$/);
    assert.deepEqual(devicePublicKey(privateKey), pub);
  });

  test('devicePublicKey keeps leading zero bytes (always 32 bytes)', () => {
    // Find a key whose x starts with a zero byte (1 in 256 keys); bounded so the test stays fast.
    for (let i = 0; i < 4096; i++) {
      const k = generateDeviceKey();
      const pub = devicePublicKey(k.publicKey);
      if (pub.x.startsWith('0x00') || pub.y.startsWith('0x00')) {
        assert.equal(pub.x.length, 66);
        assert.equal(pub.y.length, 66);
        assert.deepEqual(devicePublicKey(publicKeyFromCoordinates(pub)), pub);
        return;
      }
    }
    assert.fail('no key with a leading zero byte in 4096 tries');
  });

  test('devicePublicKey refuses a key on another curve', () => {
    assert.throws(() => devicePublicKey(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey), isDeviceKeyError);
    assert.throws(() => devicePublicKey(generateKeyPairSync('ed25519').publicKey), isDeviceKeyError);
  });

  test('devicePublicKey → publicKeyFromCoordinates round trip gives an equal, working key', () => {
    const pub = devicePublicKey(publicKey);
    const back = publicKeyFromCoordinates(pub);
    assert.equal(back.type, 'public');
    assert.ok(back.equals(publicKey));
    assert.deepEqual(devicePublicKey(back), pub);
    assert.equal(verifyMessage(back, message, signMessage(privateKey, message)), true);
  });

  test('publicKeyFromCoordinates refuses off-curve points and wrong lengths with DeviceKeyError', () => {
    const pub = devicePublicKey(publicKey);
    const flippedY = `0x${hex64(BigInt(pub.y) ^ 1n)}` as Hex;
    assert.throws(
      () => publicKeyFromCoordinates({ x: pub.x, y: flippedY }),
      (e) => isDeviceKeyError(e) && /not a point on P-256/.test((e as Error).message),
    );
    const zero = `0x${'00'.repeat(32)}` as Hex;
    assert.throws(() => publicKeyFromCoordinates({ x: zero, y: zero }), isDeviceKeyError);
    assert.throws(() => publicKeyFromCoordinates({ x: pub.y, y: pub.x }), isDeviceKeyError);
    assert.throws(
      () => publicKeyFromCoordinates({ x: `0x${pub.x.slice(4)}` as Hex, y: pub.y }),
      (e) => isDeviceKeyError(e) && /32 bytes/.test((e as Error).message),
    );
    assert.throws(() => publicKeyFromCoordinates({ x: pub.x, y: `${pub.y}00` as Hex }), isDeviceKeyError);
  });
});

describe('signatures', () => {
  test('signMessage always yields 64-byte low-s r‖s that verifyMessage accepts', () => {
    let sawFlip = false;
    for (let i = 0; i < 300; i++) {
      const msg = randomBytes(1 + (i % 64));
      const sig = signMessage(privateKey, msg);
      assert.match(sig, /^0x[0-9a-f]{128}$/);
      const s = BigInt(`0x${sig.slice(66)}`);
      assert.ok(s > 0n && s <= HALF_N, `s = ${s} is not low`);
      assert.equal(verifyMessage(publicKey, msg, sig), true);
      // node:crypto signs high-s about half the time; check its raw output was normalised at least once.
      const raw = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      if (BigInt(`0x${raw.subarray(32).toString('hex')}`) > HALF_N) sawFlip = true;
    }
    assert.ok(sawFlip, 'node:crypto never produced a high-s signature in 300 tries');
  });

  test('verifyMessage rejects the high-s twin (n − s), though it is a valid ECDSA signature', () => {
    const sig = signMessage(privateKey, message);
    const s = BigInt(`0x${sig.slice(66)}`);
    const twin = `${sig.slice(0, 66)}${hex64(P256_N - s)}` as Hex;
    // The twin verifies as plain ECDSA...
    assert.equal(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(twin.slice(2), 'hex')), true);
    // ...but not as a device signature.
    assert.equal(verifyMessage(publicKey, message, twin), false);
  });

  test('verifyMessage rejects a wrong key, a flipped message bit or a flipped signature bit', () => {
    const sig = signMessage(privateKey, message);
    assert.equal(verifyMessage(other.publicKey, message, sig), false);
    for (const bit of [0, 7, 8 * message.length - 1]) {
      const flipped = Uint8Array.from(message);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(verifyMessage(publicKey, flipped, sig), false, `bit ${bit}`);
    }
    const r = BigInt(sig.slice(0, 66));
    assert.equal(verifyMessage(publicKey, message, `0x${hex64(r ^ 1n)}${sig.slice(66)}` as Hex), false);
    assert.equal(verifyMessage(publicKey, message, `${sig.slice(0, 66)}${hex64(BigInt(`0x${sig.slice(66)}`) ^ 2n)}` as Hex), false);
  });

  test('verifyMessage returns false (never throws) on malformed hex, wrong lengths, zero values or an unusable key', () => {
    const sig = signMessage(privateKey, message);
    const bad = [
      '',
      '0x',
      sig.slice(2), // no 0x
      sig.slice(0, 128), // 63 bytes
      `${sig.slice(0, 128)}zz`, // 64 bytes with two non-hex digits
      `${sig}00`, // 65 bytes
      sig.slice(0, 64 + 2), // r only
      `0x${'0'.repeat(128)}`, // r = s = 0
      `0x${hex64(P256_N)}${hex64(1n)}`, // r = n
      `0x${'g'.repeat(128)}`,
      ` ${sig}`,
    ];
    for (const s of bad) {
      assert.doesNotThrow(() => verifyMessage(publicKey, message, s as Hex));
      assert.equal(verifyMessage(publicKey, message, s as Hex), false, JSON.stringify(s));
    }
    // A key of the wrong type makes node:crypto throw; verifyMessage must still just say no.
    const ed = generateKeyPairSync('ed25519').publicKey;
    assert.equal(verifyMessage(ed, message, sig), false);
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    assert.equal(verifyMessage(k1, message, sig), false);
  });

  test('signP256 returns the r and s of a low-s signature, for hex or byte messages', () => {
    const digest = keccak256(message);
    const fromHex = signP256(privateKey, digest);
    const fromBytes = signP256(privateKey, Buffer.from(digest.slice(2), 'hex'));
    for (const { r, s } of [fromHex, fromBytes]) {
      assert.match(r, /^0x[0-9a-f]{64}$/);
      assert.match(s, /^0x[0-9a-f]{64}$/);
      assert.ok(BigInt(s) <= HALF_N);
      const bytes = Buffer.from(digest.slice(2), 'hex');
      assert.equal(verifyMessage(publicKey, bytes, concat([r, s])), true);
      // The message is the hex's bytes, not its text.
      assert.equal(verifyMessage(publicKey, new TextEncoder().encode(digest), concat([r, s])), false);
    }
  });
});

describe('device ids', () => {
  test('deviceIdOf is keccak256(abi.encode(x, y)), computed independently with viem', () => {
    for (let i = 0; i < 5; i++) {
      const pub = devicePublicKey(generateDeviceKey().publicKey);
      const packed = BigInt(keccak256(concat([pub.x, pub.y])));
      const asUints = BigInt(keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'uint256' }], [BigInt(pub.x), BigInt(pub.y)])));
      assert.equal(deviceIdOf(pub), packed);
      assert.equal(deviceIdOf(pub), asUints);
    }
    // A fixed vector, so a change of encoding is caught even if viem's helpers changed alike.
    const fixed = { x: `0x${'11'.repeat(32)}` as Hex, y: `0x${'22'.repeat(32)}` as Hex };
    assert.equal(deviceIdOf(fixed), BigInt(keccak256(`0x${'11'.repeat(32)}${'22'.repeat(32)}`)));
  });

  test('deviceIdOf differs when x and y are swapped', () => {
    const pub = devicePublicKey(publicKey);
    assert.notEqual(deviceIdOf(pub), deviceIdOf({ x: pub.y, y: pub.x }));
  });

  test('deviceIdHex pads to 64 lowercase hex digits', () => {
    assert.equal(deviceIdHex(0n), `0x${'0'.repeat(64)}`);
    assert.equal(deviceIdHex(1n), `0x${'0'.repeat(63)}1`);
    assert.equal(deviceIdHex(0xabcn), `0x${'0'.repeat(61)}abc`);
    assert.equal(deviceIdHex(2n ** 256n - 1n), `0x${'f'.repeat(64)}`);
    const id = deviceIdOf(devicePublicKey(publicKey));
    const hex = deviceIdHex(id);
    assert.match(hex, /^0x[0-9a-f]{64}$/);
    assert.equal(BigInt(hex), id);
  });

  test('the same key always gives the same id (via PEM and via coordinates)', () => {
    const pub = devicePublicKey(publicKey);
    const viaPem = devicePublicKey(createPublicKey(importDeviceKey(exportDeviceKey(privateKey))));
    assert.equal(deviceIdOf(viaPem), deviceIdOf(pub));
  });
});
