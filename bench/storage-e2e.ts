/**
 * Benchmark: upload and download MB/s of a file through a devnet's storage network, against a
 * plain copy of the same file on the same disk, in one run.
 *
 *   node --import tsx bench/storage-e2e.ts [--mib N] [--json]
 *
 * Baseline: the file written to a temp directory and copied (fs.copyFile) on the same disk, then
 * read back; MB/s of each. Network: a fresh devnet (startTestnet: anvil, the contracts, the
 * oracle) with 8 storage providers of 8 owners, each with its own shard server and directory on
 * this disk, all in this process. Upload = StorageClient.put (encrypt, 4-of-8 erasure code,
 * commitments, the deal opened on chain, registration, eight shard uploads over loopback HTTP,
 * each streamed to disk, hashed and fsynced) until every provider reported its shard stored;
 * download = StorageClient.get (the chain's commitment, four shards fetched in parallel, each
 * re-hashed against its root, decrypted and checked against the CID). MB/s are of the file's own
 * bytes (the network writes twice that, the code's expansion). Defaults: 64 MiB. Exits 1 if the
 * file does not come back byte-identical.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { devnetAccounts } from '@groundwork/contracts';
import { StorageClient } from '@groundwork/network-storage/client';
import { type StorageWorker, storageWorker } from '@groundwork/network-storage/plugin';
import { DEVNET_STORAGE_PRICE, startTestnet } from '@groundwork/sim';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '64' }, json: { type: 'boolean', default: false } } });
const MIB = Number(values.mib);
if (!Number.isInteger(MIB) || MIB < 1 || MIB > 1024) throw new RangeError('--mib must be from 1 to 1024');
const log = (s: string) => process.stderr.write(`${s}\n`);
const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-storage-'));
const bytes = new Uint8Array(randomBytes(MIB * 2 ** 20));
const mb = bytes.length / 1e6;
const seconds = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

// Baseline: a plain copy on the same disk.
const src = path.join(dir, 'file.bin');
writeFileSync(src, bytes);
let t = process.hrtime.bigint();
copyFileSync(src, path.join(dir, 'copy.bin'));
const copySeconds = seconds(t);
t = process.hrtime.bigint();
const back = readFileSync(path.join(dir, 'copy.bin'));
const readSeconds = seconds(t);
if (back.length !== bytes.length) throw new Error('the copy is short');

const workers: StorageWorker[] = [];
const net = await startTestnet({
  devices: 8,
  epochSeconds: 30,
  networks: [
    { kind: 'uptime', weight: 1n },
    { kind: 'storage', weight: 1n, storagePrice: DEVNET_STORAGE_PRICE },
  ],
  network: () => 'storage',
  worker: (i) => {
    workers[i] = storageWorker({ dir: path.join(dir, `provider-${i}`) });
    return workers[i];
  },
});
let ok = false;
let result: Record<string, unknown> = {};
try {
  const client = new StorageClient({
    oracleUrl: net.oracle!.url,
    rpcUrl: net.rpcUrl,
    deployment: net.deployment,
    privateKey: devnetAccounts(0).privateKey,
  });
  log(`uploading ${MIB} MiB through 8 storage providers ...`);
  t = process.hrtime.bigint();
  const put = await client.put(bytes, { duration: 3600, buyCredits: true });
  await client.waitStored(put.dealId, 300_000);
  const upSeconds = seconds(t);
  log(`downloading ...`);
  t = process.hrtime.bigint();
  const got = await client.get(put.dealId, { key: put.key, buyCredits: true });
  const downSeconds = seconds(t);
  ok = Buffer.from(got.bytes).equals(Buffer.from(bytes));
  result = {
    mib: MIB,
    code: `${put.layout.k}-of-${put.layout.n}`,
    copy: { mbPerSecond: mb / copySeconds, readMbPerSecond: mb / readSeconds },
    upload: { mbPerSecond: mb / upSeconds, ratio: copySeconds / upSeconds },
    download: { mbPerSecond: mb / downSeconds, ratio: readSeconds / downSeconds },
    identical: ok,
  };
} finally {
  await net.stop();
  for (const w of workers) await w?.close();
  rmSync(dir, { recursive: true, force: true });
}
if (values.json) console.log(JSON.stringify(result));
else {
  const r = result as {
    copy: { mbPerSecond: number; readMbPerSecond: number };
    upload: { mbPerSecond: number; ratio: number };
    download: { mbPerSecond: number; ratio: number };
  };
  log(`plain copy on this disk: ${r.copy.mbPerSecond.toFixed(0)} MB/s, read ${r.copy.readMbPerSecond.toFixed(0)} MB/s`);
  log(`upload through the network: ${r.upload.mbPerSecond.toFixed(1)} MB/s (${r.upload.ratio.toFixed(3)} of the copy)`);
  log(
    `download through the network: ${r.download.mbPerSecond.toFixed(1)} MB/s (${r.download.ratio.toFixed(3)} of the read); identical: ${ok}`,
  );
}
process.exit(ok ? 0 : 1);
