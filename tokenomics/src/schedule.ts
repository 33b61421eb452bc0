// The emission schedule exactly as the Emissions contract computes it (contracts/src/emissions/
// Emissions.sol): `initialEpochEmission × (decayNumerator / decayDenominator)^(epoch / period)`,
// the power taken in RAY (1e27) fixed point by squaring with every step rounded down, then cut to
// what the token's cap still allows. Same integers, same rounding: a simulated epoch mints what
// the deployed contract would mint (a test checks it against the contract on anvil).

export const RAY = 10n ** 27n;

export type EmissionSchedule = {
  /** Token units (1e18 per token) minted in each epoch of the first period. */
  initialEpochEmission: bigint;
  decayNumerator: bigint;
  decayDenominator: bigint;
  decayPeriodEpochs: bigint;
};

/** OpenZeppelin's Math.mulDiv, rounding down. */
const mulDiv = (x: bigint, y: bigint, d: bigint): bigint => (x * y) / d;

function rpow(x: bigint, n: bigint): bigint {
  let z = RAY;
  while (n > 0n) {
    if ((n & 1n) === 1n) z = mulDiv(z, x, RAY);
    n >>= 1n;
    if (n > 0n) x = mulDiv(x, x, RAY);
    if (z === 0n) return 0n;
  }
  return z;
}

/** `Emissions.scheduledEmission(epoch)`. */
export function scheduledEmission(s: EmissionSchedule, epoch: number | bigint): bigint {
  const steps = BigInt(epoch) / s.decayPeriodEpochs;
  if (steps === 0n || s.decayNumerator === s.decayDenominator) return s.initialEpochEmission;
  if (s.decayNumerator === 0n) return 0n;
  return mulDiv(s.initialEpochEmission, rpow(mulDiv(s.decayNumerator, RAY, s.decayDenominator), steps), RAY);
}

/** What `Emissions.release(epoch)` mints: the scheduled emission cut to the cap's room. */
export function releasedEmission(s: EmissionSchedule, epoch: number | bigint, cap: bigint, totalSupply: bigint): bigint {
  const scheduled = scheduledEmission(s, epoch);
  const room = cap > totalSupply ? cap - totalSupply : 0n;
  return scheduled < room ? scheduled : room;
}
