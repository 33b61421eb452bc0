import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  createPublicClient,
  createWalletClient,
  getAddress,
  getContractAddress,
  http,
  zeroAddress,
  type Abi,
  type Address,
  type Hex,
  type PublicClient,
  type WalletClient,
} from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { z } from 'zod';
import {
  CreditEscrowAbi,
  CreditEscrowBytecode,
  DeviceRegistryAbi,
  DeviceRegistryBytecode,
  EmissionsAbi,
  EmissionsBytecode,
  GroundworkGovernorAbi,
  GroundworkGovernorBytecode,
  GroundworkTokenAbi,
  GroundworkTokenBytecode,
  RewardDistributorAbi,
  RewardDistributorBytecode,
  ServiceCreditsAbi,
  ServiceCreditsBytecode,
  SettablePriceFeedAbi,
  SettablePriceFeedBytecode,
  SlashOrdersAbi,
  SlashOrdersBytecode,
  StorageDealsAbi,
  StorageDealsBytecode,
  TimelockControllerAbi,
  TimelockControllerBytecode,
} from './generated/contracts.ts';
import { networkId } from './networks.ts';

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address') as z.ZodType<Address>;
const nonZeroAddress = address.refine((a) => a.toLowerCase() !== zeroAddress, 'must not be the zero address');
// Bigints, or the decimal strings a deployment file stores them as.
const bigintLike = z.union([
  z.bigint(),
  z
    .string()
    .regex(/^(0|[1-9][0-9]*)$/, 'must be a decimal integer')
    .transform((v) => BigInt(v)),
]);
const uint = bigintLike.pipe(z.bigint().nonnegative('must not be negative'));
const positive = bigintLike.pipe(z.bigint().positive('must be positive'));

/** Everything a deployment needs; see `devnetParameters` for defaults and their sources. */
export const deployParametersSchema = z
  .object({
    token: z.object({ name: z.string().min(1), symbol: z.string().min(1), cap: positive }),
    genesis: z.array(z.object({ account: nonZeroAddress, amount: uint })),
    schedule: z.object({
      genesisTime: uint,
      epochDuration: positive,
      initialEpochEmission: uint,
      decayPeriodEpochs: positive,
      decayNumerator: uint,
      decayDenominator: positive,
    }),
    networks: z
      .array(
        z.object({
          kind: z.string(),
          weight: uint,
          /** StorageDeals price for this network, in 1e-18 credits per byte-second (absent: no deals). */
          storagePrice: uint.optional(),
        }),
      )
      .min(1, 'needs at least one network'),
    priceFeed: z.union([
      z.object({ address: nonZeroAddress }),
      z.object({ decimals: z.number().int().min(0).max(36), initialPrice: positive, description: z.string() }),
    ]),
    maxPriceAge: positive,
    breaker: z.object({ limit: positive, window: positive }),
    registry: z.object({ onboardingFee: uint, locationFee: uint, minStake: uint, unstakeDelay: uint }),
    rewards: z.object({
      oracles: z.array(nonZeroAddress).min(1, 'needs at least one oracle').max(16),
      quorum: z.number().int().min(1),
      challengeWindow: uint,
      guardian: address.optional(),
    }),
    /**
     * CreditEscrow: seconds after a job's deadline (or cancel) before its consumer may reclaim
     * what the oracle has not settled (at most 90 days). Optional only so that deployment files
     * written before the escrow existed still load; deploySystem uses 1 day if it is missing.
     */
    escrow: z.object({ settlementGrace: uint.pipe(z.bigint().max(90n * 86_400n, 'at most 90 days')) }).optional(),
    /**
     * SlashOrders: seconds a proposed slash order waits for the guardian's veto (at most 30 days;
     * keep it below registry.unstakeDelay). The guardian is rewards.guardian. Optional as
     * `escrow`; deploySystem uses rewards.challengeWindow if it is missing.
     */
    slashing: z.object({ challengeWindow: uint.pipe(z.bigint().max(30n * 86_400n, 'at most 30 days')) }).optional(),
    governance: z.object({
      votingDelay: uint,
      votingPeriod: positive,
      proposalThreshold: uint,
      quorumPercent: bigintLike.pipe(z.bigint().min(0n).max(100n)),
      timelockDelay: uint,
    }),
    slashers: z.array(nonZeroAddress),
    spenders: z.array(nonZeroAddress),
    /** Devnet only: the deployer keeps admin rights beside the timelock. */
    keepDeployerAdmin: z.boolean(),
  })
  .superRefine((p, ctx) => {
    if (p.rewards.quorum > p.rewards.oracles.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['rewards', 'quorum'],
        message: `quorum ${p.rewards.quorum} exceeds the ${p.rewards.oracles.length} oracles`,
      });
    }
    const slashWindow = p.slashing?.challengeWindow ?? p.rewards.challengeWindow;
    if (slashWindow >= p.registry.unstakeDelay) {
      ctx.addIssue({
        code: 'custom',
        path: ['slashing', 'challengeWindow'],
        message: `slash window ${slashWindow} must be shorter than registry.unstakeDelay ${p.registry.unstakeDelay}, or a cheater can withdraw its stake before the slash executes`,
      });
    }
    if (p.schedule.decayNumerator > p.schedule.decayDenominator) {
      ctx.addIssue({ code: 'custom', path: ['schedule', 'decayNumerator'], message: 'decay must be a fraction <= 1' });
    }
    const genesis = p.genesis.reduce((s, g) => s + g.amount, 0n);
    if (genesis > p.token.cap) {
      ctx.addIssue({ code: 'custom', path: ['genesis'], message: `genesis allocations (${genesis}) exceed the cap (${p.token.cap})` });
    }
    const kinds = new Set<string>();
    p.networks.forEach((n, i) => {
      try {
        networkId(n.kind);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['networks', i, 'kind'], message: (err as Error).message });
      }
      if (kinds.has(n.kind)) ctx.addIssue({ code: 'custom', path: ['networks', i, 'kind'], message: `duplicate network ${n.kind}` });
      kinds.add(n.kind);
    });
  });

export type DeployParameters = z.infer<typeof deployParametersSchema>;

export type DeploymentAddresses = {
  token: Address;
  emissions: Address;
  priceFeed: Address;
  credits: Address;
  registry: Address;
  distributor: Address;
  timelock: Address;
  governor: Address;
  /** CreditEscrow. Always set by deploySystem; absent in deployment files from before it existed. */
  escrow?: Address;
  /** SlashOrders. Always set by deploySystem; absent in deployment files from before it existed. */
  slashOrders?: Address;
  /** StorageDeals. Always set by deploySystem; absent in deployment files from before it existed. */
  deals?: Address;
};

/** What a deployment file holds. Bigints are decimal strings in the JSON file. */
export type Deployment = {
  chainId: number;
  deployer: Address;
  /** Block of the first deployment transaction: followers start indexing here. */
  startBlock: bigint;
  /** Block of the last set-up transaction. */
  endBlock: bigint;
  addresses: DeploymentAddresses;
  networks: { kind: string; id: Hex; weight: bigint }[];
  parameters: DeployParameters;
};

/** A parameter or environment problem found before any transaction is sent. */
export class DeployParameterError extends Error {
  override name = 'DeployParameterError';
}

/** A deployment transaction failed; `step` names which. */
export class DeployError extends Error {
  override name = 'DeployError';
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`deploy step "${step}" failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

const ETHER = 10n ** 18n;

/**
 * Devnet defaults. Field references: Helium Data Credits (onboarding 4,000,000 DC = $40, location
 * assert 1,000,000 DC = $10, price no older than 10 minutes); OpenZeppelin Governor common
 * defaults scaled down for a devnet (quorum 4%).
 */
export function devnetParameters(opts: {
  deployer: Address;
  oracles: Address[];
  quorum?: number;
  genesisTime: bigint;
  epochDuration?: bigint;
  challengeWindow?: bigint;
  genesis?: { account: Address; amount: bigint }[];
  keepDeployerAdmin?: boolean;
  /** Escrow settlement grace; default 20 epochs. */
  settlementGrace?: bigint;
  /** Slash-order challenge window; default the reward challenge window. */
  slashWindow?: bigint;
}): DeployParameters {
  return {
    token: { name: 'Groundwork', symbol: 'GWK', cap: 10_000_000_000n * ETHER },
    genesis: opts.genesis ?? [{ account: opts.deployer, amount: 1_000_000_000n * ETHER }],
    schedule: {
      genesisTime: opts.genesisTime,
      epochDuration: opts.epochDuration ?? 30n,
      initialEpochEmission: 10_000n * ETHER,
      // a halving every 100,000 epochs (about five weeks of 30-second devnet epochs)
      decayPeriodEpochs: 100_000n,
      decayNumerator: 1n,
      decayDenominator: 2n,
    },
    networks: [{ kind: 'uptime', weight: 1n }],
    priceFeed: { decimals: 8, initialPrice: 1_00000000n, description: 'GWK / USD (devnet, settable)' },
    maxPriceAge: 600n,
    breaker: { limit: 100_000_000_000n, window: 86_400n },
    registry: { onboardingFee: 4_000_000n, locationFee: 1_000_000n, minStake: 10n * ETHER, unstakeDelay: 3_600n },
    rewards: {
      oracles: opts.oracles,
      quorum: opts.quorum ?? Math.min(2, opts.oracles.length),
      challengeWindow: opts.challengeWindow ?? 5n,
      guardian: opts.deployer,
    },
    escrow: { settlementGrace: opts.settlementGrace ?? 20n * (opts.epochDuration ?? 30n) },
    slashing: { challengeWindow: opts.slashWindow ?? opts.challengeWindow ?? 5n },
    governance: { votingDelay: 60n, votingPeriod: 600n, proposalThreshold: 0n, quorumPercent: 4n, timelockDelay: 60n },
    slashers: [],
    spenders: [],
    keepDeployerAdmin: opts.keepDeployerAdmin ?? true,
  };
}

export type DeployParametersInput = {
  /** JSON-RPC URL of any EVM chain. */
  rpcUrl: string;
  /** Deployer's private key (0x-prefixed, 32 bytes). */
  privateKey: Hex;
  parameters: DeployParameters;
  /** If set, the deployment file is written here (atomically). */
  outFile?: string;
  /** Called after each step, for progress displays. */
  onStep?: (step: string) => void;
};

/**
 * Deploys the whole chain layer (timelock, token, emissions, price feed, credits, registry,
 * distributor, governor, credit escrow, slash orders), wires it (the escrow holds credits with
 * ServiceCredits' ESCROW_ROLE, SlashOrders slashes with the registry's SLASHER_ROLE, both read
 * the distributor's oracle set), and hands every admin role to the timelock.
 *
 * @example
 * const deployment = await deploySystem({ rpcUrl, privateKey, parameters: devnetParameters({...}) });
 */
export async function deploySystem(input: DeployParametersInput): Promise<Deployment> {
  const parsed = deployParametersSchema.safeParse(input.parameters);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new DeployParameterError(`invalid deploy parameters:\n  ${issues.join('\n  ')}`);
  }
  const p = parsed.data;
  if (!/^0x[0-9a-fA-F]{64}$/.test(input.privateKey)) {
    throw new DeployParameterError('privateKey must be 0x followed by 64 hex digits');
  }
  let url: URL;
  try {
    url = new URL(input.rpcUrl);
  } catch {
    throw new DeployParameterError(`rpcUrl ${JSON.stringify(input.rpcUrl)} is not a URL`);
  }
  const account = privateKeyToAccount(input.privateKey);
  const publicClient = createPublicClient({ transport: http(url.toString()) });
  const wallet = createWalletClient({ account, transport: http(url.toString()) });
  let chainId: number;
  try {
    chainId = await publicClient.getChainId();
  } catch (err) {
    throw new DeployParameterError(`cannot reach ${url}: ${(err as Error).message}`);
  }
  const d = new Deployer(publicClient, wallet, account, input.onStep);
  const startBlock = await publicClient.getBlockNumber();

  const timelock = await d.deploy('timelock', TimelockControllerAbi, TimelockControllerBytecode, [
    p.governance.timelockDelay,
    [],
    [zeroAddress], // anyone may execute a proposal once its delay has passed
    account.address,
  ]);
  // The token's only minter is Emissions, fixed in the token's bytecode; Emissions is deployed
  // right after the token, so its address is the deployer's next nonce.
  const tokenNonce = await d.nextNonce();
  const emissionsAddress = getContractAddress({ from: account.address, nonce: BigInt(tokenNonce + 1) });
  const token = await d.deploy('token', GroundworkTokenAbi, GroundworkTokenBytecode, [
    p.token.name,
    p.token.symbol,
    p.token.cap,
    emissionsAddress,
  ]);
  const emissions = await d.deploy('emissions', EmissionsAbi, EmissionsBytecode, [
    token,
    account.address,
    p.schedule,
    p.genesis.map((g) => g.account),
    p.genesis.map((g) => g.amount),
  ]);
  if (emissions.toLowerCase() !== emissionsAddress.toLowerCase()) {
    throw new DeployError('emissions', new Error(`deployed at ${emissions}, token expects minter ${emissionsAddress}`));
  }
  const priceFeed =
    'address' in p.priceFeed
      ? p.priceFeed.address
      : await d.deploy('price feed', SettablePriceFeedAbi, SettablePriceFeedBytecode, [
          account.address,
          p.priceFeed.decimals,
          p.priceFeed.description,
          p.priceFeed.initialPrice,
        ]);
  const credits = await d.deploy('credits', ServiceCreditsAbi, ServiceCreditsBytecode, [
    token,
    account.address,
    priceFeed,
    p.maxPriceAge,
    p.breaker.limit,
    p.breaker.window,
  ]);
  const registry = await d.deploy('registry', DeviceRegistryAbi, DeviceRegistryBytecode, [
    token,
    credits,
    emissions,
    account.address,
    p.registry,
  ]);
  const distributor = await d.deploy('distributor', RewardDistributorAbi, RewardDistributorBytecode, [
    token,
    emissions,
    account.address,
    p.rewards.guardian ?? zeroAddress,
    p.rewards.oracles,
    BigInt(p.rewards.quorum),
    p.rewards.challengeWindow,
  ]);
  const governor = await d.deploy('governor', GroundworkGovernorAbi, GroundworkGovernorBytecode, [
    token,
    timelock,
    Number(p.governance.votingDelay),
    Number(p.governance.votingPeriod),
    p.governance.proposalThreshold,
    p.governance.quorumPercent,
  ]);
  // Deployed after everything else, so the addresses of the contracts above are what they were
  // before the escrow and slash orders existed (a devnet's known addresses stay valid).
  const escrow = await d.deploy('escrow', CreditEscrowAbi, CreditEscrowBytecode, [
    credits,
    emissions,
    distributor,
    account.address,
    p.escrow?.settlementGrace ?? 86_400n,
  ]);
  const slashOrders = await d.deploy('slash orders', SlashOrdersAbi, SlashOrdersBytecode, [
    registry,
    distributor,
    account.address,
    p.rewards.guardian ?? zeroAddress,
    p.slashing?.challengeWindow ?? p.rewards.challengeWindow,
  ]);

  const deals = await d.deploy('storage deals', StorageDealsAbi, StorageDealsBytecode, [
    credits,
    emissions,
    distributor,
    account.address,
    p.escrow?.settlementGrace ?? 86_400n,
  ]);

  for (const n of p.networks) {
    await d.call(`network ${n.kind}`, emissions, EmissionsAbi, 'setNetworkWeight', [networkId(n.kind), n.weight]);
    if (n.storagePrice !== undefined)
      await d.call(`storage price ${n.kind}`, deals, StorageDealsAbi, 'setPrice', [networkId(n.kind), n.storagePrice]);
  }
  await d.call('rewards pool', emissions, EmissionsAbi, 'setRewardsPool', [distributor]);
  const SPENDER = await publicClient.readContract({ address: credits, abi: ServiceCreditsAbi, functionName: 'SPENDER_ROLE' });
  const SLASHER = await publicClient.readContract({ address: registry, abi: DeviceRegistryAbi, functionName: 'SLASHER_ROLE' });
  const GUARDIAN = await publicClient.readContract({ address: distributor, abi: RewardDistributorAbi, functionName: 'GUARDIAN_ROLE' });
  const ESCROW = await publicClient.readContract({ address: credits, abi: ServiceCreditsAbi, functionName: 'ESCROW_ROLE' });
  await d.call('registry spends credits', credits, ServiceCreditsAbi, 'grantRole', [SPENDER, registry]);
  await d.call('escrow holds credits', credits, ServiceCreditsAbi, 'grantRole', [ESCROW, escrow]);
  await d.call('storage deals hold credits', credits, ServiceCreditsAbi, 'grantRole', [ESCROW, deals]);
  await d.call('slash orders slash', registry, DeviceRegistryAbi, 'grantRole', [SLASHER, slashOrders]);
  for (const s of p.spenders) await d.call(`spender ${s}`, credits, ServiceCreditsAbi, 'grantRole', [SPENDER, s]);
  for (const s of p.slashers) await d.call(`slasher ${s}`, registry, DeviceRegistryAbi, 'grantRole', [SLASHER, s]);

  const PROPOSER = await publicClient.readContract({ address: timelock, abi: TimelockControllerAbi, functionName: 'PROPOSER_ROLE' });
  const CANCELLER = await publicClient.readContract({ address: timelock, abi: TimelockControllerAbi, functionName: 'CANCELLER_ROLE' });
  await d.call('governor proposes', timelock, TimelockControllerAbi, 'grantRole', [PROPOSER, governor]);
  await d.call('governor cancels', timelock, TimelockControllerAbi, 'grantRole', [CANCELLER, governor]);

  // Hand every admin role to the timelock.
  const ADMIN = '0x0000000000000000000000000000000000000000000000000000000000000000' as const;
  const governed = [
    ['emissions', emissions, EmissionsAbi],
    ['credits', credits, ServiceCreditsAbi],
    ['registry', registry, DeviceRegistryAbi],
    ['distributor', distributor, RewardDistributorAbi],
    ['escrow', escrow, CreditEscrowAbi],
    ['slash orders', slashOrders, SlashOrdersAbi],
    ['storage deals', deals, StorageDealsAbi],
  ] as const;
  for (const [name, at, abi] of governed) {
    await d.call(`${name} admin to timelock`, at, abi as Abi, 'grantRole', [ADMIN, timelock]);
  }
  await d.call('timelock guards roots', distributor, RewardDistributorAbi, 'grantRole', [GUARDIAN, timelock]);
  // SlashOrders' GUARDIAN_ROLE hashes the same string as the distributor's.
  await d.call('timelock guards slashes', slashOrders, SlashOrdersAbi, 'grantRole', [GUARDIAN, timelock]);
  if (!p.keepDeployerAdmin) {
    for (const [name, at, abi] of governed) {
      await d.call(`${name} deployer renounces`, at, abi as Abi, 'renounceRole', [ADMIN, account.address]);
    }
    if (p.rewards.guardian?.toLowerCase() !== account.address.toLowerCase()) {
      await d.call('deployer renounces guardian', distributor, RewardDistributorAbi, 'renounceRole', [GUARDIAN, account.address]);
      await d.call('deployer renounces slash guardian', slashOrders, SlashOrdersAbi, 'renounceRole', [GUARDIAN, account.address]);
    }
    await d.call('timelock deployer renounces', timelock, TimelockControllerAbi, 'renounceRole', [ADMIN, account.address]);
  }

  const deployment: Deployment = {
    chainId,
    deployer: account.address,
    startBlock: startBlock + 1n,
    endBlock: d.lastBlock,
    addresses: { token, emissions, priceFeed, credits, registry, distributor, timelock, governor, escrow, slashOrders, deals },
    networks: p.networks.map((n) => ({ kind: n.kind, id: networkId(n.kind), weight: n.weight })),
    parameters: p,
  };
  if (input.outFile) writeDeploymentFile(input.outFile, deployment);
  return deployment;
}

/** Sends the deployer's transactions one after another with explicit nonces. */
class Deployer {
  lastBlock = 0n;
  private nonce: number | undefined;

  constructor(
    private readonly publicClient: PublicClient,
    private readonly wallet: WalletClient,
    private readonly account: PrivateKeyAccount,
    private readonly onStep?: (step: string) => void,
  ) {}

  async nextNonce(): Promise<number> {
    this.nonce ??= await this.publicClient.getTransactionCount({ address: this.account.address, blockTag: 'pending' });
    return this.nonce;
  }

  async deploy(step: string, abi: Abi, bytecode: Hex, args: readonly unknown[]): Promise<Address> {
    const receipt = await this.send(step, () =>
      this.nextNonce().then((nonce) => this.wallet.deployContract({ abi, bytecode, args, account: this.account, chain: null, nonce })),
    );
    if (!receipt.contractAddress) throw new DeployError(step, new Error('receipt has no contract address'));
    return getAddress(receipt.contractAddress);
  }

  async call(step: string, address: Address, abi: Abi, functionName: string, args: readonly unknown[]): Promise<void> {
    await this.send(step, () =>
      this.nextNonce().then((nonce) =>
        this.wallet.writeContract({ address, abi, functionName, args, account: this.account, chain: null, nonce }),
      ),
    );
  }

  private async send(step: string, submit: () => Promise<Hex>) {
    try {
      const hash = await submit();
      this.nonce = (this.nonce ?? 0) + 1;
      const receipt = await this.publicClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted`);
      this.lastBlock = receipt.blockNumber;
      this.onStep?.(step);
      return receipt;
    } catch (err) {
      if (err instanceof DeployError) throw err;
      throw new DeployError(step, err);
    }
  }
}

/** JSON with bigints as decimal strings. */
export function serializeDeployment(deployment: Deployment): string {
  return `${JSON.stringify(deployment, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}

/** Writes the deployment file atomically (temp file, then rename): never half-written. */
export function writeDeploymentFile(file: string, deployment: Deployment): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, serializeDeployment(deployment));
  renameSync(tmp, file);
}

const deploymentFileSchema = z.object({
  chainId: z.number().int().positive(),
  deployer: address,
  startBlock: z.coerce.bigint(),
  endBlock: z.coerce.bigint(),
  addresses: z.object({
    token: address,
    emissions: address,
    priceFeed: address,
    credits: address,
    registry: address,
    distributor: address,
    timelock: address,
    governor: address,
    escrow: address.optional(),
    slashOrders: address.optional(),
    deals: address.optional(),
  }),
  networks: z.array(z.object({ kind: z.string(), id: z.string() as z.ZodType<Hex>, weight: z.coerce.bigint() })),
  parameters: deployParametersSchema,
});

/**
 * Reads and checks a deployment file. Throws an error naming the file and the bad field.
 */
export function readDeploymentFile(file: string): Deployment {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DeployParameterError(`cannot read deployment file ${file}: ${(err as Error).message}`);
  }
  const parsed = deploymentFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new DeployParameterError(`deployment file ${file} is invalid:\n  ${issues.join('\n  ')}`);
  }
  return parsed.data;
}
