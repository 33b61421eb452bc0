// Arithmetic in GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), the field of
// Reed-Solomon codes in Storj, Backblaze and Linux RAID-6. MUL holds every product, so
// multiplying a whole piece by a constant is one 256-byte table row looked up per byte.
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
}

export function mul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!;
}

export function inv(a: number): number {
  if (a === 0) throw new RangeError('0 has no inverse in GF(2^8)');
  return EXP[255 - LOG[a]!]!;
}

/** MUL[c * 256 + x] = c · x. */
export const MUL = new Uint8Array(256 * 256);
for (let c = 0; c < 256; c++) for (let x = 0; x < 256; x++) MUL[c * 256 + x] = mul(c, x);

/** Inverts a k×k matrix (row-major) by Gauss-Jordan elimination; throws if it is singular. */
export function invert(m: Uint8Array, k: number): Uint8Array {
  const a = m.slice();
  const out = new Uint8Array(k * k);
  for (let i = 0; i < k; i++) out[i * k + i] = 1;
  for (let col = 0; col < k; col++) {
    let pivot = col;
    while (pivot < k && a[pivot * k + col] === 0) pivot++;
    if (pivot === k) throw new RangeError('singular matrix');
    if (pivot !== col)
      for (let j = 0; j < k; j++) {
        [a[col * k + j], a[pivot * k + j]] = [a[pivot * k + j]!, a[col * k + j]!];
        [out[col * k + j], out[pivot * k + j]] = [out[pivot * k + j]!, out[col * k + j]!];
      }
    const s = inv(a[col * k + col]!);
    for (let j = 0; j < k; j++) {
      a[col * k + j] = mul(a[col * k + j]!, s);
      out[col * k + j] = mul(out[col * k + j]!, s);
    }
    for (let r = 0; r < k; r++) {
      const f = a[r * k + col]!;
      if (r === col || f === 0) continue;
      for (let j = 0; j < k; j++) {
        a[r * k + j]! ^= mul(f, a[col * k + j]!);
        out[r * k + j]! ^= mul(f, out[col * k + j]!);
      }
    }
  }
  return out;
}
