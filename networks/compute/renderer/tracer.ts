// The path tracer. Vectors are kept in scalar f64 locals and module globals rather than Vec3
// objects: a frame traces millions of ray segments, and allocating per operation would spend
// most of the time in the garbage collector. Everything here is f64 add/mul/div/sqrt/floor,
// which WebAssembly defines bit-exactly, plus Math.tan/sin/cos from AssemblyScript's own
// wasm implementation (NativeMath), so no host maths is involved and output is reproducible.
import { fail } from './io';
import { random, seedPixel } from './rng';
import { Material, MaterialKind, Plane, Scene, Sphere } from './scene';

// Rays start this far along their direction so a bounce does not hit the surface it left.
const T_MIN: f64 = 1e-4;
const T_MAX: f64 = 1e30;

// The nearest hit of the last `intersect` call.
let hitT: f64 = 0;
let hitNx: f64 = 0;
let hitNy: f64 = 0;
let hitNz: f64 = 0;
let hitMaterial: Material | null = null;

// Output of the direction samplers.
let outX: f64 = 0;
let outY: f64 = 0;
let outZ: f64 = 0;

/** A uniformly distributed point in the unit ball, by rejection (no trigonometry needed). */
function randomInBall(): void {
  while (true) {
    const x = 2 * random() - 1;
    const y = 2 * random() - 1;
    const z = 2 * random() - 1;
    if (x * x + y * y + z * z < 1) {
      outX = x;
      outY = y;
      outZ = z;
      return;
    }
  }
}

function intersect(s: Scene, ox: f64, oy: f64, oz: f64, dx: f64, dy: f64, dz: f64): bool {
  let best = T_MAX;
  let found = false;
  const spheres = s.spheres;
  for (let i = 0, n = spheres.length; i < n; i++) {
    const sp = unchecked(spheres[i]);
    // |o + t d - c|^2 = r^2 with |d| = 1: t^2 + 2 b t + c = 0.
    const px = ox - sp.cx;
    const py = oy - sp.cy;
    const pz = oz - sp.cz;
    const b = px * dx + py * dy + pz * dz;
    const c = px * px + py * py + pz * pz - sp.radius * sp.radius;
    const disc = b * b - c;
    if (disc < 0) continue;
    const root = Math.sqrt(disc);
    let t = -b - root;
    if (t < T_MIN) t = -b + root;
    if (t < T_MIN || t >= best) continue;
    best = t;
    found = true;
    const inv = 1 / sp.radius;
    hitNx = (px + t * dx) * inv;
    hitNy = (py + t * dy) * inv;
    hitNz = (pz + t * dz) * inv;
    hitMaterial = sp.material;
  }
  const planes = s.planes;
  for (let i = 0, n = planes.length; i < n; i++) {
    const pl = unchecked(planes[i]);
    const denom = pl.nx * dx + pl.ny * dy + pl.nz * dz;
    if (Math.abs(denom) < 1e-12) continue;
    const t = ((pl.px - ox) * pl.nx + (pl.py - oy) * pl.ny + (pl.pz - oz) * pl.nz) / denom;
    if (t < T_MIN || t >= best) continue;
    best = t;
    found = true;
    hitNx = pl.nx;
    hitNy = pl.ny;
    hitNz = pl.nz;
    hitMaterial = pl.material;
  }
  hitT = best;
  return found;
}

/**
 * Follows one camera ray through up to `maxDepth` bounces and returns its radiance in
 * `outX, outY, outZ` (linear RGB). A path that runs out of bounces contributes nothing.
 */
function trace(s: Scene, ox: f64, oy: f64, oz: f64, dx: f64, dy: f64, dz: f64): void {
  let tr: f64 = 1;
  let tg: f64 = 1;
  let tb: f64 = 1;
  let r: f64 = 0;
  let g: f64 = 0;
  let b: f64 = 0;
  for (let depth = 0; depth < s.maxDepth; depth++) {
    if (!intersect(s, ox, oy, oz, dx, dy, dz)) {
      // Sky: blend from `bottom` at the horizon and below to `top` straight up.
      const k = dy > 0 ? dy : 0;
      r += tr * (s.skyBottomR + k * (s.skyTopR - s.skyBottomR));
      g += tg * (s.skyBottomG + k * (s.skyTopG - s.skyBottomG));
      b += tb * (s.skyBottomB + k * (s.skyTopB - s.skyBottomB));
      break;
    }
    const m = hitMaterial!;
    const hx = ox + hitT * dx;
    const hy = oy + hitT * dy;
    const hz = oz + hitT * dz;
    // Shade both faces alike: turn the normal towards the incoming ray.
    let nx = hitNx;
    let ny = hitNy;
    let nz = hitNz;
    const cosIn = nx * dx + ny * dy + nz * dz;
    if (cosIn > 0) {
      nx = -nx;
      ny = -ny;
      nz = -nz;
    }
    if (m.kind == MaterialKind.Emissive) {
      r += tr * m.r * m.strength;
      g += tg * m.g * m.strength;
      b += tb * m.b * m.strength;
      break;
    }
    let sx: f64;
    let sy: f64;
    let sz: f64;
    let ar = m.r;
    let ag = m.g;
    let ab = m.b;
    if (m.kind == MaterialKind.Metal) {
      // Mirror reflection, perturbed within a ball of radius `fuzz`; perturbations that end up
      // below the surface are absorbed.
      const dn = dx * nx + dy * ny + dz * nz;
      sx = dx - 2 * dn * nx;
      sy = dy - 2 * dn * ny;
      sz = dz - 2 * dn * nz;
      if (m.fuzz > 0) {
        randomInBall();
        sx += m.fuzz * outX;
        sy += m.fuzz * outY;
        sz += m.fuzz * outZ;
        if (sx * nx + sy * ny + sz * nz <= 0) break;
      }
    } else {
      // Lambertian: normal plus a random unit vector is cosine-distributed about the normal.
      randomInBall();
      const len = Math.sqrt(outX * outX + outY * outY + outZ * outZ);
      sx = nx;
      sy = ny;
      sz = nz;
      if (len > 1e-12) {
        sx += outX / len;
        sy += outY / len;
        sz += outZ / len;
      }
      if (sx * sx + sy * sy + sz * sz < 1e-16) {
        sx = nx;
        sy = ny;
        sz = nz;
      }
      if (m.checker) {
        // Sample the solid checkerboard slightly inside the surface: on a plane through a cube
        // boundary (the usual floor at y = 0) the exact hit point flickers between cells.
        const inv = 1 / m.checkerSize;
        const cell = Math.floor((hx - nx * 1e-3) * inv) + Math.floor((hy - ny * 1e-3) * inv) + Math.floor((hz - nz * 1e-3) * inv);
        if (cell - 2 * Math.floor(cell * 0.5) != 0) {
          ar = m.r2;
          ag = m.g2;
          ab = m.b2;
        }
      }
    }
    tr *= ar;
    tg *= ag;
    tb *= ab;
    const slen = Math.sqrt(sx * sx + sy * sy + sz * sz);
    ox = hx;
    oy = hy;
    oz = hz;
    dx = sx / slen;
    dy = sy / slen;
    dz = sz / slen;
  }
  outX = r;
  outY = g;
  outZ = b;
}

/** Linear radiance to an 8-bit value: clamp to [0, 1], gamma 2 (square root), round. */
function toByte(v: f64): u8 {
  // `!(v > 0)` also catches NaN, which must not reach the integer conversion.
  if (!(v > 0)) return 0;
  if (v >= 1) return 255;
  return <u8>(<i32>(Math.sqrt(v) * 255 + 0.5));
}

/** Moves the scene to `frame` (1-based): spheres along their velocity, the camera along its orbit. */
export function animate(s: Scene, frame: i32): void {
  const t = <f64>(frame - 1);
  for (let i = 0; i < s.spheres.length; i++) {
    const sp: Sphere = s.spheres[i];
    sp.cx += sp.vx * t;
    sp.cy += sp.vy * t;
    sp.cz += sp.vz * t;
  }
  const cam = s.camera;
  if (cam.orbit) {
    // Rotate the position about the vertical axis through the orbit centre.
    const angle = (2 * Math.PI * cam.turns * t) / <f64>s.frames;
    const c = Math.cos(angle);
    const sn = Math.sin(angle);
    const rx = cam.px - cam.ocx;
    const rz = cam.pz - cam.ocz;
    cam.px = cam.ocx + rx * c + rz * sn;
    cam.pz = cam.ocz - rx * sn + rz * c;
  }
}

/** Renders the (already animated) scene into `out` as RGB8 rows, top row first. */
export function render(s: Scene, frame: i32, out: Uint8Array): void {
  const cam = s.camera;
  // Camera basis: w points backwards (from the target to the eye), u right, v up.
  let wx = cam.px - cam.lx;
  let wy = cam.py - cam.ly;
  let wz = cam.pz - cam.lz;
  const wl = Math.sqrt(wx * wx + wy * wy + wz * wz);
  if (!(wl > 1e-9)) fail('scene.camera: position and lookAt coincide in frame ' + frame.toString());
  wx /= wl;
  wy /= wl;
  wz /= wl;
  let ux = cam.uy * wz - cam.uz * wy;
  let uy = cam.uz * wx - cam.ux * wz;
  let uz = cam.ux * wy - cam.uy * wx;
  const ul = Math.sqrt(ux * ux + uy * uy + uz * uz);
  if (!(ul > 1e-9)) fail('scene.camera.up: parallel to the view direction (or zero) in frame ' + frame.toString());
  ux /= ul;
  uy /= ul;
  uz /= ul;
  const vx = wy * uz - wz * uy;
  const vy = wz * ux - wx * uz;
  const vz = wx * uy - wy * ux;

  const width = s.width;
  const height = s.height;
  const halfH = Math.tan((cam.fov * Math.PI) / 360);
  const halfW = (halfH * <f64>width) / <f64>height;
  const invW = 1 / <f64>width;
  const invH = 1 / <f64>height;
  const invSamples = 1 / <f64>s.samples;

  let p = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seedPixel(s.seed, <u32>frame, <u32>(y * width + x));
      let r: f64 = 0;
      let g: f64 = 0;
      let b: f64 = 0;
      for (let i = 0; i < s.samples; i++) {
        // A jittered point in the pixel, mapped to [-1, 1] across the image (y up).
        const sx = (2 * (<f64>x + random()) * invW - 1) * halfW;
        const sy = (1 - 2 * (<f64>y + random()) * invH) * halfH;
        let dx = sx * ux + sy * vx - wx;
        let dy = sx * uy + sy * vy - wy;
        let dz = sx * uz + sy * vz - wz;
        const dl = Math.sqrt(dx * dx + dy * dy + dz * dz);
        dx /= dl;
        dy /= dl;
        dz /= dl;
        trace(s, cam.px, cam.py, cam.pz, dx, dy, dz);
        r += outX;
        g += outY;
        b += outZ;
      }
      out[p++] = toByte(r * invSamples);
      out[p++] = toByte(g * invSamples);
      out[p++] = toByte(b * invSamples);
    }
  }
}
