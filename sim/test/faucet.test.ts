// The devnet faucet pays only on the devnet's own chain: refused on another chain id, on a node
// that is not anvil, and for a deployment the devnet's deployer did not make. (That it pays on the
// devnet is tested by the README walkthrough, sim/test/walkthrough.test.ts.)
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Address } from 'viem';
import { startAnvil, type Anvil } from '@groundwork/contracts';
import { devnetFaucet, FaucetRefused, startTestnet, type Testnet } from '@groundwork/sim';

const NEWCOMER = '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720' as Address;

/** A JSON-RPC endpoint that answers as another client (geth) on the devnet's chain id. */
function notAnvil(chainId: number): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const { id, method } = JSON.parse(body) as { id: number; method: string };
      const result =
        method === 'web3_clientVersion'
          ? 'Geth/v1.14.0-stable/linux-amd64/go1.22'
          : method === 'eth_chainId'
            ? `0x${chainId.toString(16)}`
            : null;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })),
  );
}

describe('devnet faucet refusals', () => {
  let net: Testnet;
  let other: Anvil;
  let fake: { url: string; server: Server };

  before(async () => {
    net = await startTestnet({ devices: 0, startOracle: false });
    other = await startAnvil({ chainId: 31338 });
    fake = await notAnvil(net.deployment.chainId);
  });
  after(async () => {
    fake?.server.close();
    await other?.stop();
    await net?.stop();
  });

  test('on another chain id', async () => {
    await assert.rejects(devnetFaucet({ rpcUrl: other.rpcUrl, deployment: net.deployment, to: NEWCOMER }), (err: Error) => {
      assert.ok(err instanceof FaucetRefused);
      assert.match(err.message, /only on the devnet's own chain \(anvil, chain 31337\).*chain 31338/);
      return true;
    });
  });

  test('on a node that is not anvil', async () => {
    await assert.rejects(devnetFaucet({ rpcUrl: fake.url, deployment: net.deployment, to: NEWCOMER }), /"Geth\/v1\.14\.0/);
  });

  test('for a deployment the devnet deployer did not make, and for more than the deployer has', async () => {
    const foreign = { ...net.deployment, deployer: NEWCOMER };
    await assert.rejects(devnetFaucet({ rpcUrl: net.rpcUrl, deployment: foreign, to: NEWCOMER }), /not made by the devnet's deployer/);
    await assert.rejects(
      devnetFaucet({ rpcUrl: net.rpcUrl, deployment: net.deployment, to: NEWCOMER, tokens: 10n ** 40n }),
      /fewer than the/,
    );
    assert.equal(await net.tokenBalance(NEWCOMER), 0n, 'nothing was sent');
  });
});
