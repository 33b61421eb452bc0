// @groundwork/contracts: layer 3 of Groundwork as seen from TypeScript.
export * from './generated/contracts.ts';
export * from './anvil.ts';
export * from './deploy.ts';
export * from './networks.ts';
export * from './market-signatures.ts';
export * from './session.ts';
export * from './allowances.ts';
export { devnetAccounts, DEVNET_MNEMONIC } from './devnet-accounts.ts';
