// The devnet's storage consumer: once an epoch it stores a new file (random bytes, encrypted,
// 4-of-8, an hour's deal), waits until every shard is stored, reads back the file before it and
// checks it byte for byte, and ends its oldest deal when it keeps more than `keep` (the final
// settlement pays the proven epochs and refunds the rest). Each file goes to the log and to `files`.
import { randomBytes } from 'node:crypto';
import { devnetAccounts } from '@groundwork/contracts';
import type { Hex } from 'viem';
import { sleep } from './render-consumer.ts';
import type { Testnet } from './testnet.ts';

/** The account the storage consumer pays from (devnet account 5: the rendering consumer is 4). */
export const STORAGE_CONSUMER_ACCOUNT = 5;

export type StoredFileSummary = { cid: string; dealId: Hex; bytes: number; cost: string; readBack: boolean | null; seconds: number };

export type StorageConsumer = { files: StoredFileSummary[]; stop(): Promise<void> };

export type StorageConsumerOptions = {
  net: Testnet;
  /** Bytes of each file (default 256 KiB). */
  bytes?: number;
  /** Least milliseconds from one file's start to the next's. */
  intervalMs: number;
  /** Deals kept open at most (default 3). */
  keep?: number;
  log?: (line: string) => void;
};

export function startStorageConsumer(o: StorageConsumerOptions): StorageConsumer {
  const log = o.log ?? (() => {});
  const files: StoredFileSummary[] = [];
  const held: { dealId: Hex; cid: string; bytes: Uint8Array; key: Hex | null }[] = [];
  let stopped = false;
  const controller = new AbortController();
  const loop = (async () => {
    const { StorageClient } = await import('@groundwork/network-storage/client');
    const client = new StorageClient({
      oracleUrl: o.net.oracle!.url,
      rpcUrl: o.net.rpcUrl,
      deployment: o.net.deployment,
      privateKey: devnetAccounts(STORAGE_CONSUMER_ACCOUNT).privateKey,
    });
    for (let n = 1; !stopped; n++) {
      const started = performance.now();
      try {
        const bytes = new Uint8Array(randomBytes(o.bytes ?? 256 * 1024));
        const put = await client.put(bytes, { duration: 3600, buyCredits: true, name: `devnet-${n}.bin` });
        await client.waitStored(put.dealId, 60_000);
        const previous = held.at(-1);
        let readBack: boolean | null = null;
        if (previous) {
          const back = await client.get(previous.dealId, { key: previous.key, buyCredits: true });
          readBack = Buffer.from(back.bytes).equals(Buffer.from(previous.bytes));
        }
        held.push({ dealId: put.dealId, cid: put.cid, bytes, key: put.key });
        while (held.length > (o.keep ?? 3)) await client.rm(held.shift()!.dealId);
        const summary = {
          cid: put.cid,
          dealId: put.dealId,
          bytes: bytes.length,
          cost: put.cost.toString(),
          readBack,
          seconds: Math.round((performance.now() - started) / 100) / 10,
        };
        files.push(summary);
        log(
          `storage file ${n} · ${put.cid} · ${bytes.length} bytes in ${put.layout.n} shards (${put.layout.k} rebuild it) · ${summary.cost} credits escrowed` +
            (previous ? ` · file ${n - 1} read back ${readBack ? 'byte-identical' : 'DIFFERENT'}` : ''),
        );
      } catch (err) {
        if (stopped) break;
        // A failed round (the chain or the oracle restarting, say) is logged; the next one starts on time.
        log(`storage file ${n} failed: ${(err as Error).message.split('\n')[0]}`);
      }
      const wait = o.intervalMs - (performance.now() - started);
      if (wait > 0 && !stopped) await sleep(wait, controller.signal);
    }
  })().catch((err: Error) => {
    if (!stopped) log(`storage consumer stopped: ${err.message.split('\n')[0]}`);
  });
  return {
    files,
    async stop() {
      stopped = true;
      controller.abort();
      await loop;
    },
  };
}
