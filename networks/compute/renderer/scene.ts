// The scene model and its reader. The reader applies the defaults and limits documented in
// README.md and mirrored by the host's zod schema (src/render/scene.ts); the host validates before
// submitting, but the renderer checks again because it may be handed any bytes. Every error names
// the offending field, e.g. `scene.objects[2].material.type`.
import { fail } from './io';
import { JsonValue, Kind, kindName } from './json';

export const MAX_SIZE: f64 = 4096;
export const MAX_SAMPLES: f64 = 4096;
export const MAX_DEPTH: f64 = 64;
export const MAX_FRAMES: f64 = 100000;
export const MAX_OBJECTS: i32 = 1024;
export const MAX_SEED: f64 = 4294967295;

export const enum MaterialKind {
  Diffuse,
  Metal,
  Emissive,
}

export class Material {
  kind: MaterialKind = MaterialKind.Diffuse;
  r: f64 = 0.8;
  g: f64 = 0.8;
  b: f64 = 0.8;
  /** Metal: radius of the random perturbation of the mirror direction. */
  fuzz: f64 = 0;
  /** Emissive: multiplier applied to the colour. */
  strength: f64 = 1;
  /** Diffuse: a 3D checkerboard alternating `colour` with `r2, g2, b2` in cubes of `checkerSize`. */
  checker: bool = false;
  r2: f64 = 0;
  g2: f64 = 0;
  b2: f64 = 0;
  checkerSize: f64 = 1;
}

export class Sphere {
  cx: f64 = 0;
  cy: f64 = 0;
  cz: f64 = 0;
  radius: f64 = 1;
  vx: f64 = 0;
  vy: f64 = 0;
  vz: f64 = 0;
  material: Material = new Material();
}

export class Plane {
  px: f64 = 0;
  py: f64 = 0;
  pz: f64 = 0;
  /** Unit normal (normalised when read). */
  nx: f64 = 0;
  ny: f64 = 1;
  nz: f64 = 0;
  material: Material = new Material();
}

export class Camera {
  px: f64 = 0;
  py: f64 = 0;
  pz: f64 = 0;
  lx: f64 = 0;
  ly: f64 = 0;
  lz: f64 = 0;
  ux: f64 = 0;
  uy: f64 = 1;
  uz: f64 = 0;
  /** Vertical field of view in degrees. */
  fov: f64 = 40;
  orbit: bool = false;
  ocx: f64 = 0;
  ocy: f64 = 0;
  ocz: f64 = 0;
  /** Full revolutions over `frames` frames. */
  turns: f64 = 1;
}

export class Scene {
  width: i32 = 0;
  height: i32 = 0;
  samples: i32 = 16;
  maxDepth: i32 = 8;
  seed: u32 = 0;
  frames: i32 = 1;
  skyTopR: f64 = 0.5;
  skyTopG: f64 = 0.7;
  skyTopB: f64 = 1.0;
  skyBottomR: f64 = 1;
  skyBottomG: f64 = 1;
  skyBottomB: f64 = 1;
  camera: Camera = new Camera();
  spheres: Sphere[] = [];
  planes: Plane[] = [];
}

/** Formats a number for a message: whole numbers without AssemblyScript's trailing `.0`. */
function fmt(n: f64): string {
  if (n == Math.floor(n) && Math.abs(n) < 9007199254740992) return (<i64>n).toString();
  return n.toString();
}

/** Reads an object value at a path; every accessor names `path.key` in its errors. */
class Obj {
  constructor(
    public v: JsonValue,
    public path: string,
  ) {
    if (v.kind != Kind.Object) fail(path + ': must be an object, got ' + kindName(v.kind));
  }

  /** Rejects members outside `allowed`, so a misspelt field is an error rather than ignored. */
  only(allowed: string[]): void {
    for (let i = 0; i < this.v.keys.length; i++) {
      const k = unchecked(this.v.keys[i]);
      if (!allowed.includes(k)) fail(this.path + '.' + k + ': unknown field (allowed: ' + allowed.join(', ') + ')');
    }
  }

  has(key: string): bool {
    return this.v.get(key) != null;
  }

  required(key: string): JsonValue {
    const v = this.v.get(key);
    if (v == null) fail(this.path + '.' + key + ': required');
    return v!;
  }

  obj(key: string): Obj {
    return new Obj(this.required(key), this.path + '.' + key);
  }

  /** A number in [lo, hi]; `integer` also requires a whole number. Absent: `def`, or an error if NaN. */
  num(key: string, def: f64, lo: f64, hi: f64, integer: bool = false): f64 {
    const v = this.v.get(key);
    const at = this.path + '.' + key;
    if (v == null) {
      if (isNaN(def)) fail(at + ': required');
      return def;
    }
    if (v.kind != Kind.Number) fail(at + ': must be a number, got ' + kindName(v.kind));
    const n = v.num;
    if (integer && n != Math.floor(n)) fail(at + ': must be an integer, got ' + fmt(n));
    if (!(n >= lo && n <= hi)) fail(at + ': must be between ' + fmt(lo) + ' and ' + fmt(hi) + ', got ' + fmt(n));
    return n;
  }

  /** A number strictly greater than `lo` and at most `hi`. */
  positive(key: string, def: f64, lo: f64, hi: f64): f64 {
    const n = this.num(key, def, lo, hi);
    if (!(n > lo)) fail(this.path + '.' + key + ': must be greater than ' + fmt(lo) + ', got ' + fmt(n));
    return n;
  }

  str(key: string): string {
    const v = this.required(key);
    if (v.kind != Kind.String) fail(this.path + '.' + key + ': must be a string, got ' + kindName(v.kind));
    return v.str;
  }

  /** A 3-element number array with each component in [lo, hi]; null when absent. */
  vec3(key: string, lo: f64, hi: f64, required: bool): StaticArray<f64> | null {
    const v = this.v.get(key);
    const at = this.path + '.' + key;
    if (v == null) {
      if (required) fail(at + ': required');
      return null;
    }
    if (v.kind != Kind.Array || v.items.length != 3) fail(at + ': must be an array of 3 numbers');
    const out = new StaticArray<f64>(3);
    for (let i = 0; i < 3; i++) {
      const c = unchecked(v.items[i]);
      const ca = at + '[' + i.toString() + ']';
      if (c.kind != Kind.Number) fail(ca + ': must be a number, got ' + kindName(c.kind));
      if (!(c.num >= lo && c.num <= hi)) fail(ca + ': must be between ' + fmt(lo) + ' and ' + fmt(hi) + ', got ' + fmt(c.num));
      out[i] = c.num;
    }
    return out;
  }
}

// Coordinates are bounded so that squared distances stay far from overflow.
const COORD: f64 = 1e6;

function readMaterial(o: Obj): Material {
  const m = new Material();
  const type = o.str('type');
  if (type == 'diffuse') {
    o.only(['type', 'color', 'checker']);
    m.kind = MaterialKind.Diffuse;
    const c = o.vec3('color', 0, 1, true)!;
    m.r = c[0];
    m.g = c[1];
    m.b = c[2];
    if (o.has('checker')) {
      const k = o.obj('checker');
      k.only(['color', 'size']);
      const c2 = k.vec3('color', 0, 1, true)!;
      m.checker = true;
      m.r2 = c2[0];
      m.g2 = c2[1];
      m.b2 = c2[2];
      m.checkerSize = k.positive('size', 1, 0, COORD);
    }
  } else if (type == 'metal') {
    o.only(['type', 'color', 'fuzz']);
    m.kind = MaterialKind.Metal;
    const c = o.vec3('color', 0, 1, true)!;
    m.r = c[0];
    m.g = c[1];
    m.b = c[2];
    m.fuzz = o.num('fuzz', 0, 0, 1);
  } else if (type == 'emissive') {
    o.only(['type', 'color', 'strength']);
    m.kind = MaterialKind.Emissive;
    const c = o.vec3('color', 0, 1, true)!;
    m.r = c[0];
    m.g = c[1];
    m.b = c[2];
    m.strength = o.num('strength', 1, 0, 1000);
  } else {
    fail(o.path + ".type: unknown material '" + type + "' (expected diffuse, metal or emissive)");
  }
  return m;
}

export function readScene(root: JsonValue): Scene {
  const o = new Obj(root, 'scene');
  o.only(['width', 'height', 'samples', 'maxDepth', 'seed', 'frames', 'sky', 'camera', 'objects']);
  const s = new Scene();
  s.width = <i32>o.num('width', NaN, 1, MAX_SIZE, true);
  s.height = <i32>o.num('height', NaN, 1, MAX_SIZE, true);
  s.samples = <i32>o.num('samples', 16, 1, MAX_SAMPLES, true);
  s.maxDepth = <i32>o.num('maxDepth', 8, 1, MAX_DEPTH, true);
  s.seed = <u32>o.num('seed', 0, 0, MAX_SEED, true);
  s.frames = <i32>o.num('frames', 1, 1, MAX_FRAMES, true);

  if (o.has('sky')) {
    const sky = o.obj('sky');
    sky.only(['top', 'bottom']);
    const top = sky.vec3('top', 0, 100, false);
    if (top != null) {
      s.skyTopR = top[0];
      s.skyTopG = top[1];
      s.skyTopB = top[2];
    }
    const bottom = sky.vec3('bottom', 0, 100, false);
    if (bottom != null) {
      s.skyBottomR = bottom[0];
      s.skyBottomG = bottom[1];
      s.skyBottomB = bottom[2];
    }
  }

  const c = o.obj('camera');
  c.only(['position', 'lookAt', 'up', 'fov', 'orbit']);
  const cam = s.camera;
  const pos = c.vec3('position', -COORD, COORD, true)!;
  cam.px = pos[0];
  cam.py = pos[1];
  cam.pz = pos[2];
  const look = c.vec3('lookAt', -COORD, COORD, false);
  if (look != null) {
    cam.lx = look[0];
    cam.ly = look[1];
    cam.lz = look[2];
  }
  const up = c.vec3('up', -COORD, COORD, false);
  if (up != null) {
    cam.ux = up[0];
    cam.uy = up[1];
    cam.uz = up[2];
  }
  cam.fov = c.positive('fov', 40, 0, 179);
  cam.ocx = cam.lx;
  cam.ocy = cam.ly;
  cam.ocz = cam.lz;
  if (c.has('orbit')) {
    const orbit = c.obj('orbit');
    orbit.only(['center', 'turns']);
    cam.orbit = true;
    const center = orbit.vec3('center', -COORD, COORD, false);
    if (center != null) {
      cam.ocx = center[0];
      cam.ocy = center[1];
      cam.ocz = center[2];
    }
    cam.turns = orbit.num('turns', 1, -1000, 1000);
  }

  const objects = o.required('objects');
  if (objects.kind != Kind.Array) fail('scene.objects: must be an array, got ' + kindName(objects.kind));
  const n = objects.items.length;
  if (n < 1 || n > MAX_OBJECTS) fail('scene.objects: must hold 1 to ' + MAX_OBJECTS.toString() + ' objects, got ' + n.toString());
  for (let i = 0; i < n; i++) {
    const e = new Obj(unchecked(objects.items[i]), 'scene.objects[' + i.toString() + ']');
    const type = e.str('type');
    if (type == 'sphere') {
      e.only(['type', 'center', 'radius', 'velocity', 'material']);
      const sp = new Sphere();
      const center = e.vec3('center', -COORD, COORD, true)!;
      sp.cx = center[0];
      sp.cy = center[1];
      sp.cz = center[2];
      sp.radius = e.positive('radius', NaN, 0, COORD);
      const vel = e.vec3('velocity', -COORD, COORD, false);
      if (vel != null) {
        sp.vx = vel[0];
        sp.vy = vel[1];
        sp.vz = vel[2];
      }
      sp.material = readMaterial(e.obj('material'));
      s.spheres.push(sp);
    } else if (type == 'plane') {
      e.only(['type', 'point', 'normal', 'material']);
      const pl = new Plane();
      const point = e.vec3('point', -COORD, COORD, false);
      if (point != null) {
        pl.px = point[0];
        pl.py = point[1];
        pl.pz = point[2];
      }
      const normal = e.vec3('normal', -COORD, COORD, false);
      if (normal != null) {
        const len = Math.sqrt(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2]);
        if (!(len > 1e-9)) fail(e.path + '.normal: must not be the zero vector');
        pl.nx = normal[0] / len;
        pl.ny = normal[1] / len;
        pl.nz = normal[2] / len;
      }
      pl.material = readMaterial(e.obj('material'));
      s.planes.push(pl);
    } else {
      fail(e.path + ".type: unknown object type '" + type + "' (expected sphere or plane)");
    }
  }
  return s;
}
