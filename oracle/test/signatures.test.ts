// The signature pool ingest checks device signatures on: the same answers as verifyMessage, in
// order, across workers; a worker that dies fails its pending calls and is replaced.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { Hex } from 'viem';
import { deviceIdHex, deviceIdOf, devicePublicKey, generateDeviceKey, P256_N, signMessage, verifyMessage } from '@groundwork/protocol';
import { SignaturePool, SignatureWorkerError, type SignatureCheck } from '../src/signatures.ts';

const devices = Array.from({ length: 5 }, () => {
  const { privateKey, publicKey } = generateDeviceKey();
  const { x, y } = devicePublicKey(publicKey);
  return { privateKey, publicKey, device: deviceIdHex(deviceIdOf({ x, y })), keyX: x, keyY: y };
});

/** n checks, each valid or broken in one of four ways; `expected` is what verifyMessage says. */
function checks(n: number): { list: SignatureCheck[]; expected: boolean[] } {
  const list: SignatureCheck[] = [];
  const expected: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const d = devices[i % devices.length]!;
    const message = randomBytes(100 + (i % 200));
    let sig = signMessage(d.privateKey, message);
    const kind = i % 5;
    if (kind === 1) sig = `${sig.slice(0, 66)}${(P256_N - BigInt(`0x${sig.slice(66)}`)).toString(16).padStart(64, '0')}` as Hex; // high-s twin
    if (kind === 2) sig = signMessage(devices[(i + 1) % devices.length]!.privateKey, message); // another device's key
    if (kind === 3) sig = '0x1234';
    const check: SignatureCheck = { device: d.device, keyX: d.keyX, keyY: d.keyY, message, sig };
    if (kind === 4) check.message = Uint8Array.from(message, (b, j) => (j === 0 ? b ^ 1 : b)); // a flipped bit
    list.push(check);
    expected.push(verifyMessage(d.publicKey, check.message, sig));
  }
  return { list, expected };
}

describe('SignaturePool', () => {
  const pool = new SignaturePool(2);
  after(() => pool.close());

  test('agrees with verifyMessage on every check, in order, split over two workers', async () => {
    await pool.start();
    const { list, expected } = checks(500);
    assert.deepEqual(expected.filter(Boolean).length, 100); // only the unbroken fifth verify
    assert.deepEqual(await pool.verify(list), expected);
    assert.deepEqual(await pool.verify(list.slice(0, 7)), expected.slice(0, 7)); // small calls go to one worker
    assert.deepEqual(await pool.verify([]), []);
  });

  test('a worker that dies fails its pending calls with SignatureWorkerError; the next call gets a new worker', async () => {
    const { list, expected } = checks(2000);
    // Both workers are held busy, so the call is certainly pending when they die.
    const release = [await pool.holdWorker(0), await pool.holdWorker(1)];
    const refused = assert.rejects(
      pool.verify(list),
      (e) => e instanceof SignatureWorkerError && /signature worker stopped/.test((e as Error).message),
    );
    await pool.crashWorker(0);
    await pool.crashWorker(1);
    await refused;
    for (const r of release) r();
    assert.deepEqual(await pool.verify(list), expected);
  });

  test('refuses a bad size; a closed pool refuses calls', async () => {
    assert.throws(() => new SignaturePool(0), RangeError);
    assert.throws(() => new SignaturePool(1.5), RangeError);
    const closed = new SignaturePool(1);
    await closed.start();
    await closed.close();
    await assert.rejects(closed.verify(checks(1).list), (e) => e instanceof SignatureWorkerError && /closed/.test((e as Error).message));
  });
});
