// The coverage network (issue 11): Helium IoT's beacon and witness checks, HIP-17 transmit
// scaling, reward units and pools, radio arithmetic and data-credit pricing (the pure core), and
// the plug-in on top of them (plugin/: verifier, service, packet router, hotspot worker).
export * from './checks.ts';
export * from './hex-density.ts';
export * from './radio.ts';
export * from './reward-units.ts';
export * from './rules.ts';
export * from './poc.ts';
export * from './plugin/index.ts';
export * from './client.ts';
