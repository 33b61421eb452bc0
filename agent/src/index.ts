// @groundwork/agent: layer 1, the provider's node, and the client-side tools (claims, verify).
export * from './agent.ts';
export * from './provider.ts';
export * from './verify.ts';
export * from './keyfile.ts';
