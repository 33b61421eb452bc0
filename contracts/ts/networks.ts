import { keccak256, toBytes, type Hex } from 'viem';

/**
 * On-chain id of a resource network: keccak256 of its kind's name, e.g. `networkId('uptime')`
 * equals Solidity's `keccak256("uptime")`.
 */
export function networkId(kind: string): Hex {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(kind)) {
    throw new Error(`network kind ${JSON.stringify(kind)} must be 1-32 lowercase letters, digits or dashes, starting with a letter`);
  }
  return keccak256(toBytes(kind));
}
