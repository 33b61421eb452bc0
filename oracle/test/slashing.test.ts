// The slash keeper's steps against a scripted chain (no anvil): it proposes only orders of posted
// epochs, records an order the chain already has instead of proposing it again, executes only a
// Pending order past its window by the chain's clock, follows a veto, sends an order the chain
// lost back to `signed`, and reports a failing order in its status and the order's row while the
// others go on. sim/test/slashing.test.ts runs the same against the real contracts.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Hex, LocalAccount, PublicClient, WalletClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { type Deployment, devnetAccounts, slashOrderId } from '@groundwork/contracts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { describeChainError, revertName } from '../src/closer.ts';
import { insertSlashOrders, type NewSlashOrder, SlashKeeper, slashOrderOf } from '../src/slashing.ts';

const SLASH_ORDERS = '0x00000000000000000000000000000000000051a5' as Hex;
const hex32 = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex;

type ChainOrder = { status: number; executableAt: bigint };

/** A chain that holds orders by id and answers the few calls the keeper makes. */
function scriptedChain() {
  const orders = new Map<Hex, ChainOrder>();
  const sent: { functionName: string; args: readonly unknown[] }[] = [];
  let time = 1_000n;
  let down = false;
  const check = () => {
    if (down) throw new Error('fetch failed');
  };
  const client = {
    readContract: async ({ args }: { args: [Hex] }) => {
      check();
      const o = orders.get(args[0]) ?? { status: 0, executableAt: 0n };
      return { deviceId: 0n, evidenceHash: hex32(0), amount: 0n, ...o };
    },
    getBlock: async () => {
      check();
      return { timestamp: time };
    },
    simulateContract: async (req: { functionName: string; args: readonly unknown[] }) => {
      check();
      return { request: req };
    },
    waitForTransactionReceipt: async () => ({ status: 'success' }),
    getContractEvents: async () => [],
  } as unknown as PublicClient;
  const wallet = {
    account: privateKeyToAccount(devnetAccounts(1).privateKey),
    writeContract: async (req: { functionName: string; args: readonly unknown[] }) => {
      check();
      sent.push({ functionName: req.functionName, args: req.args });
      if (req.functionName === 'propose') {
        const [epoch, deviceId, amount, evidenceHash, artifactHash] = req.args as [bigint, bigint, bigint, Hex, Hex];
        orders.set(slashOrderId({ epoch, deviceId, amount, evidenceHash, artifactHash }), { status: 1, executableAt: time + 60n });
      } else if (req.functionName === 'execute') orders.set(req.args[0] as Hex, { status: 3, executableAt: 0n });
      return hex32(0xbeef + sent.length);
    },
  } as unknown as WalletClient;
  return {
    client,
    wallet,
    orders,
    sent,
    set time(t: bigint) {
      time = t;
    },
    set down(d: boolean) {
      down = d;
    },
  };
}

describe('slash keeper', () => {
  let db: Database;
  let chain: ReturnType<typeof scriptedChain>;
  let keeper: SlashKeeper;
  const signers: LocalAccount[] = [1, 2].map((i) => privateKeyToAccount(devnetAccounts(i).privateKey));
  const deployment = (slashOrders: Hex | undefined) =>
    ({ chainId: 31337, startBlock: 0n, addresses: { slashOrders } }) as unknown as Deployment;
  const order = (epoch: number, n: number): NewSlashOrder =>
    slashOrderOf(
      epoch,
      'uptime',
      { device: hex32(n), kind: 'planted-fraud', amount: '5', evidence: { n }, evidenceHash: hex32(0x2000 + n) },
      hex32(0x3000 + epoch),
    );
  const keeperFor = (slashOrders: Hex | undefined) =>
    new SlashKeeper({
      db,
      deployment: deployment(slashOrders),
      client: chain.client,
      wallet: chain.wallet,
      signers,
      quorum: 2,
      minIntervalMs: 0,
      describeError: describeChainError,
      revertName,
    });
  const stateOf = async (id: Hex) =>
    (
      await db.query<{ state: string; last_error: string | null }>('select state, last_error from slash_orders where order_id = $1', [id])
    )[0]!;
  const epochRow = (epoch: number, state: string) =>
    db.query('insert into epochs (epoch, state, updated_at) values ($1, $2, 0) on conflict (epoch) do update set state = excluded.state', [
      epoch,
      state,
    ]);

  before(async () => {
    db = await openDatabase({});
  });
  after(async () => db?.close());
  beforeEach(async () => {
    await db.query('delete from slash_orders');
    await db.query('delete from epochs');
    chain = scriptedChain();
    keeper = keeperFor(SLASH_ORDERS);
  });

  test('signs with the root’s quorum, and proposes only once the root is posted', async () => {
    await epochRow(1, 'artifact');
    await insertSlashOrders(db, [order(1, 1)], 0);
    await keeper.run();
    assert.equal((await stateOf(order(1, 1).orderId)).state, 'found', 'not signed before its root');
    assert.equal(await keeper.signEpoch(1), 1);
    await epochRow(1, 'signed');
    await keeper.run();
    assert.equal((await stateOf(order(1, 1).orderId)).state, 'signed', 'not proposed before the root is posted');
    assert.equal(chain.sent.length, 0);
    await epochRow(1, 'posted');
    await keeper.run();
    assert.equal((await stateOf(order(1, 1).orderId)).state, 'proposed');
    assert.deepEqual(
      chain.sent.map((s) => s.functionName),
      ['propose'],
    );
    const [epoch, deviceId, amount, evidence, artifact, signatures] = chain.sent[0]!.args as [bigint, bigint, bigint, Hex, Hex, Hex];
    assert.deepEqual([epoch, deviceId, amount, evidence, artifact], [1n, 1n, 5n, hex32(0x2001), hex32(0x3001)]);
    assert.equal(signatures.length, 2 + 2 * 65 * 2, 'two signatures of 65 bytes');
  });

  test('an order the chain already has is recorded, not proposed again', async () => {
    await epochRow(2, 'posted');
    await insertSlashOrders(db, [order(2, 2)], 0);
    await keeper.signEpoch(2);
    chain.orders.set(order(2, 2).orderId, { status: 1, executableAt: 2_000n });
    await keeper.run();
    assert.equal((await stateOf(order(2, 2).orderId)).state, 'proposed');
    assert.equal(chain.sent.length, 0);
  });

  test('executes only past the window by the chain’s clock, once; follows a veto; re-proposes a lost order', async () => {
    await epochRow(3, 'posted');
    const [a, b, c] = [order(3, 3), order(3, 4), order(3, 5)];
    await insertSlashOrders(db, [a, b, c], 0);
    await keeper.signEpoch(3);
    for (const o of [a, b, c]) chain.orders.set(o.orderId, { status: 1, executableAt: 1_500n });
    await keeper.run();
    for (const o of [a, b, c]) assert.equal((await stateOf(o.orderId)).state, 'proposed');
    await keeper.run();
    assert.equal(chain.sent.length, 0, 'nothing executes in the window');
    chain.orders.set(b.orderId, { status: 2, executableAt: 1_500n }); // the guardian vetoed b
    chain.orders.delete(c.orderId); // the chain lost c (a rollback)
    chain.time = 1_500n;
    await keeper.run();
    assert.deepEqual(
      chain.sent.map((s) => [s.functionName, s.args[0]]),
      [['execute', a.orderId]],
    );
    assert.equal((await stateOf(a.orderId)).state, 'executed');
    assert.equal((await stateOf(b.orderId)).state, 'vetoed');
    assert.equal((await stateOf(c.orderId)).state, 'signed');
    await keeper.run();
    assert.equal(chain.sent.filter((s) => s.functionName === 'execute').length, 1, 'executed once');
    assert.deepEqual(keeper.status().orders, { found: 0, signed: 0, proposed: 1, executed: 1, skipped: 0, vetoed: 1 });
  });

  test('a failure is in the status and the order’s row, and clears when the step succeeds', async () => {
    await epochRow(4, 'posted');
    await insertSlashOrders(db, [order(4, 6)], 0);
    await keeper.signEpoch(4);
    chain.down = true;
    await keeper.run();
    const failing = keeper.status().failing!;
    assert.equal(failing.orderId, order(4, 6).orderId);
    assert.equal(failing.step, 'propose');
    assert.match(failing.error, /fetch failed/);
    assert.match(failing.hint, /does not answer/);
    assert.equal((await stateOf(order(4, 6).orderId)).last_error, 'propose: fetch failed');
    chain.down = false;
    chain.orders.set(order(4, 6).orderId, { status: 1, executableAt: 9_999n });
    await keeper.run();
    assert.equal(keeper.status().failing, null);
    assert.deepEqual(await stateOf(order(4, 6).orderId), { state: 'proposed', last_error: null });
  });

  test('without a SlashOrders address the orders wait and say why; the root is not held up', async () => {
    const noAddress = keeperFor(undefined);
    await epochRow(5, 'artifact');
    await insertSlashOrders(db, [order(5, 7)], 0);
    assert.equal(await noAddress.signEpoch(5), 0, 'nothing to sign with: the closer signs the root anyway');
    await epochRow(5, 'posted');
    await noAddress.run();
    assert.match(noAddress.status().failing!.error, /no SlashOrders address/);
    assert.match(noAddress.status().failing!.hint, /before slashing/);
    assert.equal((await stateOf(order(5, 7).orderId)).state, 'found');
  });
});
