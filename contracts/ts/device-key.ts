// Device keys moved to @groundwork/protocol (shared by the agent, the oracle and the contracts' tests).
export { generateDeviceKey, devicePublicKey, deviceIdOf, signP256, P256_N } from '@groundwork/protocol';
export type { DevicePublicKey, P256Signature } from '@groundwork/protocol';
