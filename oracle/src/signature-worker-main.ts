// A SignaturePool worker thread: verifies the signatures of each request it is sent with
// protocol's verifyMessage, keeping one public key object per device it has been told about.
import type { KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { publicKeyFromCoordinates, verifyMessage } from '@groundwork/protocol';
import type { Hex } from 'viem';
import type { VerifyRequest, VerifyResponse } from './signatures.ts';

const keys = new Map<string, KeyObject>();

function handle(r: VerifyRequest): VerifyResponse {
  for (const [device, x, y] of r.keys) keys.set(device, publicKeyFromCoordinates({ x: x as Hex, y: y as Hex }));
  const ok = new Uint8Array(r.devices.length);
  for (let i = 0, start = 0; i < r.devices.length; start = r.ends[i]!, i++) {
    const key = keys.get(r.devices[i]!);
    if (!key) return { id: r.id, error: `no key for device ${r.devices[i]}` };
    ok[i] = verifyMessage(key, r.messages.subarray(start, r.ends[i]), r.sigs[i] as Hex) ? 1 : 0;
  }
  return { id: r.id, ok };
}

parentPort!.on('message', (r: VerifyRequest | { hold: SharedArrayBuffer }) => {
  if ('hold' in r) {
    // Test hook (SignaturePool.holdWorker): stay busy until released, so a request sent meanwhile
    // is certainly still pending when the test kills this worker. A spin, not Atomics.wait, so
    // that terminate() can interrupt it.
    const flag = new Int32Array(r.hold);
    while (Atomics.load(flag, 0) === 0) {}
    return;
  }
  let answer: VerifyResponse;
  try {
    answer = handle(r);
  } catch (err) {
    answer = { id: r.id, error: (err as Error).message };
  }
  parentPort!.postMessage(answer, 'ok' in answer ? [answer.ok.buffer as ArrayBuffer] : []);
});

parentPort!.postMessage('ready');
