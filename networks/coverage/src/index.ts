// The coverage network (issue 11), its pure core so far: Helium IoT's beacon and witness checks,
// HIP-17 transmit scaling, reward units and pools, radio arithmetic and data-credit pricing.
export * from './checks.ts';
export * from './hex-density.ts';
export * from './radio.ts';
export * from './reward-units.ts';
export * from './rules.ts';
export * from './poc.ts';
