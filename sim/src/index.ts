export * from './testnet.ts';
export * from './devnet.ts';
export * from './faucet.ts';
export * from './render-consumer.ts';
export * from './coverage-world.ts';
export * from './coverage-fleet.ts';
export * from './iot.ts';
