export * from './testnet.ts';
