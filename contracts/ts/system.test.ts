// End to end on a real anvil: deploy the whole chain layer through the deploy module, register a
// device with a node:crypto P-256 key, buy credits, post a root signed by a 2-of-3 oracle quorum
// and claim with proofs made by @openzeppelin/merkle-tree.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import {
  BaseError,
  ContractFunctionRevertedError,
  bytesToHex,
  concat,
  createPublicClient,
  createTestClient,
  createWalletClient,
  http,
  parseEther,
  sha256,
  type Address,
  type Hex,
} from 'viem';
import { mnemonicToAccount, type HDAccount } from 'viem/accounts';
import { startAnvil, type Anvil } from './anvil.ts';
import { deploySystem, devnetParameters, DeployParameterError, type Deployment } from './deploy.ts';
import {
  REWARD_ROOT_TYPES,
  deviceIdOf,
  devicePublicKey,
  generateDeviceKey,
  rewardRootDomain,
  signP256,
  signRewardRoot,
} from '@groundwork/protocol';
import {
  CreditEscrowAbi,
  DeviceRegistryAbi,
  EmissionsAbi,
  GroundworkTokenAbi,
  RewardDistributorAbi,
  ServiceCreditsAbi,
  SlashOrdersAbi,
  TimelockControllerAbi,
} from './generated/contracts.ts';
import { networkId } from './networks.ts';

const MNEMONIC = 'test test test test test test test test test test test junk'; // anvil's dev accounts
const account = (i: number) => mnemonicToAccount(MNEMONIC, { addressIndex: i });
const privateKeyOf = (a: HDAccount): Hex => bytesToHex(a.getHdKey().privateKey!);
const ADMIN = `0x${'00'.repeat(32)}` as const;
const EPOCH = 60n;
const WINDOW = 30n;

/** Runs `fn` and asserts it reverts with the custom error `name`. */
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

describe('chain layer on anvil', () => {
  let anvil: Anvil;
  let deployment: Deployment;
  let dir: string;
  const deployer = account(0);
  const oracles = [account(1), account(2), account(3)];
  const owner = account(4);
  const consumer = account(5);
  let pub: ReturnType<typeof createPublicClient>;
  let testClient: ReturnType<typeof createTestClient>;
  const wallet = (a: HDAccount) => createWalletClient({ account: a, transport: http(anvil.rpcUrl) });
  const gas: Record<string, bigint> = {};

  async function send(a: HDAccount, address: Address, abi: any, functionName: string, args: readonly unknown[]) {
    const { request } = await pub.simulateContract({ account: a, address, abi, functionName, args } as any);
    const hash = await wallet(a).writeContract(request as any);
    const receipt = await pub.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
    return receipt;
  }

  async function advance(seconds: bigint) {
    await testClient.increaseTime({ seconds: Number(seconds) });
    await testClient.mine({ blocks: 1 });
  }

  before(async () => {
    anvil = await startAnvil();
    dir = mkdtempSync(path.join(tmpdir(), 'groundwork-deploy-'));
    pub = createPublicClient({ transport: http(anvil.rpcUrl) });
    testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) });
    const block = await pub.getBlock();
    deployment = await deploySystem({
      rpcUrl: anvil.rpcUrl,
      privateKey: privateKeyOf(deployer),
      parameters: devnetParameters({
        deployer: deployer.address,
        oracles: oracles.map((o) => o.address),
        quorum: 2,
        genesisTime: block.timestamp,
        epochDuration: EPOCH,
        challengeWindow: WINDOW,
        keepDeployerAdmin: false,
      }),
      outFile: path.join(dir, 'deployment.json'),
    });
  });

  after(async () => {
    await anvil?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (Object.keys(gas).length) console.log('gas used (transaction, anvil):', gas);
  });

  test('writes a deployment file and hands every admin role to the timelock', async () => {
    const file = JSON.parse(readFileSync(path.join(dir, 'deployment.json'), 'utf8'));
    assert.equal(file.chainId, 31337);
    assert.deepEqual(file.addresses, deployment.addresses);
    assert.equal(file.parameters.rewards.quorum, 2);
    assert.equal(file.networks[0].id, networkId('uptime'));
    const { addresses: a } = deployment;
    for (const [at, abi] of [
      [a.emissions, EmissionsAbi],
      [a.credits, ServiceCreditsAbi],
      [a.registry, DeviceRegistryAbi],
      [a.distributor, RewardDistributorAbi],
      [a.escrow!, CreditEscrowAbi],
      [a.slashOrders!, SlashOrdersAbi],
      [a.timelock, TimelockControllerAbi],
    ] as const) {
      const timelockAdmin = await pub.readContract({ address: at, abi: abi as any, functionName: 'hasRole', args: [ADMIN, a.timelock] });
      const deployerAdmin = await pub.readContract({
        address: at,
        abi: abi as any,
        functionName: 'hasRole',
        args: [ADMIN, deployer.address],
      });
      assert.equal(timelockAdmin, true, `timelock administers ${at}`);
      assert.equal(deployerAdmin, false, `deployer kept admin of ${at}`);
    }
    assert.equal(await pub.readContract({ address: a.token, abi: GroundworkTokenAbi, functionName: 'minter' }), a.emissions);
    await expectRevert(
      () =>
        pub.simulateContract({
          account: deployer,
          address: a.distributor,
          abi: RewardDistributorAbi,
          functionName: 'setChallengeWindow',
          args: [1n],
        }),
      'AccessControlUnauthorizedAccount',
    );
  });

  test('rejects bad deploy parameters before sending anything', async () => {
    const params = devnetParameters({ deployer: deployer.address, oracles: [oracles[0]!.address], genesisTime: 0n });
    params.rewards.quorum = 3;
    await assert.rejects(
      deploySystem({ rpcUrl: anvil.rpcUrl, privateKey: privateKeyOf(deployer), parameters: params }),
      (err: Error) => err instanceof DeployParameterError && /rewards\.quorum: quorum 3 exceeds the 1 oracles/.test(err.message),
    );
    await assert.rejects(
      deploySystem({
        rpcUrl: 'not a url',
        privateKey: privateKeyOf(deployer),
        parameters: devnetParameters({ deployer: deployer.address, oracles: [deployer.address], genesisTime: 0n }),
      }),
      /rpcUrl "not a url" is not a URL/,
    );
  });

  test('registers a device with a P-256 key from node:crypto after buying credits', async () => {
    const { addresses: a } = deployment;
    const uptime = networkId('uptime');
    await send(deployer, a.token, GroundworkTokenAbi, 'transfer', [owner.address, parseEther('1000')]);

    // buy credits: burn token at the feed price ($1), 1 credit = $0.00001
    const fee = (await pub.readContract({ address: a.registry, abi: DeviceRegistryAbi, functionName: 'onboardingFee' })) as bigint;
    const tokens = (await pub.readContract({
      address: a.credits,
      abi: ServiceCreditsAbi,
      functionName: 'quoteTokens',
      args: [fee],
    })) as bigint;
    assert.equal(tokens, parseEther('40'), '4,000,000 credits cost $40 = 40 token at $1');
    await send(owner, a.token, GroundworkTokenAbi, 'approve', [a.credits, tokens]);
    const supplyBefore = await pub.readContract({ address: a.token, abi: GroundworkTokenAbi, functionName: 'totalSupply' });
    const mint = await send(owner, a.credits, ServiceCreditsAbi, 'mint', [owner.address, tokens, fee]);
    gas['credits.mint'] = mint.gasUsed;
    assert.equal(
      await pub.readContract({ address: a.credits, abi: ServiceCreditsAbi, functionName: 'balanceOf', args: [owner.address] }),
      fee,
    );
    assert.equal(await pub.readContract({ address: a.token, abi: GroundworkTokenAbi, functionName: 'totalSupply' }), supplyBefore - tokens);

    const stake = (await pub.readContract({ address: a.registry, abi: DeviceRegistryAbi, functionName: 'minStake' })) as bigint;
    await send(owner, a.token, GroundworkTokenAbi, 'approve', [a.registry, stake]);
    await send(owner, a.credits, ServiceCreditsAbi, 'approveSpender', [a.registry, fee]);

    const key = generateDeviceKey();
    const pubKey = devicePublicKey(key.publicKey);
    const id = deviceIdOf(pubKey);
    const digest = (await pub.readContract({
      address: a.registry,
      abi: DeviceRegistryAbi,
      functionName: 'registrationDigest',
      args: [owner.address, uptime, 0n],
    })) as Hex;

    // another key's signature is refused
    const impostor = signP256(generateDeviceKey().privateKey, digest);
    await expectRevert(
      () =>
        pub.simulateContract({
          account: owner,
          address: a.registry,
          abi: DeviceRegistryAbi,
          functionName: 'register',
          args: [uptime, pubKey.x, pubKey.y, 0n, stake, impostor.r, impostor.s],
        }),
      'InvalidDeviceSignature',
    );

    const sig = signP256(key.privateKey, digest);
    const reg = await send(owner, a.registry, DeviceRegistryAbi, 'register', [uptime, pubKey.x, pubKey.y, 0n, stake, sig.r, sig.s]);
    gas['registry.register'] = reg.gasUsed;
    // anvil's default hardfork has the P-256 precompile (EIP-7951 at 0x100), so OpenZeppelin's
    // P256 uses it instead of the ~220k-gas Solidity fallback (snapshots/GasTest.json).
    const h = sha256(digest);
    const precompile = await pub.call({
      to: '0x0000000000000000000000000000000000000100',
      data: concat([h, sig.r, sig.s, pubKey.x, pubKey.y]),
    });
    assert.equal(precompile.data, `0x${'00'.repeat(31)}01`, 'P-256 precompile present and agrees');
    assert.ok(reg.gasUsed < 400_000n, `register used ${reg.gasUsed} gas: P-256 precompile not used?`);
    assert.equal(
      await pub.readContract({ address: a.registry, abi: DeviceRegistryAbi, functionName: 'ownerOf', args: [id] }),
      owner.address,
    );
    const device = (await pub.readContract({ address: a.registry, abi: DeviceRegistryAbi, functionName: 'device', args: [id] })) as any;
    assert.equal(device.keyX, pubKey.x);
    assert.equal(device.keyY, pubKey.y);
    assert.equal(device.stake, stake);
    assert.equal(await pub.readContract({ address: a.credits, abi: ServiceCreditsAbi, functionName: 'spentOnDevice', args: [id] }), fee);

    // the same signature cannot register again
    await expectRevert(
      () =>
        pub.simulateContract({
          account: owner,
          address: a.registry,
          abi: DeviceRegistryAbi,
          functionName: 'register',
          args: [uptime, pubKey.x, pubKey.y, 0n, stake, sig.r, sig.s],
        }),
      'DeviceAlreadyRegistered',
    );
  });

  test('posts a quorum-signed root and pays claims proven with @openzeppelin/merkle-tree', async () => {
    const { addresses: a, chainId } = deployment;
    const genesisTime = deployment.parameters.schedule.genesisTime;
    const now = (await pub.getBlock()).timestamp;
    const endOfEpoch0 = genesisTime + EPOCH;
    if (now < endOfEpoch0) await advance(endOfEpoch0 - now);
    await send(consumer, a.emissions, EmissionsAbi, 'release', [0n]);
    const released = (await pub.readContract({
      address: a.emissions,
      abi: EmissionsAbi,
      functionName: 'releasedTo',
      args: [a.distributor],
    })) as bigint;
    assert.equal(released, deployment.parameters.schedule.initialEpochEmission);

    // The oracle's own signing code (protocol) against the real contract.
    const domain = rewardRootDomain(chainId, a.distributor);
    const types = REWARD_ROOT_TYPES;
    async function post(epoch: bigint, values: [Address, bigint][], signers: HDAccount[]) {
      const tree = StandardMerkleTree.of(
        values.map(([acct, amt]) => [acct, amt.toString()]),
        ['address', 'uint256'],
      );
      const total = values.reduce((s, [, v]) => s + v, 0n);
      const artifactHash = `0x${'ab'.repeat(32)}` as Hex;
      const message = { epoch, root: tree.root as Hex, total, artifactHash };
      const sigs = await signRewardRoot(signers, chainId, a.distributor, message);
      const digest = (await pub.readContract({
        address: a.distributor,
        abi: RewardDistributorAbi,
        functionName: 'rootDigest',
        args: [epoch, message.root, total, artifactHash],
      })) as Hex;
      assert.match(digest, /^0x[0-9a-f]{64}$/);
      const receipt = await send(consumer, a.distributor, RewardDistributorAbi, 'postRoot', [
        epoch,
        message.root,
        total,
        artifactHash,
        sigs,
      ]);
      return { tree, receipt, total, sigs, message };
    }
    const proofOf = (tree: StandardMerkleTree<any[]>, acct: Address) => {
      for (const [i, v] of tree.entries()) if (v[0] === acct) return tree.getProof(i) as Hex[];
      throw new Error(`no leaf for ${acct}`);
    };

    // one signature is not a quorum
    {
      const tree = StandardMerkleTree.of([[owner.address, '1']], ['address', 'uint256']);
      const sig = await oracles[0]!.signTypedData({
        domain,
        types,
        primaryType: 'RewardRoot',
        message: { epoch: 0n, root: tree.root as Hex, total: 1n, artifactHash: `0x${'00'.repeat(32)}` },
      });
      await expectRevert(
        () =>
          pub.simulateContract({
            account: consumer,
            address: a.distributor,
            abi: RewardDistributorAbi,
            functionName: 'postRoot',
            args: [0n, tree.root as Hex, 1n, `0x${'00'.repeat(32)}`, sig],
          }),
        'QuorumNotMet',
      );
    }

    // 1,000 accounts, as a real epoch would have: proofs are 10 deep
    const many: [Address, bigint][] = Array.from({ length: 998 }, (_, i) => [`0x${(i + 1).toString(16).padStart(40, '0')}` as Address, 1n]);
    const epoch0: [Address, bigint][] = [[owner.address, parseEther('100')], [consumer.address, parseEther('50')], ...many];
    const p0 = await post(0n, epoch0, [oracles[0]!, oracles[2]!]);
    gas['postRoot (first)'] = p0.receipt.gasUsed;

    // claims wait for the challenge window
    await expectRevert(
      () =>
        pub.simulateContract({
          account: consumer,
          address: a.distributor,
          abi: RewardDistributorAbi,
          functionName: 'claim',
          args: [owner.address, parseEther('100'), p0.tree.root as Hex, proofOf(p0.tree, owner.address)],
        }),
      'NoClaimableRoot',
    );
    await advance(WINDOW);

    // anyone claims for the owner; the owner is paid
    const before = (await pub.readContract({
      address: a.token,
      abi: GroundworkTokenAbi,
      functionName: 'balanceOf',
      args: [owner.address],
    })) as bigint;
    const c1 = await send(consumer, a.distributor, RewardDistributorAbi, 'claim', [
      owner.address,
      parseEther('100'),
      p0.tree.root as Hex,
      proofOf(p0.tree, owner.address),
    ]);
    gas['claim (first for account, 10-deep proof)'] = c1.gasUsed;
    assert.equal(
      await pub.readContract({ address: a.token, abi: GroundworkTokenAbi, functionName: 'balanceOf', args: [owner.address] }),
      before + parseEther('100'),
    );

    // over-claims and double claims are refused
    await expectRevert(
      () =>
        pub.simulateContract({
          account: consumer,
          address: a.distributor,
          abi: RewardDistributorAbi,
          functionName: 'claim',
          args: [owner.address, parseEther('101'), p0.tree.root as Hex, proofOf(p0.tree, owner.address)],
        }),
      'InvalidProof',
    );
    await expectRevert(
      () =>
        pub.simulateContract({
          account: consumer,
          address: a.distributor,
          abi: RewardDistributorAbi,
          functionName: 'claim',
          args: [owner.address, parseEther('100'), p0.tree.root as Hex, proofOf(p0.tree, owner.address)],
        }),
      'NothingToClaim',
    );

    // epoch 1: cumulative amounts grow; the owner is paid only the difference
    await advance(EPOCH);
    await send(consumer, a.emissions, EmissionsAbi, 'release', [1n]);
    const epoch1: [Address, bigint][] = [[owner.address, parseEther('160')], [consumer.address, parseEther('90')], ...many];
    const p1 = await post(1n, epoch1, [oracles[1]!, oracles[2]!]);
    gas['postRoot (second)'] = p1.receipt.gasUsed;
    // replaying the epoch-1 signatures is refused
    await advance(WINDOW);
    await expectRevert(
      () =>
        pub.simulateContract({
          account: consumer,
          address: a.distributor,
          abi: RewardDistributorAbi,
          functionName: 'postRoot',
          args: [1n, p1.message.root, p1.total, p1.message.artifactHash, p1.sigs],
        }),
      'EpochNotAfterLatest',
    );
    // a claim against the old root is refused
    await expectRevert(
      () =>
        pub.simulateContract({
          account: consumer,
          address: a.distributor,
          abi: RewardDistributorAbi,
          functionName: 'claim',
          args: [consumer.address, parseEther('50'), p0.tree.root as Hex, proofOf(p0.tree, consumer.address)],
        }),
      'RootMismatch',
    );
    const c2 = await send(owner, a.distributor, RewardDistributorAbi, 'claim', [
      owner.address,
      parseEther('160'),
      p1.tree.root as Hex,
      proofOf(p1.tree, owner.address),
    ]);
    gas['claim (repeat, 10-deep proof)'] = c2.gasUsed;
    assert.equal(
      await pub.readContract({ address: a.token, abi: GroundworkTokenAbi, functionName: 'balanceOf', args: [owner.address] }),
      before + parseEther('160'),
    );
    assert.equal(
      await pub.readContract({ address: a.distributor, abi: RewardDistributorAbi, functionName: 'claimed', args: [owner.address] }),
      parseEther('160'),
    );

    // batch claim pays the consumer and skips the owner (already paid)
    const batch = [
      { account: owner.address, cumulativeAmount: parseEther('160'), proof: proofOf(p1.tree, owner.address) },
      { account: consumer.address, cumulativeAmount: parseEther('90'), proof: proofOf(p1.tree, consumer.address) },
    ];
    await send(deployer, a.distributor, RewardDistributorAbi, 'claimMany', [batch, p1.tree.root as Hex]);
    assert.equal(
      await pub.readContract({ address: a.distributor, abi: RewardDistributorAbi, functionName: 'totalClaimed' }),
      parseEther('250'),
    );
    // the oracle-signed total never exceeds what emissions released
    const releasedNow = (await pub.readContract({
      address: a.emissions,
      abi: EmissionsAbi,
      functionName: 'releasedTo',
      args: [a.distributor],
    })) as bigint;
    assert.ok(p1.total <= releasedNow);
  });
});
