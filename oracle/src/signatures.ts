// Device signature checks for ingest, on worker threads. The event loop parses, encodes and
// stores; the workers verify. Each call hands a worker all of its signatures in one message (the
// signing bytes packed in one buffer) and gets one answer back, so a batch of 200 reports costs
// the event loop one message each way, not 200 thread-pool jobs and 200 promise settlements.
// A worker learns each device's public key once (a device id is the hash of its key, so the key
// behind an id never changes).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Hex } from 'viem';

export type SignatureCheck = { device: Hex; keyX: Hex; keyY: Hex; message: Uint8Array; sig: Hex };

/** What the event loop posts to a worker. */
export type VerifyRequest = {
  id: number;
  /** Keys this worker has not been given before: [device, x, y]. */
  keys: [string, string, string][];
  devices: string[];
  /** Every message's signing bytes, back to back; message i ends at ends[i]. */
  messages: Uint8Array;
  ends: Uint32Array;
  sigs: string[];
};
/** A worker's answer: ok[i] is 1 if signature i verifies. */
export type VerifyResponse = { id: number; ok: Uint8Array } | { id: number; error: string };

export class SignatureWorkerError extends Error {
  override name = 'SignatureWorkerError';
}

/** Worker threads for ingest's signature checks: min(4, cores − 1), at least 1. */
export function defaultVerifyThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

type Slot = {
  worker: Worker;
  /** Settles when the worker has loaded its code (it says so with a `ready` message). */
  ready: Promise<void>;
  knownKeys: Set<string>;
  pending: Map<number, { resolve: (ok: Uint8Array) => void; reject: (err: Error) => void }>;
};

/**
 * A pool of worker threads that check P-256 device signatures (protocol's verifyMessage: 64-byte
 * low-s r‖s over the signing bytes). A worker that dies fails its pending calls with a
 * SignatureWorkerError and is replaced on the next call.
 */
export class SignaturePool {
  private readonly slots: (Slot | null)[];
  private nextId = 1;
  private turn = 0;
  private closed = false;

  constructor(readonly size = defaultVerifyThreads()) {
    if (!Number.isInteger(size) || size < 1 || size > 64) throw new RangeError(`verify threads must be an integer in 1..64, got ${size}`);
    this.slots = Array.from({ length: size }, () => null);
  }

  /**
   * Starts every worker and resolves once each has loaded its code (about a second), so that the
   * first reports do not wait for it. Rejects if a worker cannot start.
   */
  async start(): Promise<void> {
    for (let i = 0; i < this.slots.length; i++) this.slots[i] ??= this.spawn(i);
    await Promise.all(this.slots.map((slot) => slot!.ready));
  }

  /** Verifies every check; resolves with one boolean per check, in order. */
  async verify(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    if (this.closed) throw new SignatureWorkerError('the signature pool is closed');
    if (!checks.length) return [];
    // Split across the workers only when each part is worth a message.
    const parts = Math.max(1, Math.min(this.size, Math.floor(checks.length / 32)));
    const per = Math.ceil(checks.length / parts);
    const answers = await Promise.all(Array.from({ length: parts }, (_, p) => this.send(checks.slice(p * per, (p + 1) * per))));
    const out: boolean[] = [];
    for (const ok of answers) for (const v of ok) out.push(v === 1);
    return out;
  }

  private send(checks: readonly SignatureCheck[]): Promise<Uint8Array> {
    const index = this.turn++ % this.size;
    const slot = this.slots[index] ?? this.spawn(index);
    this.slots[index] = slot;
    const keys: VerifyRequest['keys'] = [];
    let length = 0;
    for (const c of checks) {
      length += c.message.length;
      if (!slot.knownKeys.has(c.device)) {
        slot.knownKeys.add(c.device);
        keys.push([c.device, c.keyX, c.keyY]);
      }
    }
    const messages = new Uint8Array(length);
    const ends = new Uint32Array(checks.length);
    let at = 0;
    checks.forEach((c, i) => {
      messages.set(c.message, at);
      ends[i] = at += c.message.length;
    });
    const id = this.nextId++;
    const request: VerifyRequest = { id, keys, devices: checks.map((c) => c.device), messages, ends, sigs: checks.map((c) => c.sig) };
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(request, [messages.buffer, ends.buffer]);
    });
  }

  private spawn(index: number): Slot {
    const worker = new Worker(new URL('./signature-worker.mjs', import.meta.url));
    worker.unref(); // an idle pool never keeps the process alive
    let started!: { resolve: () => void; reject: (err: Error) => void };
    const ready = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
    ready.catch(() => {}); // a call that never awaits it must not leave an unhandled rejection
    const slot: Slot = { worker, ready, knownKeys: new Set(), pending: new Map() };
    worker.on('message', (m: VerifyResponse | 'ready') => {
      if (m === 'ready') return started.resolve();
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if ('error' in m) p.reject(new SignatureWorkerError(`signature worker: ${m.error}`));
      else p.resolve(m.ok);
    });
    const fail = (why: string) => {
      started.reject(new SignatureWorkerError(`signature worker could not start: ${why}`));
      if (this.slots[index] === slot) this.slots[index] = null;
      for (const p of slot.pending.values()) p.reject(new SignatureWorkerError(`signature worker stopped: ${why}`));
      slot.pending.clear();
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    return slot;
  }

  /** Stops the workers; pending calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s?.worker.terminate()));
  }

  /**
   * Test hook: keeps worker `index` busy until the returned function is called, so that what is
   * sent to it meanwhile stays pending.
   */
  async holdWorker(index = 0): Promise<() => void> {
    const slot = this.slots[index] ?? this.spawn(index);
    this.slots[index] = slot;
    await slot.ready;
    const flag = new SharedArrayBuffer(4);
    slot.worker.postMessage({ hold: flag });
    return () => {
      Atomics.store(new Int32Array(flag), 0, 1);
    };
  }

  /** Test hook: stops worker `index` abruptly, as a crash would. */
  async crashWorker(index = 0): Promise<void> {
    await this.slots[index]?.worker.terminate();
  }
}
