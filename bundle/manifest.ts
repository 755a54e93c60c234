/**
 * The bundle manifest: schema, parsing and the checks that go beyond the
 * schema (unique paths, no file/folder clashes). Pure: bytes in, typed
 * manifest out, or a BundleFormatError.
 */
import { z } from 'zod';
import { BundleErrorCodes, BundleFormatError } from './errors.js';
import { MANIFEST_NAME, SIGNATURE_NAME, ancestorsOf, unsafePathReason } from './paths.js';

export const MANIFEST_FORMAT = 'airlock-bundle/1';
/** manifest.json is held in memory while it is verified: cap it. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
export const MAX_SIGNATURE_FILE_BYTES = 1024 * 1024;
export const MAX_FILES = 500_000;
export const MAX_THRESHOLD = 16;

// semver.org's recommended pattern.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const isoDate = z.iso.datetime({ offset: true });
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const ManifestFileSchema = z.strictObject({
  path: z.string().min(1).max(4096),
  size,
  sha256: z.string().regex(SHA256_HEX, 'lowercase hex SHA-256'),
  mode: z.number().int().min(0).max(0o777),
  component: z.string().regex(NAME).optional(),
});

export const ComponentSchema = z.strictObject({
  name: z.string().regex(NAME),
  description: z.string().max(1024).optional(),
  version: z.string().regex(SEMVER).optional(),
});

export const ManifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  name: z.string().regex(NAME),
  version: z.string().regex(SEMVER, 'semantic version'),
  sequence: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  created: isoDate,
  expires: isoDate,
  threshold: z.number().int().min(1).max(MAX_THRESHOLD),
  components: z.array(ComponentSchema).max(1000),
  files: z.array(ManifestFileSchema).max(MAX_FILES),
  base: z
    .strictObject({ version: z.string().regex(SEMVER), manifestSha256: z.string().regex(SHA256_HEX) })
    .optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestFile = z.infer<typeof ManifestFileSchema>;
export type Component = z.infer<typeof ComponentSchema>;

function invalid(message: string, details: Record<string, unknown> = {}): BundleFormatError {
  return new BundleFormatError(BundleErrorCodes.MANIFEST_INVALID, `manifest.json is invalid: ${message}`, {
    hint: 'Rebuild the bundle with `airlock bundle create`; a manifest cannot be edited after signing.',
    details,
  });
}

/** Parses and fully validates manifest bytes. Never trusts sizes or paths in it. */
export function parseManifest(bytes: Uint8Array): Manifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new BundleFormatError(
      BundleErrorCodes.MANIFEST_TOO_LARGE,
      `manifest.json is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
      { hint: 'Split the payload into several bundles.' },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw invalid(`not UTF-8 JSON (${(cause as Error).message})`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(root)';
    throw invalid(`${where}: ${issue?.message ?? 'does not match the schema'}`, { path: where });
  }
  checkManifestSemantics(parsed.data);
  return parsed.data;
}

/** The rules a schema cannot express. Also used by the writer before signing. */
export function checkManifestSemantics(manifest: Manifest): void {
  if (Date.parse(manifest.expires) <= Date.parse(manifest.created)) {
    throw invalid('expires is not after created');
  }
  const files = new Set<string>();
  let total = 0;
  for (const file of manifest.files) {
    const reason = unsafePathReason(file.path);
    if (reason) throw invalid(`unsafe path ${JSON.stringify(file.path)}: ${reason}`, { path: file.path });
    if (file.path === MANIFEST_NAME || file.path === SIGNATURE_NAME) {
      throw invalid(`payload path ${file.path} is reserved`, { path: file.path });
    }
    if (files.has(file.path)) throw invalid(`duplicate path ${file.path}`, { path: file.path });
    files.add(file.path);
    total += file.size;
    if (!Number.isSafeInteger(total)) throw invalid('total payload size overflows');
  }
  // A path may not be both a file and the folder of another file.
  for (const file of manifest.files) {
    for (const ancestor of ancestorsOf(file.path)) {
      if (files.has(ancestor)) throw invalid(`${ancestor} is both a file and a folder`, { path: ancestor });
    }
  }
  const components = new Set<string>();
  for (const component of manifest.components) {
    if (components.has(component.name)) throw invalid(`duplicate component ${component.name}`);
    components.add(component.name);
  }
  for (const file of manifest.files) {
    if (file.component !== undefined && !components.has(file.component)) {
      throw invalid(`file ${file.path} names unknown component ${file.component}`, { path: file.path });
    }
  }
}

export function totalPayloadBytes(manifest: Manifest): number {
  return manifest.files.reduce((sum, file) => sum + file.size, 0);
}

/** Serialises a manifest; the signed bytes are exactly these. */
export function encodeManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}
