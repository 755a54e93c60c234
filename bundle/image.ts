/**
 * Image recipes: `IMAGE_DIR/image.yaml` declares what a bundle carries.
 *
 *   name: airlock
 *   version: 0.1.0
 *   sequence: 1
 *   threshold: 1            # distinct signers required
 *   expires: 180d           # from the build time (s, m, h, d, w) or an ISO date
 *   components:
 *     - name: health
 *       description: placeholder health service
 *       files:
 *         - src: health             # file or folder, relative to IMAGE_DIR
 *           dest: services/health   # where it lands in the release
 */
import { lstat, readFile, readdir } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BundleErrorCodes, BundleInputError } from './errors.js';
import { MAX_THRESHOLD, type Component } from './manifest.js';
import { MANIFEST_NAME, SIGNATURE_NAME, ancestorsOf, unsafePathReason } from './paths.js';

export const IMAGE_FILE = 'image.yaml';

const FileSpecSchema = z.strictObject({
  src: z.string().min(1),
  dest: z.string().min(1),
  mode: z.number().int().min(0).max(0o777).optional(),
});

const ImageSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  sequence: z.number().int().nonnegative(),
  threshold: z.number().int().min(1).max(MAX_THRESHOLD).default(1),
  expires: z.string().default('180d'),
  components: z
    .array(
      z.strictObject({
        name: z.string(),
        description: z.string().optional(),
        version: z.string().optional(),
        files: z.array(FileSpecSchema).min(1),
      }),
    )
    .min(1),
});

export type ImageRecipe = z.infer<typeof ImageSchema>;

export interface ImageFile {
  /** Absolute path on the build host. */
  source: string;
  /** Payload path inside the bundle. */
  path: string;
  size: number;
  mode: number;
  component: string;
}

export interface LoadedImage {
  recipe: ImageRecipe;
  components: Component[];
  files: ImageFile[];
}

function imageError(message: string, cause?: unknown): BundleInputError {
  return new BundleInputError(BundleErrorCodes.IMAGE_INVALID, message, {
    cause,
    hint: `Fix ${IMAGE_FILE}; see the README's "Image recipes" section.`,
  });
}

const DURATION = /^(\d+)([smhdw])$/;
const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** `90d`, `12h` ... from `now`, or an absolute ISO date. */
export function resolveExpiry(expires: string, now: Date): Date {
  const relative = DURATION.exec(expires);
  if (relative) return new Date(now.getTime() + Number(relative[1]) * UNIT_MS[relative[2]!]!);
  const absolute = Date.parse(expires);
  if (Number.isNaN(absolute) || !/^\d{4}-\d{2}-\d{2}/.test(expires)) {
    throw imageError(`expires "${expires}" is neither a duration (30d, 12h) nor an ISO date`);
  }
  return new Date(absolute);
}

async function walk(source: string, dest: string, into: Array<{ source: string; path: string; mode: number; size: number }>): Promise<void> {
  const stat = await lstat(source).catch((cause: unknown) => {
    throw imageError(`cannot read ${source}`, cause);
  });
  if (stat.isSymbolicLink()) throw imageError(`${source} is a symlink; bundles carry regular files only`);
  if (stat.isDirectory()) {
    const names = (await readdir(source)).sort();
    for (const name of names) await walk(join(source, name), `${dest}/${name}`, into);
    return;
  }
  if (!stat.isFile()) throw imageError(`${source} is not a regular file or folder`);
  into.push({ source, path: dest, mode: stat.mode & 0o777, size: stat.size });
}

export async function loadImage(imageDir: string): Promise<LoadedImage> {
  const dir = resolve(imageDir);
  let text: string;
  try {
    text = await readFile(join(dir, IMAGE_FILE), 'utf8');
  } catch (cause) {
    throw imageError(`cannot read ${join(dir, IMAGE_FILE)}`, cause);
  }
  let recipe: ImageRecipe;
  try {
    recipe = ImageSchema.parse(parseYaml(text));
  } catch (cause) {
    const issue = cause instanceof z.ZodError ? cause.issues[0] : undefined;
    const where = issue ? `${issue.path.join('.')}: ${issue.message}` : (cause as Error).message;
    throw imageError(`${IMAGE_FILE} is invalid: ${where}`, cause);
  }

  const files: ImageFile[] = [];
  const seen = new Set<string>();
  for (const component of recipe.components) {
    for (const spec of component.files) {
      const dest = posix.normalize(spec.dest).replace(/\/+$/, '');
      const reason = unsafePathReason(dest);
      if (reason) throw imageError(`dest ${JSON.stringify(spec.dest)} is unsafe: ${reason}`);
      const found: Array<{ source: string; path: string; mode: number; size: number }> = [];
      await walk(resolve(dir, spec.src), dest, found);
      for (const file of found) {
        const pathReason = unsafePathReason(file.path);
        if (pathReason) throw imageError(`${file.source} maps to an unsafe path: ${pathReason}`);
        if (file.path === MANIFEST_NAME || file.path === SIGNATURE_NAME) throw imageError(`${file.path} is reserved`);
        if (seen.has(file.path)) throw imageError(`two sources map to ${file.path}`);
        seen.add(file.path);
        files.push({ ...file, mode: spec.mode ?? file.mode, component: component.name });
      }
    }
  }
  for (const file of files) {
    for (const ancestor of ancestorsOf(file.path)) {
      if (seen.has(ancestor)) throw imageError(`${ancestor} is both a file and a folder in the bundle`);
    }
  }
  const components = recipe.components.map(({ name, description, version }) => ({
    name,
    ...(description !== undefined ? { description } : {}),
    ...(version !== undefined ? { version } : {}),
  }));
  return { recipe, components, files };
}
