// Deterministic randomness: SplitMix64, integer-only, so every engine produces the same stream.
// Each pixel gets its own stream, derived from (scene seed, frame, pixel index): a pixel's value
// does not depend on the order pixels are rendered in, so a frame split into tiles and rendered
// by several workers would still come out byte-identical.

let state: u64 = 0;

function mix(z: u64): u64 {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

export function seedPixel(seed: u32, frame: u32, pixel: u32): void {
  state = mix(((<u64>seed) << 32) | <u64>frame) ^ mix(<u64>pixel + 0x9e3779b97f4a7c15);
}

/** A uniform double in [0, 1): the top 53 bits of the next output, which convert exactly. */
export function random(): f64 {
  state += 0x9e3779b97f4a7c15;
  return <f64>(mix(state) >> 11) * 1.1102230246251565e-16; // 2^-53
}
