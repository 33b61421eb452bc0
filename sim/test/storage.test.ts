// The storage network through the devnet harness on a real chain: ten storage providers of ten
// owners, each a real agent with its own shard server and disk. Files from empty to 8 MiB (100 MiB
// with GROUNDWORK_LARGE=1) go in as encrypted 4-of-8 deals and come back byte-identical; every
// stored shard is challenged each epoch and the closed epochs verify from their artifacts; a
// provider that deletes a shard is caught by its proofs, slashed for the lost shard, and the shard
// is rebuilt on another provider; with n − k providers gone a file still reads; a corrupted shard is refused at read and
// fails its proof (a signed wrong answer, slashed); a terminated deal settles so that escrowed =
// released for proven shard-epochs + refunded.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeDeploymentFile } from '@groundwork/contracts';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bytesToHex, type Hex, keccak256, parseEventLogs, toBytes } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { CreditEscrowAbi, devnetAccounts, ServiceCreditsAbi, StorageDealsAbi } from '@groundwork/contracts';
import { encodeOrderHeader, ORDER_HEADER, type Order, orderDomain, retrievalCredits, signOrder } from '@groundwork/network-storage';
import { StorageClient } from '@groundwork/network-storage/client';
import { DEFAULT_STORAGE_PARAMETERS, type ChallengeRow, type StorageWorker, storageWorker } from '@groundwork/network-storage/plugin';
import { startTestnet, type Testnet } from '@groundwork/sim';
import { main, type Io } from '../../cli/src/index.ts';
import http from 'node:http';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startGateway } from '@groundwork/network-storage/gateway';

const execFileAsync = promisify(execFile);
const PROVIDERS = 10;
const MiB = 2 ** 20;
const LARGE = process.env.GROUNDWORK_LARGE === '1';
// A thousandth of a credit per byte-second: the 300 KiB file's shard-epochs earn hundreds of
// credits, and the 100 MiB file's deal stays under the credits' mint circuit breaker.
const PRICE = 10n ** 15n;

describe('storage network: deals, proofs, repair, retrieval', () => {
  let net: Testnet;
  let dir: string;
  let client: StorageClient;
  const workers: StorageWorker[] = [];
  const logLines: string[] = [];
  const stored = new Map<string, { bytes: Uint8Array; key: Hex | null }>();

  async function until<T>(what: string, fn: () => Promise<T | false>, ms = 60_000, seen?: () => Promise<string>): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v !== false) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}${seen ? `; seen: ${await seen()}` : ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function challengeRows(deal: string): Promise<ChallengeRow[]> {
    const rows = await net.oracle!.db.query<{ input: string }>("select input from oracle_inputs where network = 'storage'");
    return rows.map((r) => JSON.parse(r.input) as ChallengeRow).filter((r) => r.deal === deal);
  }

  /** The registry's slashes of `device` for `amount` (the kind of finding is told by its amount). */
  async function slashesOf(device: string, amount: string) {
    return (await net.slashes(device as Hex)).filter((e) => e.args.requested === BigInt(amount));
  }

  /** The rows of the first epoch after `after` in which all 8 shards of `deal` passed, or false. */
  async function fullyProvenEpoch(deal: string, after = -1): Promise<ChallengeRow[] | false> {
    const passed = (await challengeRows(deal)).filter((r) => r.epoch > after && r.outcome === 'passed');
    const epochs = [...new Set(passed.map((r) => r.epoch))].sort((a, b) => a - b);
    const full = epochs.find((e) => new Set(passed.filter((r) => r.epoch === e).map((r) => r.shard)).size === 8);
    return full === undefined ? false : passed.filter((r) => r.epoch === full);
  }

  const providerOf = (device: string | null) => net.providers.findIndex((p) => p.device === device);
  const shardFile = (i: number, deal: string, shard: number) => path.join(workers[i]!.store()!.dir, deal, `${shard}.shard`);

  async function put(size: number, o: { segmentBytes?: number; encrypt?: boolean; name?: string } = {}) {
    const bytes = new Uint8Array(randomBytes(size));
    const r = await client.put(bytes, { duration: 3600, buyCredits: true, ...o });
    await client.waitStored(r.dealId);
    stored.set(r.dealId, { bytes, key: r.key });
    return r;
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gw-storage-'));
    net = await startTestnet({
      devices: PROVIDERS,
      epochSeconds: 5,
      // On disk, so that the oracle's restart below resumes from its database.
      dataDir: path.join(dir, 'net'),
      networks: [
        { kind: 'uptime', weight: 1n },
        { kind: 'storage', weight: 1n, storagePrice: PRICE },
      ],
      network: () => 'storage',
      slashWindow: 1,
      log: (line) => {
        logLines.push(line);
        if (process.env.GW_TEST_LOG) console.error(line);
      },
      // The default parameters: two faults in a row make a shard lost, so one proof that came late
      // on a loaded machine does not move it, and the deadline is 4 s of the 5 s epoch.
      oracle: { parameters: { storage: DEFAULT_STORAGE_PARAMETERS } },
      worker: (i) => {
        workers[i] = storageWorker({ dir: path.join(dir, `provider-${i}`) });
        return workers[i];
      },
    });
    client = new StorageClient({
      oracleUrl: net.oracle!.url,
      rpcUrl: net.rpcUrl,
      deployment: net.deployment,
      privateKey: devnetAccounts(0).privateKey,
    });
  });
  after(async () => {
    await net?.stop();
    for (const w of workers) await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('files from empty to 8 MiB round-trip byte-identical, each shard on a different owner', async () => {
    const sizes = [0, 1, 8191, 300 * 1024 + 7, 8 * MiB, ...(LARGE ? [100 * MiB] : [])];
    for (const size of sizes) {
      const r = await put(size, { segmentBytes: size > MiB ? MiB : 64 * 1024, name: `file-${size}` });
      const owners = new Set(r.status.shards.map((s) => net.providers[providerOf(s.device)]!.owner));
      assert.equal(owners.size, 8, `size ${size}: 8 shards on 8 owners`);
      const back = await client.get(r.cid, { key: r.key, buyCredits: true });
      assert.ok(Buffer.from(back.bytes).equals(Buffer.from(stored.get(r.dealId)!.bytes)), `size ${size} reads back byte-identical`);
      assert.deepEqual(back.fetched, [0, 1, 2, 3], 'an intact file is read from its data shards');
      assert.match(r.cid, /^bafkrei/, 'a CIDv1 of the raw bytes');
    }
    const plain = await put(5000, { encrypt: false });
    assert.equal(plain.key, null);
    assert.ok(
      Buffer.from((await client.get(plain.dealId, { buyCredits: true })).bytes).equals(Buffer.from(stored.get(plain.dealId)!.bytes)),
    );
    await assert.rejects(client.get(stored.keys().next().value!), /no-key|encrypted: give its key/);
  });

  test('the CLI: put, ls, status, get and rm, with the file key kept in the keyring', async () => {
    const cli = async (args: string[]) => {
      let out = '';
      let err = '';
      const io: Io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {} };
      return { code: await main(args, io), out, err };
    };
    const deploymentFile = path.join(dir, 'deployment.json');
    writeDeploymentFile(deploymentFile, net.deployment);
    const chain = ['--oracle', net.oracle!.url, '--deployment', deploymentFile, '--rpc', net.rpcUrl, '--key', devnetAccounts(0).privateKey];
    const keyring = path.join(dir, 'keys.json');
    const file = path.join(dir, 'photo.bin');
    const bytes = randomBytes(100_000);
    writeFileSync(file, bytes);
    const put = await cli([
      'storage',
      'put',
      file,
      ...chain,
      '--duration',
      '1h',
      '--redundancy',
      '3-of-6',
      '--buy-credits',
      '--keyring',
      keyring,
      '--json',
    ]);
    assert.equal(put.code, 0, put.err);
    const r = JSON.parse(put.out) as { cid: string; dealId: string };
    assert.match(put.err, /uploaded \d+ of \d+ bytes/, 'progress on stderr');
    assert.ok((JSON.parse(readFileSync(keyring, 'utf8')) as Record<string, { key: string }>)[r.dealId]!.key.startsWith('0x'));
    await client.waitStored(r.dealId);
    const ls = await cli(['storage', 'ls', ...chain]);
    assert.match(ls.out, new RegExp(`${r.cid} .*photo\\.bin`));
    const status = await cli(['storage', 'status', r.cid, ...chain]);
    assert.equal(status.code, 0, status.err);
    assert.match(status.out, /6 of 6 healthy/);
    assert.match(status.out, /durability +\d+\.\d nines/);
    const out = path.join(dir, 'photo.back');
    const get = await cli(['storage', 'get', r.cid, ...chain, '--keyring', keyring, '--out', out, '--buy-credits']);
    assert.equal(get.code, 0, get.err);
    assert.ok(readFileSync(out).equals(bytes), 'the CLI reads it back byte-identical');
    assert.match(get.err, /paid 3 credits for the read \(allowance 0x[0-9a-f]{64}, cancelled/, 'three shards read, a credit each');
    const noKey = await cli(['storage', 'get', r.cid, ...chain, '--keyring', path.join(dir, 'empty.json'), '--out', out]);
    assert.equal(noKey.code, 1);
    assert.match(noKey.err, /encrypted: give its key/);
    const rm = await cli(['storage', 'rm', r.dealId, ...chain, '--json']);
    assert.equal(rm.code, 0, rm.err);
    assert.equal((JSON.parse(rm.out) as { dealId: string }).dealId, r.dealId);
  });

  test('reads are paid: each shard request carries a signed order the oracle takes and pays once, and the allowance settles per device', async () => {
    const deal = [...stored.keys()][3]! as Hex; // the 300 KiB file
    const consumer = privateKeyToAccount(devnetAccounts(0).privateKey);
    const reader = new StorageClient({
      oracleUrl: net.oracle!.url,
      rpcUrl: net.rpcUrl,
      deployment: net.deployment,
      privateKey: devnetAccounts(0).privateKey,
      allowanceReads: 2,
    });
    const back = await reader.get(deal, { key: stored.get(deal)!.key, buyCredits: true });
    assert.ok(Buffer.from(back.bytes).equals(Buffer.from(stored.get(deal)!.bytes)));
    const { status } = back;
    const perShard = retrievalCredits(status.shardBytes, DEFAULT_STORAGE_PARAMETERS.retrievalCreditsPerGB);
    assert.equal(status.retrievalCreditsPerGB, 700);
    assert.equal(back.paid, perShard * 4n, 'one order per shard read');
    const allowance = reader.currentAllowance()!;
    assert.equal(allowance.credits, perShard * 8n * 2n, 'sized for two reads of every shard');
    const view = async (id: Hex) =>
      (await (await fetch(`${net.oracle!.url}/v1/storage/allowances/${id}`)).json()) as { orders: number; reserved: string; state: string };
    assert.deepEqual(
      { orders: (await view(allowance.id)).orders, reserved: (await view(allowance.id)).reserved },
      { orders: 4, reserved: (perShard * 4n).toString() },
    );
    const jobOf = async (id: Hex) =>
      (await net.client.readContract({
        address: net.deployment.addresses.escrow!,
        abi: CreditEscrowAbi,
        functionName: 'job',
        args: [id],
      })) as { status: number; escrowed: bigint; burned: bigint; refunded: bigint; seq: bigint };
    // Still open: once the epoch of the read has ended, its orders are settled.
    const interim = await until('the settlement of the read’s epoch', async () => {
      const j = await jobOf(allowance.id);
      return j.seq >= 1n && j;
    });
    assert.deepEqual([interim.status, interim.burned], [1, perShard * 4n], 'the allowance stays open; the four orders are paid');

    // Orders straight to a provider's shard server: only a good one gets bytes, and is paid once.
    const s0 = status.shards[0]!;
    const domain = orderDomain(net.deployment.chainId, net.deployment.addresses.escrow!);
    const order = (over: Partial<Order> = {}): Order => ({
      allowance: allowance.id,
      deal,
      shard: 0,
      device: s0.device as Hex,
      offset: 0,
      length: status.shardBytes,
      credits: perShard.toString(),
      serial: bytesToHex(randomBytes(32)),
      ...over,
    });
    const header = async (o: Order, signer = consumer) => ({ [ORDER_HEADER]: encodeOrderHeader(await signOrder(signer, domain, o)) });
    const read = (headers: Record<string, string>) => fetch(`${s0.url}shards/${deal}/0`, { headers });
    const refusal = async (res: Response) => [res.status, ((await res.json()) as { error: string }).error];
    assert.deepEqual(await refusal(await read({})), [402, 'order-required']);
    assert.deepEqual(await refusal(await read({ [ORDER_HEADER]: 'bm90IGFuIG9yZGVy' })), [400, 'malformed-order']);
    const stranger = privateKeyToAccount(devnetAccounts(1).privateKey);
    assert.deepEqual(await refusal(await read(await header(order(), stranger))), [403, 'wrong-signer']);
    assert.deepEqual(await refusal(await read(await header(order({ shard: 1 })))), [403, 'wrong-order']);
    assert.deepEqual(
      await refusal(await read(await header(order({ length: 100 })))),
      [403, 'wrong-order'],
      'it covers 100 bytes, not the shard',
    );
    assert.deepEqual(await refusal(await read(await header(order({ credits: '0' })))), [402, 'underpriced']);
    const ranged = await fetch(`${s0.url}shards/${deal}/0`, {
      headers: { ...(await header(order({ length: 100 }))), range: 'bytes=0-99' },
    });
    assert.equal(ranged.status, 206);
    assert.equal((await ranged.arrayBuffer()).byteLength, 100, 'an order for 100 bytes reads 100 bytes');
    const good = await header(order());
    const first = await read(good);
    assert.equal(first.status, 200);
    assert.equal((await first.arrayBuffer()).byteLength, status.shardBytes);
    const again = await read(good);
    assert.equal(again.status, 200, 'the same order shown again is served again…');
    await again.body?.cancel();
    const orders = 4 + 2;
    assert.deepEqual(
      [(await view(allowance.id)).orders, (await view(allowance.id)).reserved],
      [orders, (perShard * BigInt(orders)).toString()],
      '…and paid once; refused orders reserve nothing',
    );
    // A signature that is not one at all: refused by the oracle, so the provider sends nothing.
    const unsigned = encodeOrderHeader({ ...(await signOrder(consumer, domain, order())), signature: `0x${'00'.repeat(65)}` });
    assert.deepEqual(await refusal(await read({ [ORDER_HEADER]: unsigned })), [400, 'bad-signature']);

    // Cancelled: the final settlement pays each device its orders and refunds the rest.
    await reader.closeAllowance();
    const job = await until('the allowance’s final settlement', async () => {
      const j = await jobOf(allowance.id);
      return j.status === 3 && j;
    });
    const rows = await net.oracle!.db.query<{ device: string; credits: string }>(
      'select device, credits from storage_orders where allowance = $1',
      [allowance.id],
    );
    const owed = new Map<string, bigint>();
    for (const r of rows) owed.set(r.device, (owed.get(r.device) ?? 0n) + BigInt(r.credits));
    assert.equal(job.burned, perShard * BigInt(orders), 'burned: what the orders the oracle took are worth');
    assert.equal(job.escrowed, job.burned + job.refunded, 'escrowed = paid + refunded');
    const settled = await net.client.getContractEvents({
      address: net.deployment.addresses.escrow!,
      abi: CreditEscrowAbi,
      eventName: 'JobSettled',
      args: { jobId: allowance.id },
      fromBlock: 0n,
    });
    const txs = new Set(settled.map((e) => e.transactionHash));
    const logs = await net.client.getLogs({ address: net.deployment.addresses.credits, fromBlock: 0n });
    const spent = new Map<string, bigint>();
    for (const l of parseEventLogs({ abi: ServiceCreditsAbi, logs, eventName: 'CreditsSpent' }).filter((x) => txs.has(x.transactionHash))) {
      assert.equal(l.args.network, keccak256(toBytes('storage')), 'spent on the storage network: usage rewards follow');
      const device = `0x${l.args.deviceId.toString(16).padStart(64, '0')}`;
      spent.set(device, (spent.get(device) ?? 0n) + l.args.credits);
    }
    assert.deepEqual(spent, owed, 'each device is paid for the orders it served');
    assert.equal((await view(allowance.id)).state, 'closed');
    assert.deepEqual(await refusal(await read(await header(order()))), [402, 'allowance-closed']);

    // An allowance that covers one shard takes one order, then no more.
    const tight = await reader.openAllowance(perShard, { buyCredits: true });
    assert.equal((await read(await header(order({ allowance: tight.id })))).status, 200);
    assert.deepEqual(await refusal(await read(await header(order({ allowance: tight.id })))), [402, 'allowance-spent']);
    await reader.closeAllowance();
    // One no order ever reached: the oracle knew of it from the start and refunds it all.
    const unused = await reader.openAllowance(7n, { buyCredits: true });
    await reader.closeAllowance();
    const refunded = await until('the unused allowance’s refund', async () => {
      const j = await jobOf(unused.id);
      return j.status === 3 && j;
    });
    assert.deepEqual([refunded.burned, refunded.refunded], [0n, 7n]);
  });

  test('bad input: wrong commitments, corrupted uploads, forged and misaddressed proofs are refused and change nothing', async () => {
    const api = (route: string, body: unknown) =>
      fetch(`${net.oracle!.url}/v1/storage/${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const deal = [...stored.keys()][3]!;
    const status = await client.status(deal);
    const before = JSON.stringify(status.shards);
    // Registering again, or with roots the chain's commitment does not fix.
    const reg = { dealId: deal, cid: status.cid, layout: status.layout, shardRoots: status.shards.map((s) => s.root) };
    let res = await api('deals', reg);
    assert.equal(res.status, 409);
    assert.equal(((await res.json()) as { error: string }).error, 'duplicate-deal');
    const unopened = `0x${'ab'.repeat(32)}`;
    res = await api('deals', { ...reg, dealId: unopened });
    assert.equal(res.status, 402);
    assert.match(((await res.json()) as { detail: string }).detail, /not open on chain/);
    res = await api('deals', '{"dealId": 1');
    assert.equal(res.status, 400);
    res = await api('deals', { ...reg, shardRoots: reg.shardRoots.slice(1) });
    assert.equal(res.status, 400);
    // A proof bundle for a shard held by another provider, and one for no challenge.
    const holder = status.shards[0]!;
    const other = net.providers.find((p) => !status.shards.some((s) => s.device === p.device))!.device;
    // A challenge of this epoch: the service keeps it (and so can say whose it is) into the next.
    const now = net.clock.epochAtMs(Date.now());
    const last = await until(
      'a challenge of shard 0 this epoch',
      async () => (await challengeRows(deal)).find((r) => r.shard === 0 && r.epoch >= now) ?? false,
    );
    const bundle = { deal, shard: 0, epoch: last.epoch, device: other, leaves: [{ index: 0, leaf: '', path: [] }] };
    res = await api('proofs', bundle);
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: string }).error, 'not-your-shard');
    res = await api('proofs', { ...bundle, epoch: last.epoch + 1000 });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'unknown-challenge');
    // An upload the provider was not placed, and a corrupted one of a shard it was placed.
    const url = holder.url!;
    res = await fetch(`${url}shards/${unopened}/0`, { method: 'PUT', body: new Uint8Array(10) });
    assert.equal(res.status, 403);
    res = await fetch(`${url}shards/${deal}/0`, { method: 'PUT', body: new Uint8Array(status.shardBytes) });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { detail: string }).detail, /is not shard 0's committed root/);
    res = await fetch(`${url}shards/${deal}/0`, { method: 'HEAD' });
    assert.equal(res.status, 200, 'the shard it held is still there');
    assert.equal(res.headers.get('content-length'), String(status.shardBytes));
    assert.equal(
      JSON.stringify((await client.status(deal)).shards.map((s) => ({ ...s, lastProven: null }))),
      JSON.stringify(JSON.parse(before).map((s: object) => ({ ...s, lastProven: null }))),
    );
    const back = await client.get(deal, { key: stored.get(deal)!.key, buyCredits: true });
    assert.ok(Buffer.from(back.bytes).equals(Buffer.from(stored.get(deal)!.bytes)), 'the stored file is untouched');
    await assert.rejects(client.get(`0x${'cd'.repeat(32)}`), /unknown-deal/);
    await assert.rejects(client.get('bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'), /no deal of .* stores/);
  });

  test('every stored shard is proven each epoch, and the closed epoch verifies from its artifact', async () => {
    const deal = [...stored.keys()][4]!;
    const rows = await until('a proven epoch for every shard', () => fullyProvenEpoch(deal));
    const epoch = rows[0]!.epoch;
    assert.equal(new Set(rows.map((r) => r.shard)).size, 8);
    await net.waitForEpoch(epoch, 60_000);
    const v = await net.verify(epoch);
    assert.equal(v.pass, true, JSON.stringify(v.checks.filter((c) => !c.ok)));
    const res = await fetch(`${net.oracle!.url}/v1/epochs/${epoch}/artifact`);
    const artifact = (await res.json()) as { result: { networks: { kind: string; scores: { device: string; score: string }[] }[] } };
    const scores = artifact.result.networks.find((n) => n.kind === 'storage')!.scores;
    const holders = new Set(rows.map((r) => r.device));
    for (const d of holders) assert.ok(BigInt(scores.find((s) => s.device === d)?.score ?? 0) > 0n, `holder ${d.slice(0, 10)} scores`);
  });

  test('a provider that deletes a shard fails its proofs, is slashed for the lost shard, and the shard is rebuilt elsewhere', async () => {
    const deal = [...stored.keys()][3]!; // the 300 KiB file
    const before = await client.status(deal);
    const victim = before.shards[2]!;
    const i = providerOf(victim.device);
    unlinkSync(shardFile(i, deal, 2));
    const after = await until(
      'the repair',
      async () => {
        const s = await client.status(deal);
        // Moved, stored by its new provider, and counted (the count follows the upload's answer).
        return s.shards[2]!.device !== victim.device && s.shards[2]!.state === 'stored' && s.repairs === 1 && s;
      },
      90_000,
    );
    assert.notEqual(providerOf(after.shards[2]!.device), i);
    assert.ok(new Set(after.shards.map((s) => s.device)).size === 8, 'still 8 distinct providers');
    const faults = (await challengeRows(deal)).filter((r) => r.shard === 2 && r.device === victim.device && r.outcome !== 'passed');
    assert.ok(faults.length >= 1, `${faults.length} failed proofs before the repair`);
    // The fault that lost the shard is slashed, at the fault amount, with that challenge as evidence.
    const losing = faults.find((r) => r.faultRun === DEFAULT_STORAGE_PARAMETERS.faultsToRepair);
    assert.ok(losing, 'the losing fault is recorded with its run');
    const slashed = await until(
      'the slash of the deleting provider',
      async () => {
        const mine = await slashesOf(victim.device!, DEFAULT_STORAGE_PARAMETERS.faultSlashAmount);
        return mine.length > 0 && mine;
      },
      90_000,
    );
    assert.equal(slashed[0]!.args.slashed, BigInt(DEFAULT_STORAGE_PARAMETERS.faultSlashAmount));
    // The rebuilt shard is the committed one: the file reads with it among its data shards.
    const back = await client.get(deal, { key: stored.get(deal)!.key, buyCredits: true });
    assert.ok(Buffer.from(back.bytes).equals(Buffer.from(stored.get(deal)!.bytes)));
    assert.ok(back.fetched.includes(2));
  });

  test('a corrupted shard is refused at read and fails its proof with a signed wrong answer', async () => {
    const deal = [...stored.keys()][4]!; // the 8 MiB file
    const status = await client.status(deal);
    const holder = providerOf(status.shards[0]!.device);
    const file = shardFile(holder, deal, 0);
    const bytes = readFileSync(file);
    // A flipped byte in every 8 KiB leaf, so any challenged leaf shows it.
    for (let at = 0; at < bytes.length; at += 8192) bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(file, bytes);
    const back = await client.get(deal, { key: stored.get(deal)!.key, buyCredits: true });
    assert.ok(Buffer.from(back.bytes).equals(Buffer.from(stored.get(deal)!.bytes)));
    assert.ok(!back.fetched.includes(0), 'the corrupted shard was refused and another read instead');
    const failed = await until('the failed proof', async () => {
      const rows = (await challengeRows(deal)).filter((r) => r.shard === 0 && r.outcome === 'failed');
      return rows.length > 0 && rows[0]!;
    });
    assert.match(failed.reason, /wrong-data/);
    const slashed = await until(
      'the slash of the corrupting provider',
      async () => {
        const mine = await slashesOf(net.providers[holder]!.device, DEFAULT_STORAGE_PARAMETERS.slashAmount);
        return mine.length > 0 && mine;
      },
      90_000,
    );
    assert.ok(slashed[0]!.args.slashed! > 0n);
  });

  test('S3: the AWS SDK v3 client does every operation against the gateway, and gets S3-shaped errors', async () => {
    const gw = await startGateway({
      client,
      dir: path.join(dir, 'gateway'),
      accessKey: 'GWTESTKEY',
      secretKey: 'gw-test-secret',
      duration: 3600,
    });
    const credentials = { accessKeyId: 'GWTESTKEY', secretAccessKey: 'gw-test-secret' };
    const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'photos' }));
      await s3.send(new CreateBucketCommand({ Bucket: 'scratch' }));
      assert.deepEqual(
        ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name),
        ['photos', 'scratch'],
      );
      const body = randomBytes(200_000);
      const put = await s3.send(
        new PutObjectCommand({ Bucket: 'photos', Key: '2026/12/a.jpg', Body: body, ContentType: 'image/jpeg', Metadata: { camera: 'x1' } }),
      );
      assert.match(put.ETag ?? '', /^"[0-9a-f]{32}"$/);
      // The SDK sent its default CRC32 as an aws-chunked trailer; the gateway checked it and echoes it.
      assert.match(put.ChecksumCRC32 ?? '', /^[A-Za-z0-9+/]{6}==$/);
      for (const k of ['2026/12/b.jpg', '2026/11/c.jpg', 'top.txt'])
        await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: k, Body: `object ${k}` }));
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'photos', Key: '2026/12/a.jpg' }));
      assert.equal(head.ContentLength, body.length);
      assert.equal(head.ContentType, 'image/jpeg');
      assert.equal(head.Metadata?.camera, 'x1');
      const got = await s3.send(new GetObjectCommand({ Bucket: 'photos', Key: '2026/12/a.jpg' }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body), 'GetObject returns the bytes');
      const ranged = await s3.send(new GetObjectCommand({ Bucket: 'photos', Key: '2026/12/a.jpg', Range: 'bytes=1000-1999' }));
      assert.equal(ranged.ContentRange, `bytes 1000-1999/${body.length}`);
      assert.ok(Buffer.from(await ranged.Body!.transformToByteArray()).equals(body.subarray(1000, 2000)));
      const tail = await s3.send(new GetObjectCommand({ Bucket: 'photos', Key: '2026/12/a.jpg', Range: 'bytes=-10' }));
      assert.ok(Buffer.from(await tail.Body!.transformToByteArray()).equals(body.subarray(body.length - 10)));
      // Listing: a delimiter folds keys into common prefixes; a page of two continues with a token.
      const top = await s3.send(new ListObjectsV2Command({ Bucket: 'photos', Delimiter: '/' }));
      assert.deepEqual(
        (top.Contents ?? []).map((c) => c.Key),
        ['top.txt'],
      );
      assert.deepEqual(
        (top.CommonPrefixes ?? []).map((c) => c.Prefix),
        ['2026/'],
      );
      const keys: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: 'photos', Prefix: '2026/', MaxKeys: 2, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((c) => c.Key!));
        token = page.NextContinuationToken;
        pages++;
      } while (token);
      assert.deepEqual(keys, ['2026/11/c.jpg', '2026/12/a.jpg', '2026/12/b.jpg']);
      assert.equal(pages, 2);
      await s3.send(new CopyObjectCommand({ Bucket: 'scratch', Key: 'copy.jpg', CopySource: 'photos/2026/12/a.jpg' }));
      const copied = await s3.send(new GetObjectCommand({ Bucket: 'scratch', Key: 'copy.jpg' }));
      assert.ok(Buffer.from(await copied.Body!.transformToByteArray()).equals(body));
      // Multipart: three parts (5 MiB, 5 MiB, 1 MiB), listed, completed; the ETag is S3's md5-of-md5s.
      const big = randomBytes(11 * MiB);
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'photos', Key: 'video.mp4' }));
      const parts = [];
      for (const [n, [a, b]] of [
        [0, 5 * MiB],
        [5 * MiB, 10 * MiB],
        [10 * MiB, 11 * MiB],
      ].entries()) {
        const r = await s3.send(
          new UploadPartCommand({ Bucket: 'photos', Key: 'video.mp4', UploadId, PartNumber: n + 1, Body: big.subarray(a!, b!) }),
        );
        parts.push({ PartNumber: n + 1, ETag: r.ETag });
      }
      const listed = await s3.send(new ListPartsCommand({ Bucket: 'photos', Key: 'video.mp4', UploadId }));
      assert.deepEqual(
        (listed.Parts ?? []).map((p) => p.Size),
        [5 * MiB, 5 * MiB, MiB],
      );
      await assert.rejects(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'photos',
            Key: 'video.mp4',
            UploadId,
            MultipartUpload: { Parts: [parts[0]!, { PartNumber: 2, ETag: '"0123456789abcdef0123456789abcdef"' }] },
          }),
        ),
        (e: Error) => e.name === 'InvalidPart',
      );
      const done = await s3.send(
        new CompleteMultipartUploadCommand({ Bucket: 'photos', Key: 'video.mp4', UploadId, MultipartUpload: { Parts: parts } }),
      );
      assert.match(done.ETag ?? '', /-3"$/);
      const video = await s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'video.mp4' }));
      assert.ok(Buffer.from(await video.Body!.transformToByteArray()).equals(big), 'the multipart object reads back whole');
      // Parts under 5 MiB (but the last) are refused at completion; an aborted upload is gone.
      const small = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'scratch', Key: 'small' }));
      const p1 = await s3.send(
        new UploadPartCommand({ Bucket: 'scratch', Key: 'small', UploadId: small.UploadId, PartNumber: 1, Body: randomBytes(MiB) }),
      );
      const p2 = await s3.send(
        new UploadPartCommand({ Bucket: 'scratch', Key: 'small', UploadId: small.UploadId, PartNumber: 2, Body: randomBytes(10) }),
      );
      await assert.rejects(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'scratch',
            Key: 'small',
            UploadId: small.UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: p1.ETag },
                { PartNumber: 2, ETag: p2.ETag },
              ],
            },
          }),
        ),
        (e: Error) => e.name === 'EntityTooSmall',
      );
      await s3.send(new AbortMultipartUploadCommand({ Bucket: 'scratch', Key: 'small', UploadId: small.UploadId }));
      await assert.rejects(
        s3.send(new ListPartsCommand({ Bucket: 'scratch', Key: 'small', UploadId: small.UploadId })),
        (e: Error) => e.name === 'NoSuchUpload',
      );
      // Errors where S3 gives them.
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'nope' })), (e: Error) => e.name === 'NoSuchKey');
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'nobucket', Key: 'x' })), (e: Error) => e.name === 'NoSuchBucket');
      const wrong = new S3Client({
        endpoint: gw.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { ...credentials, secretAccessKey: 'not-the-secret' },
      });
      await assert.rejects(wrong.send(new ListBucketsCommand({})), (e: Error) => e.name === 'SignatureDoesNotMatch');
      await assert.rejects(s3.send(new DeleteBucketCommand({ Bucket: 'scratch' })), (e: Error) => e.name === 'BucketNotEmpty');
      // Virtual-hosted style: the bucket in the host name (every name resolves to this machine).
      const port = new URL(gw.url).port;
      const agent = new http.Agent({
        lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }] as never, 4 as never),
      } as http.AgentOptions);
      const vhost = new S3Client({
        endpoint: `http://localhost:${port}`,
        region: 'us-east-1',
        credentials,
        requestHandler: new NodeHttpHandler({ httpAgent: agent }),
      });
      const v = await vhost.send(new GetObjectCommand({ Bucket: 'photos', Key: 'top.txt' }));
      assert.equal(await v.Body!.transformToString(), 'object top.txt');
      // Deletes: one, then several at once; the bucket empties and goes.
      await s3.send(new DeleteObjectCommand({ Bucket: 'scratch', Key: 'copy.jpg' }));
      const del = await s3.send(
        new DeleteObjectsCommand({ Bucket: 'photos', Delete: { Objects: ['top.txt', '2026/11/c.jpg'].map((Key) => ({ Key })) } }),
      );
      assert.deepEqual((del.Deleted ?? []).map((d) => d.Key).sort(), ['2026/11/c.jpg', 'top.txt']);
      assert.deepEqual(
        ((await s3.send(new ListObjectsV2Command({ Bucket: 'photos' }))).Contents ?? []).map((c) => c.Key),
        ['2026/12/a.jpg', '2026/12/b.jpg', 'video.mp4'],
      );
      await s3.send(new DeleteBucketCommand({ Bucket: 'scratch' }));
      assert.deepEqual(
        ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name),
        ['photos'],
      );
    } finally {
      await gw.close();
    }
  });

  // The S3 command-line tools as Debian ships them (apt-get install awscli s3cmd), when installed.
  const tool = (candidates: string[]) => candidates.find((c) => spawnSync(c, ['--version'], { encoding: 'utf8' }).status === 0);
  const awsCli = tool([process.env.AWS_CLI ?? '/usr/bin/aws', 'aws']);
  const s3cmd = tool(['/usr/bin/s3cmd', 's3cmd']);
  test('S3 command-line tools: aws and s3cmd make a bucket, copy a file in (multipart) and out, list and delete', {
    skip: awsCli && s3cmd ? false : 'the aws CLI or s3cmd is not installed (apt-get install awscli s3cmd)',
  }, async () => {
    const gw = await startGateway({
      client,
      dir: path.join(dir, 'gateway-cli'),
      accessKey: 'GWCLIKEY',
      secretKey: 'gw-cli-secret',
      duration: 3600,
    });
    try {
      const home = mkdtempSync(path.join(dir, 'home-'));
      const env = {
        ...process.env,
        HOME: home,
        AWS_ACCESS_KEY_ID: 'GWCLIKEY',
        AWS_SECRET_ACCESS_KEY: 'gw-cli-secret',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: path.join(home, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none'),
      };
      // Asynchronous: the gateway answers on this process's event loop.
      const run = async (cmd: string, args: string[]) => {
        try {
          return (await execFileAsync(cmd, args, { encoding: 'utf8', env, timeout: 120_000 })).stdout;
        } catch (err) {
          const e = err as Error & { stderr?: string; stdout?: string };
          throw new Error(`${cmd} ${args.join(' ')}: ${e.message} ${e.stderr ?? ''}${e.stdout ?? ''}`);
        }
      };
      const aws = (...args: string[]) => run(awsCli!, ['--endpoint-url', gw.url, ...args]);
      const file = path.join(home, 'video.bin');
      const bytes = randomBytes(9 * MiB); // over the CLI's 8 MiB multipart threshold: two parts
      writeFileSync(file, bytes);
      await aws('s3', 'mb', 's3://cli-bucket');
      await aws('s3', 'cp', file, 's3://cli-bucket/dir/video.bin');
      assert.match(await aws('s3', 'ls', 's3://cli-bucket/dir/'), /9437184 video\.bin/);
      await aws('s3', 'cp', 's3://cli-bucket/dir/video.bin', path.join(home, 'back.bin'));
      assert.ok(readFileSync(path.join(home, 'back.bin')).equals(bytes), 'aws s3 cp reads it back byte-identical');
      const head = JSON.parse(await aws('s3api', 'head-object', '--bucket', 'cli-bucket', '--key', 'dir/video.bin')) as { ETag: string };
      assert.match(head.ETag, /-2"$/, 'stored by a two-part upload');
      const port = new URL(gw.url).port;
      const cfg = path.join(home, 's3cfg');
      writeFileSync(
        cfg,
        `[default]\naccess_key = GWCLIKEY\nsecret_key = gw-cli-secret\nhost_base = 127.0.0.1:${port}\nhost_bucket = 127.0.0.1:${port}\nuse_https = False\nsignature_v2 = False\n`,
      );
      const s3c = (...args: string[]) => run(s3cmd!, ['-c', cfg, ...args]);
      await s3c('put', file, 's3://cli-bucket/s3cmd.bin');
      assert.match(await s3c('ls', 's3://cli-bucket/'), /s3:\/\/cli-bucket\/s3cmd\.bin/);
      await s3c('get', 's3://cli-bucket/s3cmd.bin', path.join(home, 's3cmd.back'));
      assert.ok(readFileSync(path.join(home, 's3cmd.back')).equals(bytes), 's3cmd get reads it back byte-identical');
      await s3c('del', 's3://cli-bucket/s3cmd.bin');
      await aws('s3', 'rm', 's3://cli-bucket/dir/video.bin');
      await aws('s3', 'rb', 's3://cli-bucket');
      assert.doesNotMatch(await aws('s3', 'ls'), /cli-bucket/);
    } finally {
      await gw.close();
    }
  });

  test('after the oracle and the agents restart, deals, placements and proofs carry on and files read', async (t) => {
    const deal = [...stored.keys()][2]!;
    const before = await client.status(deal);
    await net.oracle!.stop();
    for (const w of workers) await w.close();
    await net.startOracle();
    await net.startAgents();
    client = new StorageClient({
      oracleUrl: net.oracle!.url,
      rpcUrl: net.rpcUrl,
      deployment: net.deployment,
      privateKey: devnetAccounts(0).privateKey,
    });
    const after = await client.status(deal);
    assert.deepEqual(
      after.shards.map((s) => [s.device, s.state, s.root]),
      before.shards.map((s) => [s.device, s.state, s.root]),
    );
    const restarted = net.clock.epochAtMs(Date.now());
    // Any epoch after the restart: a proof that came late on a loaded machine fails its epoch, and
    // a later epoch proves all 8.
    await until(
      'a fully proven epoch after the restart',
      () => fullyProvenEpoch(deal, restarted),
      60_000,
      async () =>
        (await challengeRows(deal))
          .filter((r) => r.epoch > restarted)
          .map((r) => `epoch ${r.epoch} shard ${r.shard} ${r.device.slice(0, 10)}: ${r.outcome} ${r.reason}`)
          .join('; '),
    );
    const missed = (await challengeRows(deal)).filter((r) => r.epoch > restarted && r.outcome !== 'passed');
    t.diagnostic(
      `proofs missed after the restart: ${missed.map((r) => `epoch ${r.epoch} shard ${r.shard} ${r.outcome} ${r.reason}`).join('; ') || 'none'}`,
    );
    const back = await client.get(deal, { key: stored.get(deal)!.key, buyCredits: true });
    assert.ok(Buffer.from(back.bytes).equals(Buffer.from(stored.get(deal)!.bytes)));
  });

  test('with n − k providers gone, a file still reads', async () => {
    const deal = [...stored.keys()][3]!;
    const status = await client.status(deal);
    const gone = status.shards.slice(0, 4).map((s) => providerOf(s.device));
    for (const i of gone) {
      await net.providers[i]!.agent?.stop();
      await workers[i]!.close();
    }
    const back = await client.get(deal, { key: stored.get(deal)!.key, buyCredits: true });
    assert.ok(Buffer.from(back.bytes).equals(Buffer.from(stored.get(deal)!.bytes)));
    assert.deepEqual(back.fetched, [4, 5, 6, 7]);
  });

  test('a terminated deal settles: escrowed = released for proven shard-epochs + refunded', async () => {
    const deal = [...stored.keys()][3]! as Hex; // the 300 KiB file: a repaired shard, four providers gone
    await client.rm(deal);
    const chain = await until('the final settlement', async () => {
      const d = (await net.client.readContract({
        address: net.deployment.addresses.deals!,
        abi: StorageDealsAbi,
        functionName: 'deal',
        args: [deal],
      })) as {
        status: number;
        escrowed: bigint;
        burned: bigint;
        refunded: bigint;
      };
      return d.status === 3 && d;
    });
    assert.equal(chain.escrowed, chain.burned + chain.refunded);
    assert.ok(chain.burned > 0n, 'proven epochs were paid');
    const payments = await net.oracle!.db.query<{ device: string; amount: string }>(
      'select device, amount from storage_payments where deal_id = $1',
      [deal],
    );
    const paid = payments.reduce((a, r) => a + BigInt(r.amount), 0n);
    assert.equal(paid, chain.burned, 'what was burned is what the proven shard-epochs earned');
    const settled = await net.client.getContractEvents({
      address: net.deployment.addresses.deals!,
      abi: StorageDealsAbi,
      eventName: 'DealSettled',
      args: { dealId: deal },
      fromBlock: 0n,
    });
    const txs = new Set(settled.map((e) => e.transactionHash));
    const logs = await net.client.getLogs({ address: net.deployment.addresses.credits, fromBlock: 0n });
    const spent = parseEventLogs({ abi: ServiceCreditsAbi, logs, eventName: 'CreditsSpent' }).filter((l) => txs.has(l.transactionHash));
    const byDevice = new Map<string, bigint>();
    for (const l of spent)
      byDevice.set(
        `0x${l.args.deviceId.toString(16).padStart(64, '0')}`,
        (byDevice.get(`0x${l.args.deviceId.toString(16).padStart(64, '0')}`) ?? 0n) + l.args.credits,
      );
    const expected = new Map<string, bigint>();
    for (const r of payments) expected.set(r.device, (expected.get(r.device) ?? 0n) + BigInt(r.amount));
    assert.deepEqual(byDevice, expected, 'each device is paid for its own proven shards');
  });
});
