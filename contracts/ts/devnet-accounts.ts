import { bytesToHex, type Address, type Hex } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';

/** The mnemonic behind anvil's funded development accounts. Never use it on a public chain. */
export const DEVNET_MNEMONIC = 'test test test test test test test test test test test junk';

/** Anvil development account `index`: its address and private key. */
export function devnetAccounts(index: number): { address: Address; privateKey: Hex } {
  if (!Number.isInteger(index) || index < 0) throw new Error(`account index must be a non-negative integer, got ${index}`);
  const account = mnemonicToAccount(DEVNET_MNEMONIC, { addressIndex: index });
  return { address: account.address, privateKey: bytesToHex(account.getHdKey().privateKey!) };
}
