/** Absolute path of the native binary of `tool` for this platform, from its npm package. */
export function foundryBinary(tool: 'forge' | 'anvil'): string;
