// The devnet's faucet: token and gas for a newcomer's owner account, paid by the devnet's deployer
// (which holds the genesis allocation). It pays only on the devnet's own chain: an anvil node
// whose chain id is the deployment's and whose deployer is the devnet's well-known account 0. On
// any other chain those tokens are not the deployer's to give.
import { type Address, type Hex, parseEther, type PublicClient } from 'viem';
import { type Deployment, devnetAccounts, GroundworkTokenAbi } from '@groundwork/contracts';
import { chainSession } from '@groundwork/agent';

export type FaucetOptions = {
  rpcUrl: string;
  deployment: Deployment;
  to: Address;
  /** Token units to send (default 1,000 GWK). */
  tokens?: bigint;
  /** Wei the account is topped up to, if it has less (default 10 ether). */
  ether?: bigint;
};

export type FaucetResult = { to: Address; tokens: bigint; tokenTx: Hex; ether: bigint; etherTx: Hex | null; balance: bigint };

export const FAUCET_TOKENS = parseEther('1000');
export const FAUCET_ETHER = parseEther('10');

/** The faucet refused: not the devnet's chain, or nothing left to give. */
export class FaucetRefused extends Error {
  override name = 'FaucetRefused';
}

/** Checks that `client` is the devnet's anvil chain for `deployment`, or throws FaucetRefused naming why not. */
export async function assertDevnetChain(client: PublicClient, rpcUrl: string, deployment: Deployment): Promise<void> {
  const version = String(await client.request({ method: 'web3_clientVersion' } as never));
  const chainId = await client.getChainId();
  if (!version.startsWith('anvil/') || chainId !== deployment.chainId) {
    throw new FaucetRefused(
      `the faucet pays only on the devnet's own chain (anvil, chain ${deployment.chainId}); ${rpcUrl} is "${version}", chain ${chainId}`,
    );
  }
  const deployer = devnetAccounts(0).address;
  if (deployment.deployer.toLowerCase() !== deployer.toLowerCase()) {
    throw new FaucetRefused(
      `this deployment was not made by the devnet's deployer ${deployer}, so its tokens are not the faucet's to give`,
    );
  }
}

/**
 * Sends `tokens` GWK from the devnet deployer to `to`, and tops its gas up to `ether`.
 *
 * @example
 * await devnetFaucet({ rpcUrl: 'http://127.0.0.1:8545', deployment, to: '0xa0Ee…' });
 */
export async function devnetFaucet(o: FaucetOptions): Promise<FaucetResult> {
  const s = chainSession(o.rpcUrl, o.deployment, devnetAccounts(0).privateKey);
  await assertDevnetChain(s.client, o.rpcUrl, o.deployment);
  const tokens = o.tokens ?? FAUCET_TOKENS;
  const ether = o.ether ?? FAUCET_ETHER;
  const token = o.deployment.addresses.token;
  const left = (await s.client.readContract({
    address: token,
    abi: GroundworkTokenAbi,
    functionName: 'balanceOf',
    args: [s.account.address],
  })) as bigint;
  if (left < tokens) throw new FaucetRefused(`the devnet's deployer has ${left} token units left, fewer than the ${tokens} asked for`);

  const { request } = await s.client.simulateContract({
    account: s.account,
    address: token,
    abi: GroundworkTokenAbi,
    functionName: 'transfer',
    args: [o.to, tokens],
    blockTag: 'pending',
  });
  const tokenTx = await s.wallet.writeContract(request);
  await s.client.waitForTransactionReceipt({ hash: tokenTx });

  let etherTx: Hex | null = null;
  const gas = await s.client.getBalance({ address: o.to });
  if (gas < ether) {
    etherTx = await s.wallet.sendTransaction({ account: s.account, chain: null, to: o.to, value: ether - gas });
    await s.client.waitForTransactionReceipt({ hash: etherTx });
  }
  const balance = (await s.client.readContract({
    address: token,
    abi: GroundworkTokenAbi,
    functionName: 'balanceOf',
    args: [o.to],
  })) as bigint;
  return { to: o.to, tokens, tokenTx, ether: etherTx ? ether - gas : 0n, etherTx, balance };
}
