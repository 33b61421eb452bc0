export * from './testnet.ts';
export * from './devnet.ts';
