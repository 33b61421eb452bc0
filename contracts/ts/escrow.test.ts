// End to end on a real anvil: the deploy module wires CreditEscrow and SlashOrders; a consumer
// escrows credits for a job, the devnet oracle keys settle it with quorum signatures made by
// ts/market-signatures.ts (usage lands on the device in CreditsSpent), the final settlement
// refunds the rest; a cancelled job is reclaimed after the grace; a slash order signed by the
// quorum executes after its window with the evidence hash, and a vetoed one never does.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BaseError,
  ContractFunctionRevertedError,
  bytesToHex,
  createPublicClient,
  createTestClient,
  createWalletClient,
  hashTypedData,
  http,
  keccak256,
  parseEther,
  parseEventLogs,
  toBytes,
  type Address,
  type Hex,
} from 'viem';
import { mnemonicToAccount, type HDAccount } from 'viem/accounts';
import { deviceIdOf, devicePublicKey, generateDeviceKey, signP256 } from '@groundwork/protocol';
import { startAnvil, type Anvil } from './anvil.ts';
import { deploySystem, devnetParameters, type Deployment } from './deploy.ts';
import {
  CreditEscrowAbi,
  DeviceRegistryAbi,
  GroundworkTokenAbi,
  ServiceCreditsAbi,
  SettablePriceFeedAbi,
  SlashOrdersAbi,
  StorageDealsAbi,
} from './generated/contracts.ts';
import {
  SETTLEMENT_TYPES,
  creditEscrowDomain,
  DEAL_SETTLEMENT_TYPES,
  signDealSettlement,
  storageDealsDomain,
  escrowJobId,
  recoverSettlementSigners,
  signSettlement,
  signSlashOrder,
  slashOrderId,
  type SettlementMessage,
  type SlashOrderMessage,
} from './market-signatures.ts';
import { networkId } from './networks.ts';

const MNEMONIC = 'test test test test test test test test test test test junk'; // anvil's dev accounts
const account = (i: number) => mnemonicToAccount(MNEMONIC, { addressIndex: i });
const privateKeyOf = (a: HDAccount): Hex => bytesToHex(a.getHdKey().privateKey!);
const ADMIN = `0x${'00'.repeat(32)}` as const;
const GRACE = 600n;
const SLASH_WINDOW = 120n;

async function expectRevert(fn: () => Promise<unknown>, name: string) {
  try {
    await fn();
  } catch (err) {
    const revert = err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    assert.ok(revert instanceof ContractFunctionRevertedError, `expected revert ${name}, got ${(err as Error).message}`);
    assert.equal(revert.data?.errorName, name);
    return;
  }
  assert.fail(`expected revert ${name}, but the call succeeded`);
}

/** The devnet's storage price: 1e-6 credits per byte-second (a stored MiB-hour is about 3.8 credits). */
const STORAGE_PRICE = 10n ** 12n;

describe('credit escrow and slash orders on anvil', () => {
  let anvil: Anvil;
  let deployment: Deployment;
  let escrow: Address;
  let slashOrders: Address;
  const deployer = account(0); // also the guardian (devnetParameters)
  const oracles = [account(1), account(2), account(3)];
  const owner = account(4);
  const consumer = account(5);
  const uptime = networkId('uptime');
  let deviceId: bigint;
  let pub: ReturnType<typeof createPublicClient>;
  let testClient: ReturnType<typeof createTestClient>;
  const gas: Record<string, bigint> = {};

  async function send(a: HDAccount, address: Address, abi: any, functionName: string, args: readonly unknown[]) {
    const { request } = await pub.simulateContract({ account: a, address, abi, functionName, args } as any);
    const hash = await createWalletClient({ account: a, transport: http(anvil.rpcUrl) }).writeContract(request as any);
    const receipt = await pub.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
    return receipt;
  }
  const simulate = (a: HDAccount, address: Address, abi: any, functionName: string, args: readonly unknown[]) => () =>
    pub.simulateContract({ account: a, address, abi, functionName, args } as any);
  const read = (address: Address, abi: any, functionName: string, args: readonly unknown[] = []) =>
    pub.readContract({ address, abi, functionName, args } as any) as Promise<any>;
  const credits = (acct: Address) => read(deployment.addresses.credits, ServiceCreditsAbi, 'balanceOf', [acct]) as Promise<bigint>;
  async function advance(seconds: bigint) {
    await testClient.increaseTime({ seconds: Number(seconds) });
    await testClient.mine({ blocks: 1 });
  }
  async function buyCredits(who: HDAccount, amount: bigint) {
    const a = deployment.addresses;
    // The devnet feed is settable; a fresh price keeps minting open after the tests move time on.
    await send(deployer, a.priceFeed, SettablePriceFeedAbi, 'setPrice', [1_00000000n]);
    const tokens = (await read(a.credits, ServiceCreditsAbi, 'quoteTokens', [amount])) as bigint;
    await send(deployer, a.token, GroundworkTokenAbi, 'transfer', [who.address, tokens]);
    await send(who, a.token, GroundworkTokenAbi, 'approve', [a.credits, tokens]);
    await send(who, a.credits, ServiceCreditsAbi, 'mint', [who.address, tokens, amount]);
  }

  before(async () => {
    anvil = await startAnvil();
    pub = createPublicClient({ transport: http(anvil.rpcUrl) });
    testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) });
    const parameters = devnetParameters({
      deployer: deployer.address,
      oracles: oracles.map((o) => o.address),
      quorum: 2,
      genesisTime: (await pub.getBlock()).timestamp,
      epochDuration: 60n,
      challengeWindow: 30n,
      settlementGrace: GRACE,
      slashWindow: SLASH_WINDOW,
      keepDeployerAdmin: false,
    });
    parameters.networks.push({ kind: 'storage', weight: 1n, storagePrice: STORAGE_PRICE });
    deployment = await deploySystem({ rpcUrl: anvil.rpcUrl, privateKey: privateKeyOf(deployer), parameters });
    escrow = deployment.addresses.escrow!;
    slashOrders = deployment.addresses.slashOrders!;

    // a registered device, to be paid and slashed
    const a = deployment.addresses;
    const fee = (await read(a.registry, DeviceRegistryAbi, 'onboardingFee')) as bigint;
    const stake = (await read(a.registry, DeviceRegistryAbi, 'minStake')) as bigint;
    await buyCredits(owner, fee);
    await send(deployer, a.token, GroundworkTokenAbi, 'transfer', [owner.address, stake]);
    await send(owner, a.token, GroundworkTokenAbi, 'approve', [a.registry, stake]);
    await send(owner, a.credits, ServiceCreditsAbi, 'approveSpender', [a.registry, fee]);
    const key = generateDeviceKey();
    const pubKey = devicePublicKey(key.publicKey);
    deviceId = deviceIdOf(pubKey);
    const digest = (await read(a.registry, DeviceRegistryAbi, 'registrationDigest', [owner.address, uptime, 0n])) as Hex;
    const sig = signP256(key.privateKey, digest);
    await send(owner, a.registry, DeviceRegistryAbi, 'register', [uptime, pubKey.x, pubKey.y, 0n, stake, sig.r, sig.s]);
  });

  after(async () => {
    await anvil?.stop();
    if (Object.keys(gas).length) console.log('gas used (transaction, anvil):', gas);
  });

  test('deploys both contracts with their roles, admin handed to the timelock', async () => {
    const a = deployment.addresses;
    assert.match(escrow, /^0x[0-9a-fA-F]{40}$/);
    assert.match(slashOrders, /^0x[0-9a-fA-F]{40}$/);
    const ESCROW = await read(a.credits, ServiceCreditsAbi, 'ESCROW_ROLE');
    const SLASHER = await read(a.registry, DeviceRegistryAbi, 'SLASHER_ROLE');
    const GUARDIAN = await read(slashOrders, SlashOrdersAbi, 'GUARDIAN_ROLE');
    assert.equal(await read(a.credits, ServiceCreditsAbi, 'hasRole', [ESCROW, escrow]), true);
    assert.equal(await read(a.registry, DeviceRegistryAbi, 'hasRole', [SLASHER, slashOrders]), true);
    assert.equal(await read(slashOrders, SlashOrdersAbi, 'hasRole', [GUARDIAN, deployer.address]), true, 'guardian as for the distributor');
    assert.equal(await read(slashOrders, SlashOrdersAbi, 'hasRole', [GUARDIAN, a.timelock]), true);
    for (const [at, abi] of [
      [escrow, CreditEscrowAbi],
      [slashOrders, SlashOrdersAbi],
    ] as const) {
      assert.equal(await read(at, abi, 'hasRole', [ADMIN, a.timelock]), true);
      assert.equal(await read(at, abi, 'hasRole', [ADMIN, deployer.address]), false);
      assert.equal(await read(at, abi, 'oracleSet'), a.distributor, 'one oracle set: the distributor');
    }
    assert.equal(await read(escrow, CreditEscrowAbi, 'settlementGrace'), GRACE);
    assert.equal(await read(slashOrders, SlashOrdersAbi, 'challengeWindow'), SLASH_WINDOW);
  });

  test('a job escrows credits; quorum settlements burn them for the device; the final one refunds the rest', async () => {
    const a = deployment.addresses;
    const { chainId } = deployment;
    const max = 1_000_000n;
    await buyCredits(consumer, max);
    const balance = await credits(consumer.address);
    const jobId = escrowJobId(consumer.address, uptime, 0n);
    const deadline = (await pub.getBlock()).timestamp + 3600n;

    await expectRevert(simulate(consumer, escrow, CreditEscrowAbi, 'open', [uptime, jobId, balance + 1n, deadline]), 'InsufficientCredits');
    await expectRevert(simulate(consumer, escrow, CreditEscrowAbi, 'open', [networkId('nowhere'), jobId, max, deadline]), 'UnknownNetwork');
    const opened = await send(consumer, escrow, CreditEscrowAbi, 'open', [uptime, jobId, max, deadline]);
    gas['escrow.open'] = opened.gasUsed;
    assert.equal(await credits(consumer.address), balance - max);
    assert.equal(await read(a.credits, ServiceCreditsAbi, 'heldBy', [consumer.address, escrow]), max);
    assert.equal(await read(escrow, CreditEscrowAbi, 'heldFor', [jobId]), max);
    await expectRevert(simulate(consumer, escrow, CreditEscrowAbi, 'open', [uptime, jobId, 1n, deadline]), 'JobExists');

    // settlement 1: the TypeScript typed data hashes to what the contract checks
    const s1: SettlementMessage = {
      jobId,
      consumer: consumer.address,
      network: uptime,
      seq: 1n,
      deviceIds: [deviceId],
      amounts: [300_000n],
      isFinal: false,
    };
    const onChain = await read(escrow, CreditEscrowAbi, 'settlementDigest', [
      jobId,
      consumer.address,
      uptime,
      1n,
      [deviceId],
      [300_000n],
      false,
    ]);
    const local = hashTypedData({
      domain: creditEscrowDomain(chainId, escrow),
      types: SETTLEMENT_TYPES,
      primaryType: 'Settlement',
      message: { ...s1, deviceIds: [...s1.deviceIds], amounts: [...s1.amounts] },
    });
    assert.equal(onChain, local);

    const one = await signSettlement([oracles[0]!], chainId, escrow, s1);
    await expectRevert(
      simulate(consumer, escrow, CreditEscrowAbi, 'settle', [jobId, 1n, [deviceId], [300_000n], false, one]),
      'QuorumNotMet',
    );
    const sigs1 = await signSettlement([oracles[2]!, oracles[0]!], chainId, escrow, s1);
    const signers = await recoverSettlementSigners(sigs1, chainId, escrow, s1);
    assert.deepEqual(
      signers,
      [oracles[2]!.address, oracles[0]!.address].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1)),
    );
    // anyone relays it (here the device owner)
    const r1 = await send(owner, escrow, CreditEscrowAbi, 'settle', [jobId, 1n, [deviceId], [300_000n], false, sigs1]);
    gas['escrow.settle (1 device)'] = r1.gasUsed;
    const spent = parseEventLogs({ abi: ServiceCreditsAbi, logs: r1.logs, eventName: 'CreditsSpent' });
    assert.equal(spent.length, 1);
    assert.equal(spent[0]!.address.toLowerCase(), a.credits.toLowerCase(), 'emitted by ServiceCredits, where the follower reads it');
    assert.equal(spent[0]!.args.deviceId, deviceId);
    assert.equal(spent[0]!.args.account, consumer.address);
    assert.equal(spent[0]!.args.spender, escrow);
    assert.equal(spent[0]!.args.network, uptime);
    assert.equal(spent[0]!.args.credits, 300_000n);
    const onboardingFee = (await read(a.registry, DeviceRegistryAbi, 'onboardingFee')) as bigint;
    assert.equal(await read(a.credits, ServiceCreditsAbi, 'spentOnDevice', [deviceId]), onboardingFee + 300_000n);

    // the same settlement again is refused
    await expectRevert(
      simulate(deployer, escrow, CreditEscrowAbi, 'settle', [jobId, 1n, [deviceId], [300_000n], false, sigs1]),
      'UnexpectedSequence',
    );

    // settlement 2, final: burns 100,000 more and refunds 600,000
    const s2: SettlementMessage = { ...s1, seq: 2n, amounts: [100_000n], isFinal: true };
    const sigs2 = await signSettlement([oracles[0]!, oracles[1]!], chainId, escrow, s2);
    const r2 = await send(consumer, escrow, CreditEscrowAbi, 'settle', [jobId, 2n, [deviceId], [100_000n], true, sigs2]);
    gas['escrow.settle (final, refund)'] = r2.gasUsed;
    const closed = parseEventLogs({ abi: CreditEscrowAbi, logs: r2.logs, eventName: 'JobClosed' });
    assert.equal(closed[0]!.args.burned, 400_000n);
    assert.equal(closed[0]!.args.refunded, 600_000n);
    const released = parseEventLogs({ abi: ServiceCreditsAbi, logs: r2.logs, eventName: 'CreditsReleased' });
    assert.equal(released[0]!.args.account, consumer.address);
    assert.equal(released[0]!.args.credits, 600_000n);
    assert.equal(await credits(consumer.address), balance - 400_000n);
    const job = await read(escrow, CreditEscrowAbi, 'job', [jobId]);
    assert.equal(job.status, 3, 'Settled');
    assert.equal(job.escrowed, job.burned + job.refunded);
    assert.equal(await read(a.credits, ServiceCreditsAbi, 'totalHeld'), 0n);
  });

  test('a cancelled job is reclaimed after the grace when the oracle is silent', async () => {
    const max = 50_000n;
    await buyCredits(consumer, max);
    const balance = await credits(consumer.address);
    const jobId = escrowJobId(consumer.address, uptime, 1n);
    const deadline = (await pub.getBlock()).timestamp + 86_400n;
    await send(consumer, escrow, CreditEscrowAbi, 'open', [uptime, jobId, max, deadline]);
    await expectRevert(simulate(owner, escrow, CreditEscrowAbi, 'cancel', [jobId]), 'NotConsumer');
    const c = await send(consumer, escrow, CreditEscrowAbi, 'cancel', [jobId]);
    const cancelled = parseEventLogs({ abi: CreditEscrowAbi, logs: c.logs, eventName: 'JobCancelled' });
    const at = cancelled[0]!.args.reclaimableAt;
    assert.equal(at, (await pub.getBlock()).timestamp + GRACE, 'the cancel, not the deadline, starts the grace');
    await expectRevert(simulate(consumer, escrow, CreditEscrowAbi, 'reclaim', [jobId]), 'ReclaimTooEarly');
    await advance(GRACE);
    await send(consumer, escrow, CreditEscrowAbi, 'reclaim', [jobId]);
    assert.equal(await credits(consumer.address), balance);
    assert.equal((await read(escrow, CreditEscrowAbi, 'job', [jobId])).status, 4, 'Reclaimed');
  });

  test('a quorum-signed slash order executes after its window with the evidence hash; a vetoed one never', async () => {
    const a = deployment.addresses;
    const { chainId } = deployment;
    const stakeBefore = ((await read(a.registry, DeviceRegistryAbi, 'device', [deviceId])) as any).stake as bigint;
    const order: SlashOrderMessage = {
      epoch: 3n,
      deviceId,
      amount: parseEther('4'),
      evidenceHash: keccak256(toBytes('evidence: forged reports')),
      artifactHash: keccak256(toBytes('artifact of epoch 3')),
    };
    const args = (sigs: Hex) => [order.epoch, order.deviceId, order.amount, order.evidenceHash, order.artifactHash, sigs] as const;
    const sigs = await signSlashOrder([oracles[1]!, oracles[2]!], chainId, slashOrders, order);
    const id = slashOrderId(order);
    assert.equal(await read(slashOrders, SlashOrdersAbi, 'orderId', args(sigs).slice(0, 5)), id);

    const p = await send(owner, slashOrders, SlashOrdersAbi, 'propose', args(sigs));
    gas['slashOrders.propose'] = p.gasUsed;
    const proposed = parseEventLogs({ abi: SlashOrdersAbi, logs: p.logs, eventName: 'SlashProposed' });
    assert.equal(proposed[0]!.args.orderId, id);
    assert.equal(proposed[0]!.args.evidenceHash, order.evidenceHash);
    assert.equal(proposed[0]!.args.artifactHash, order.artifactHash);
    await expectRevert(simulate(owner, slashOrders, SlashOrdersAbi, 'propose', args(sigs)), 'OrderExists');
    await expectRevert(simulate(owner, slashOrders, SlashOrdersAbi, 'execute', [id]), 'ChallengeWindowNotOver');

    // a second order, vetoed by the guardian
    const other: SlashOrderMessage = { ...order, epoch: 4n };
    const otherSigs = await signSlashOrder([oracles[0]!, oracles[1]!], chainId, slashOrders, other);
    await send(owner, slashOrders, SlashOrdersAbi, 'propose', [
      other.epoch,
      other.deviceId,
      other.amount,
      other.evidenceHash,
      other.artifactHash,
      otherSigs,
    ]);
    const otherId = slashOrderId(other);
    await expectRevert(simulate(owner, slashOrders, SlashOrdersAbi, 'veto', [otherId]), 'AccessControlUnauthorizedAccount');
    await send(deployer, slashOrders, SlashOrdersAbi, 'veto', [otherId]);

    await advance(SLASH_WINDOW);
    const x = await send(consumer, slashOrders, SlashOrdersAbi, 'execute', [id]);
    gas['slashOrders.execute'] = x.gasUsed;
    const slashed = parseEventLogs({ abi: DeviceRegistryAbi, logs: x.logs, eventName: 'DeviceSlashed' });
    assert.equal(slashed[0]!.args.deviceId, deviceId);
    assert.equal(slashed[0]!.args.slasher, slashOrders);
    assert.equal(slashed[0]!.args.evidenceHash, order.evidenceHash);
    assert.equal(slashed[0]!.args.slashed, order.amount);
    const stakeAfter = ((await read(a.registry, DeviceRegistryAbi, 'device', [deviceId])) as any).stake as bigint;
    assert.equal(stakeAfter, stakeBefore - order.amount);
    await expectRevert(simulate(consumer, slashOrders, SlashOrdersAbi, 'execute', [id]), 'OrderNotPending');
    await expectRevert(simulate(consumer, slashOrders, SlashOrdersAbi, 'execute', [otherId]), 'OrderNotPending');
    assert.equal((await read(slashOrders, SlashOrdersAbi, 'order', [otherId])).status, 2, 'Vetoed');
  });

  test('a storage deal escrows price × bytes × time; the quorum releases only what has accrued; the final settlement refunds the rest', async () => {
    const a = deployment.addresses;
    const deals = a.deals!;
    const storage = networkId('storage');
    const { chainId } = deployment;
    assert.equal(
      await read(a.credits, ServiceCreditsAbi, 'hasRole', [await read(a.credits, ServiceCreditsAbi, 'ESCROW_ROLE'), deals]),
      true,
    );
    assert.equal(await read(deals, StorageDealsAbi, 'pricePerByteSecond', [storage]), STORAGE_PRICE);
    const bytes = 8n * 2n ** 20n;
    const duration = 3600n;
    const cost = (await read(deals, StorageDealsAbi, 'quote', [storage, bytes, duration])) as bigint;
    assert.equal(cost, (bytes * duration * STORAGE_PRICE + 10n ** 18n - 1n) / 10n ** 18n);
    await buyCredits(consumer, cost);
    const before = await credits(consumer.address);
    const dealId = escrowJobId(consumer.address, storage, 0n);
    const commitment = `0x${'ab'.repeat(32)}` as const;
    await expectRevert(
      simulate(consumer, deals, StorageDealsAbi, 'open', [storage, dealId, commitment, 8, bytes, duration, cost - 1n]),
      'PriceAboveLimit',
    );
    const opened = await send(consumer, deals, StorageDealsAbi, 'open', [storage, dealId, commitment, 8, bytes, duration, cost]);
    gas['deals.open'] = opened.gasUsed;
    assert.equal(await credits(consumer.address), before - cost);

    await advance(duration / 2n);
    const accrued = (await read(deals, StorageDealsAbi, 'accrued', [dealId])) as bigint;
    assert.ok(accrued >= cost / 2n && accrued < cost, `half the deal has accrued (${accrued} of ${cost})`);
    const over = { dealId, consumer: consumer.address, network: storage, seq: 1n, deviceIds: [deviceId], amounts: [cost], isFinal: false };
    const overSigs = await signDealSettlement([oracles[0]!, oracles[1]!], chainId, deals, over);
    await expectRevert(
      simulate(owner, deals, StorageDealsAbi, 'settle', [dealId, 1n, [deviceId], [cost], false, overSigs]),
      'ExceedsAccrued',
    );

    const pay = accrued / 2n;
    const s1 = { ...over, amounts: [pay] };
    const onChain = await read(deals, StorageDealsAbi, 'settlementDigest', [
      dealId,
      consumer.address,
      storage,
      1n,
      [deviceId],
      [pay],
      false,
    ]);
    const local = hashTypedData({
      domain: storageDealsDomain(chainId, deals),
      types: DEAL_SETTLEMENT_TYPES,
      primaryType: 'DealSettlement',
      message: s1,
    });
    assert.equal(onChain, local, 'the TypeScript typed data hashes to what the contract checks');
    const r1 = await send(owner, deals, StorageDealsAbi, 'settle', [
      dealId,
      1n,
      [deviceId],
      [pay],
      false,
      await signDealSettlement([oracles[1]!, oracles[2]!], chainId, deals, s1),
    ]);
    gas['deals.settle (1 device)'] = r1.gasUsed;
    const spent = parseEventLogs({ abi: ServiceCreditsAbi, logs: r1.logs, eventName: 'CreditsSpent' });
    assert.equal(spent[0]!.args.deviceId, deviceId);
    assert.equal(spent[0]!.args.network, storage);
    assert.equal(spent[0]!.args.credits, pay);

    await send(consumer, deals, StorageDealsAbi, 'terminate', [dealId]);
    const s2 = { ...over, seq: 2n, deviceIds: [], amounts: [], isFinal: true };
    await send(owner, deals, StorageDealsAbi, 'settle', [
      dealId,
      2n,
      [],
      [],
      true,
      await signDealSettlement([oracles[0]!, oracles[2]!], chainId, deals, s2),
    ]);
    assert.equal(await credits(consumer.address), before - pay, 'everything not released came back');
    const d = (await read(deals, StorageDealsAbi, 'deal', [dealId])) as {
      status: number;
      burned: bigint;
      refunded: bigint;
      escrowed: bigint;
    };
    assert.equal(d.status, 3, 'Settled');
    assert.equal(d.escrowed, d.burned + d.refunded);
  });
});
