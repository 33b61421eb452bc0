// What the CLI's tests share: running one command line in-process with its output captured, and a
// well-formed deployment file for a chain that does not exist (for the argument checks).
import type { Address } from 'viem';
import { type Deployment, devnetAccounts, devnetParameters, networkId, writeDeploymentFile } from '@groundwork/contracts';
import { type Io, main } from '../src/index.ts';

export type Run = { code: number; out: string; err: string };

/** Runs one command line through main(argv, io); resolves to its exit code and what it printed. */
export async function run(args: string[], o: { env?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Run> {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: o.env ?? {},
    signal: o.signal,
  };
  const code = await main(args, io);
  return { code, out, err };
}

/** A deployment of `networks` whose addresses are 0x…01, 0x…02, …; with a CreditEscrow unless `escrow` is false. */
export function fakeDeployment(networks: readonly string[], o: { escrow?: boolean } = {}): Deployment {
  const a = (n: number) => `0x${n.toString(16).padStart(40, '0')}` as Address;
  return {
    chainId: 31337,
    deployer: devnetAccounts(0).address,
    startBlock: 1n,
    endBlock: 2n,
    addresses: {
      token: a(1),
      emissions: a(2),
      priceFeed: a(3),
      credits: a(4),
      registry: a(5),
      distributor: a(6),
      timelock: a(7),
      governor: a(8),
      ...(o.escrow === false ? {} : { escrow: a(9) }),
    },
    networks: networks.map((kind) => ({ kind, id: networkId(kind), weight: 1n })),
    parameters: devnetParameters({ deployer: devnetAccounts(0).address, oracles: [devnetAccounts(1).address], quorum: 1, genesisTime: 1n }),
  };
}

export function writeFakeDeployment(file: string, networks: readonly string[], o: { escrow?: boolean } = {}): void {
  writeDeploymentFile(file, fakeDeployment(networks, o));
}
