// The scene format of the demo renderer (documented in renderer/README.md). The renderer checks
// scenes itself, but a job that fails only once it reaches a worker wastes a round trip and the
// worker's time; the CLI validates with this schema first so the user sees which field is wrong.
// Limits and defaults here must match renderer/scene.ts; the render tests check the defaults agree.
import { z } from 'zod';

export const MAX_SIZE = 4096;
export const MAX_SAMPLES = 4096;
export const MAX_DEPTH = 64;
export const MAX_FRAMES = 100_000;
export const MAX_OBJECTS = 1024;
export const MAX_SEED = 0xffff_ffff;
/** Bound on coordinates, so squared distances stay far from overflow. */
export const MAX_COORD = 1e6;

const coord = z.number().min(-MAX_COORD).max(MAX_COORD);
const vec3 = z.tuple([coord, coord, coord]);
const unit = z.number().min(0).max(1);
/** Linear RGB reflectance or emission colour, each channel in [0, 1]. */
const color = z.tuple([unit, unit, unit]);
const skyChannel = z.number().min(0).max(100);
const skyColor = z.tuple([skyChannel, skyChannel, skyChannel]);

const diffuseSchema = z
  .object({
    type: z.literal('diffuse'),
    color,
    /** A solid 3D checkerboard alternating `color` with `checker.color` in cubes of `size` units. */
    checker: z
      .object({ color, size: z.number().gt(0).max(MAX_COORD).default(1) })
      .strict()
      .optional(),
  })
  .strict();

const metalSchema = z
  .object({
    type: z.literal('metal'),
    color,
    /** 0 is a perfect mirror; up to 1 blurs the reflection. */
    fuzz: unit.default(0),
  })
  .strict();

const emissiveSchema = z
  .object({
    type: z.literal('emissive'),
    color,
    /** Multiplies `color`; values above 1 make a light brighter than white. */
    strength: z.number().min(0).max(1000).default(1),
  })
  .strict();

export const materialSchema = z.discriminatedUnion('type', [diffuseSchema, metalSchema, emissiveSchema]);

export const sphereSchema = z
  .object({
    type: z.literal('sphere'),
    center: vec3,
    radius: z.number().gt(0).max(MAX_COORD),
    /** Units per frame: the centre in frame f is `center + velocity * (f - 1)`. */
    velocity: vec3.default([0, 0, 0]),
    material: materialSchema,
  })
  .strict();

export const planeSchema = z
  .object({
    type: z.literal('plane'),
    point: vec3.default([0, 0, 0]),
    normal: vec3.default([0, 1, 0]).refine(([x, y, z]) => Math.hypot(x, y, z) > 1e-9, 'must not be the zero vector'),
    material: materialSchema,
  })
  .strict();

export const objectSchema = z.discriminatedUnion('type', [sphereSchema, planeSchema]);

export const cameraSchema = z
  .object({
    position: vec3,
    lookAt: vec3.default([0, 0, 0]),
    up: vec3.default([0, 1, 0]),
    /** Vertical field of view in degrees. */
    fov: z.number().gt(0).max(179).default(40),
    /** Rotates `position` about the vertical axis through `center` by 360° · turns · (f - 1) / frames. */
    orbit: z
      .object({
        /** Defaults to `lookAt`. */
        center: vec3.optional(),
        turns: z.number().min(-1000).max(1000).default(1),
      })
      .strict()
      .optional(),
  })
  .strict();

const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const sceneSchema = z
  .object({
    width: int(1, MAX_SIZE),
    height: int(1, MAX_SIZE),
    samples: int(1, MAX_SAMPLES).default(16),
    maxDepth: int(1, MAX_DEPTH).default(8),
    seed: int(0, MAX_SEED).default(0),
    frames: int(1, MAX_FRAMES).default(1),
    sky: z
      .object({ top: skyColor.default([0.5, 0.7, 1]), bottom: skyColor.default([1, 1, 1]) })
      .strict()
      .default({ top: [0.5, 0.7, 1], bottom: [1, 1, 1] }),
    camera: cameraSchema,
    objects: z.array(objectSchema).min(1).max(MAX_OBJECTS),
  })
  .strict()
  .superRefine((scene, ctx) => {
    // The renderer also checks these per frame (an orbit can line the camera up later); checking
    // the first frame here catches the usual mistake before submission.
    const [px, py, pz] = scene.camera.position;
    const [lx, ly, lz] = scene.camera.lookAt;
    const w = [px - lx, py - ly, pz - lz] as const;
    if (Math.hypot(...w) <= 1e-9) {
      ctx.addIssue({ code: 'custom', path: ['camera', 'lookAt'], message: 'must differ from camera.position' });
      return;
    }
    const [ux, uy, uz] = scene.camera.up;
    const cross = [uy * w[2] - uz * w[1], uz * w[0] - ux * w[2], ux * w[1] - uy * w[0]];
    if (Math.hypot(...cross) <= 1e-9) {
      ctx.addIssue({ code: 'custom', path: ['camera', 'up'], message: 'must not be zero or parallel to the view direction' });
    }
  });

/** A scene as written (defaults may be omitted). */
export type SceneInput = z.input<typeof sceneSchema>;
/** A validated scene with every default filled in. */
export type Scene = z.output<typeof sceneSchema>;
export type Material = z.output<typeof materialSchema>;
export type SceneObject = z.output<typeof objectSchema>;

export class SceneError extends Error {
  override name = 'SceneError';
  constructor(
    message: string,
    /** One line per problem, each starting with the field, e.g. `scene.camera.fov: ...`. */
    readonly problems: string[],
  ) {
    super(message);
  }
}

/** `['objects', 2, 'material']` as `scene.objects[2].material`, the renderer's spelling. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = 'scene';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

function describe(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${fieldPath([...issue.path, k])}: unknown field`);
  }
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    return [`${fieldPath(issue.path)}: required`];
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue) {
    const kind = issue.path.includes('material') ? 'material' : 'object type';
    return [`${fieldPath(issue.path)}: unknown ${kind} (${issue.message})`];
  }
  return [`${fieldPath(issue.path)}: ${issue.message}`];
}

/**
 * Validates a scene given as JSON text, bytes or an already-parsed value, and returns it with
 * defaults filled in. Throws SceneError naming each offending field.
 */
export function parseScene(input: string | Uint8Array | unknown): Scene {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input));
    } catch (err) {
      const msg = `scene: invalid JSON: ${(err as Error).message}`;
      throw new SceneError(msg, [msg]);
    }
  }
  const result = sceneSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap(describe);
  throw new SceneError(`invalid scene:\n  ${problems.join('\n  ')}`, problems);
}
