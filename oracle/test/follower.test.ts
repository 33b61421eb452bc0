// The chain follower mirrors the registry through a flaky RPC (a loopback proxy that fails a third
// of the requests, some with 502s and some by dropping the connection) and ends with exactly what
// the chain holds: every device once, every event once. A new follower on the same database
// resumes from the stored cursor and picks up a transfer of the device NFT. When the chain is
// rolled back under it (anvil's evm_snapshot / evm_revert), to a shorter chain or to one as long
// with other blocks, the follower notices by block hash, rewinds and matches the chain again.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type Address, createPublicClient, http, parseEventLogs, type PublicClient } from 'viem';
import { DeviceRegistryAbi, ServiceCreditsAbi } from '@groundwork/contracts';
import { registerDevice } from '@groundwork/agent';
import { generateDeviceKey } from '@groundwork/protocol';
import { startTestnet, type Testnet } from '@groundwork/sim';
import { ChainFollower, openDatabase, type Database } from '../src/index.ts';

function flakyProxy(target: string, seed = 7): Promise<{ url: string; server: Server; failures: () => number }> {
  let state = seed;
  let failures = 0;
  const rand = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  const server = createServer((req, res) => {
    const r = rand();
    if (r < 0.15) {
      failures++;
      res.writeHead(502).end('bad gateway');
      return;
    }
    if (r < 0.3) {
      failures++;
      req.socket.destroy();
      return;
    }
    const upstream = request(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, failures: () => failures }),
    ),
  );
}

async function syncThroughErrors(f: ChainFollower, head: bigint): Promise<number> {
  let errors = 0;
  while (f.cursor < head) {
    try {
      await f.syncToHead();
    } catch {
      errors++;
    }
  }
  return errors;
}

describe('chain follower', () => {
  let net: Testnet;
  let db: Database;
  let proxy: Awaited<ReturnType<typeof flakyProxy>>;
  let client: PublicClient;

  before(async () => {
    net = await startTestnet({ devices: 4, epochSeconds: 3600, startOracle: false });
    db = await openDatabase({});
    proxy = await flakyProxy(net.rpcUrl);
    // No retries in the transport: every injected failure reaches the follower.
    client = createPublicClient({ transport: http(proxy.url, { retryCount: 0 }) }) as PublicClient;
  });
  after(async () => {
    await db?.close();
    proxy?.server.close();
    await net?.stop();
  });

  test('mirrors every device exactly once through RPC errors', async () => {
    const f = new ChainFollower(db, client, net.deployment, { batchBlocks: 3 });
    await f.init();
    const head = await net.client.getBlockNumber({ cacheTime: 0 });
    const errors = await syncThroughErrors(f, head);
    assert.ok(errors > 0 && proxy.failures() > 0, `the proxy injected failures (${proxy.failures()}) and the follower saw ${errors}`);
    assert.equal(f.cursor, head);
    assert.ok(f.lastError === null);

    const devices = await db.query('select device, owner, key_x, network from devices order by device');
    assert.equal(devices.length, net.providers.length);
    for (const p of net.providers) {
      const d = devices.find((x) => x.device === p.device);
      assert.ok(d, `device ${p.index} mirrored`);
      assert.equal(d.owner, p.owner.toLowerCase());
      assert.equal(d.network, 'uptime');
    }
    // Exactly the chain's registry events, none doubled by a retried batch.
    const logs = parseEventLogs({
      abi: DeviceRegistryAbi,
      logs: await net.client.getLogs({ address: net.deployment.addresses.registry, fromBlock: 0n, toBlock: head }),
    });
    const deviceEvents = logs.filter((l) => l.eventName !== 'Transfer' && 'deviceId' in (l.args as object)).length;
    assert.equal((await db.query('select count(*)::int as n from device_events'))[0]!.n, deviceEvents);
    assert.equal(
      (await db.query('select count(*)::int as n from device_transfers'))[0]!.n,
      logs.filter((l) => l.eventName === 'Transfer').length,
    );
    const spends = (await db.query('select count(*)::int as n from credit_spends'))[0]!.n;
    assert.equal(spends, net.providers.length, 'one onboarding fee per device');
  });

  test('a restarted follower resumes from its cursor and sees a transfer', async () => {
    const before = (await db.query<{ block: string }>("select block from chain_cursor where name = 'follower'"))[0]!.block;
    const p = net.providers[0]!;
    const to = net.providers[1]!.owner;
    const { request: tx } = await p.session.client.simulateContract({
      account: p.session.account,
      address: net.deployment.addresses.registry,
      abi: DeviceRegistryAbi,
      functionName: 'transferFrom',
      args: [p.owner, to, BigInt(p.device)],
      blockTag: 'pending',
    });
    const receipt = await net.client.waitForTransactionReceipt({ hash: await p.session.wallet.writeContract(tx) });
    assert.equal(receipt.status, 'success');

    const f = new ChainFollower(db, client, net.deployment, { batchBlocks: 3 });
    await f.init();
    assert.equal(f.cursor.toString(), before, 'resumes at the stored cursor');
    await syncThroughErrors(f, receipt.blockNumber);
    const [d] = await db.query('select owner from devices where device = $1', [p.device]);
    assert.equal(d!.owner, to.toLowerCase());
    const history = await db.query('select from_addr, to_addr from device_transfers where device = $1 order by block, log_index', [
      p.device,
    ]);
    assert.equal(history.length, 2, 'mint and transfer');
    assert.equal(history[1]!.from_addr, p.owner.toLowerCase());
  });

  /** The mirror holds exactly what the chain holds now: devices, owners, stakes, events, spends. */
  async function assertMirrorsChain(f: ChainFollower): Promise<void> {
    const head = await net.client.getBlockNumber({ cacheTime: 0 });
    assert.equal(f.cursor, head, 'synced to the head');
    const registry = net.deployment.addresses.registry;
    const logs = parseEventLogs({
      abi: DeviceRegistryAbi,
      logs: await net.client.getLogs({ address: registry, fromBlock: 0n, toBlock: head }),
    });
    const chainDevices = new Set(
      logs
        .filter((l) => l.eventName === 'DeviceRegistered')
        .map((l) => `0x${(l.args as { deviceId: bigint }).deviceId.toString(16).padStart(64, '0')}`),
    );
    const rows = await db.query('select device, owner, stake::text as stake from devices order by device');
    assert.deepEqual(new Set(rows.map((r) => r.device)), chainDevices, 'the same devices');
    for (const r of rows) {
      const owner = (await net.client.readContract({
        address: registry,
        abi: DeviceRegistryAbi,
        functionName: 'ownerOf',
        args: [BigInt(r.device)],
      })) as string;
      assert.equal(r.owner, owner.toLowerCase(), `owner of ${r.device}`);
      const d = (await net.client.readContract({
        address: registry,
        abi: DeviceRegistryAbi,
        functionName: 'device',
        args: [BigInt(r.device)],
      })) as { stake: bigint };
      assert.equal(r.stake, d.stake.toString(), `stake of ${r.device}`);
    }
    const count = async (table: string) => (await db.query(`select count(*)::int as n from ${table}`))[0]!.n;
    assert.equal(await count('device_transfers'), logs.filter((l) => l.eventName === 'Transfer').length, 'transfers');
    assert.equal(
      await count('device_events'),
      logs.filter((l) => l.eventName !== 'Transfer' && 'deviceId' in (l.args as object)).length,
      'device events',
    );
    const spends = await net.client.getContractEvents({
      address: net.deployment.addresses.credits,
      abi: ServiceCreditsAbi,
      eventName: 'CreditsSpent',
      fromBlock: 0n,
    });
    assert.equal(await count('credit_spends'), spends.length, 'credit spends');
  }

  const rpc = (method: string, params: unknown[] = []) => net.client.request({ method, params } as never) as Promise<unknown>;

  async function transfer(from: number, to: number): Promise<void> {
    const p = net.providers[from]!;
    const owner = (await net.client.readContract({
      address: net.deployment.addresses.registry,
      abi: DeviceRegistryAbi,
      functionName: 'ownerOf',
      args: [BigInt(p.device)],
    })) as Address;
    const session = net.providers.find((q) => q.owner.toLowerCase() === owner.toLowerCase())!.session;
    const { request: tx } = await session.client.simulateContract({
      account: session.account,
      address: net.deployment.addresses.registry,
      abi: DeviceRegistryAbi,
      functionName: 'transferFrom',
      args: [owner, net.providers[to]!.owner, BigInt(p.device)],
      blockTag: 'pending',
    });
    await net.client.waitForTransactionReceipt({ hash: await session.wallet.writeContract(tx) });
  }

  test('a chain rolled back under the follower: it rewinds by block hash and mirrors the chain again', async () => {
    const f = new ChainFollower(db, net.client, net.deployment, { batchBlocks: 5 });
    await f.init();
    await f.syncToHead();
    await assertMirrorsChain(f);
    const snapshot = await rpc('evm_snapshot');

    // On the branch that will be rolled back: a new device (with its fee, a credit spend) and a transfer.
    const extra = net.providers[3]!;
    const key = generateDeviceKey().privateKey;
    await registerDevice(extra.session, { key, network: 'uptime' });
    await transfer(2, 0);
    await f.syncToHead();
    await assertMirrorsChain(f);
    const rolledBack = f.cursor;
    assert.equal((await db.query('select count(*)::int as n from devices'))[0]!.n, net.providers.length + 1);

    // Rolled back, then as many blocks again but others: the same heights with new hashes.
    assert.equal(await rpc('evm_revert', [snapshot]), true);
    await transfer(1, 3);
    while ((await net.client.getBlockNumber({ cacheTime: 0 })) < rolledBack) await rpc('evm_mine');
    await f.syncToHead();
    assert.equal(f.rewinds, 1, 'one rewind');
    await assertMirrorsChain(f);

    // Rolled back to a shorter chain: the cursor is past the head.
    const again = await rpc('evm_snapshot');
    await transfer(0, 2);
    await f.syncToHead();
    assert.equal(await rpc('evm_revert', [again]), true);
    assert.ok(f.cursor > (await net.client.getBlockNumber({ cacheTime: 0 })));
    await f.syncToHead();
    assert.equal(f.rewinds, 2, 'a second rewind');
    await assertMirrorsChain(f);

    // A restarted follower on the same database keeps the hash and resumes without a rewind.
    const g = new ChainFollower(db, net.client, net.deployment, { batchBlocks: 5 });
    await g.init();
    assert.equal(g.cursorHash, f.cursorHash);
    await g.syncToHead();
    assert.equal(g.rewinds, 0);
  });
});
