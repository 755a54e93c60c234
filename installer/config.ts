/**
 * The operator's settings, `etc/airlock.yaml`. Written with defaults at
 * install, never overwritten by upgrades; read by the supervisor and the
 * lifecycle commands. Strict: an unknown key is an error, not a silent no-op.
 */
import { access, readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { writeFileAtomic } from './durable.js';
import { InstallError, InstallErrorCodes } from './errors.js';
import type { Layout } from './layout.js';

const ConfigSchema = z.strictObject({
  health: z
    .strictObject({
      /** How long install, upgrade, rollback and up wait for every service to be healthy. */
      timeoutSeconds: z.number().int().min(1).max(3600).default(60),
    })
    .default({ timeoutSeconds: 60 }),
  /** Per-service overrides of what the release declares. */
  services: z
    .record(z.string(), z.strictObject({ port: z.number().int().min(1).max(65535).optional() }))
    .default({}),
});
export type Config = z.infer<typeof ConfigSchema>;

const DEFAULT_CONFIG_TEXT = `# Airlock appliance settings. Upgrades keep this file.
# Changes take effect on the next \`airlock down && airlock up\`.
health:
  # How long install, upgrade, rollback and up wait for every service to answer healthy.
  timeoutSeconds: 60
# Per-service overrides of what the release's services.yaml declares, e.g.
#   services:
#     health:
#       port: 17499
services: {}
`;

export async function readConfig(layout: Layout): Promise<Config> {
  const text = await readFile(layout.config, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  let parsed;
  try {
    parsed = ConfigSchema.safeParse(parseYaml(text) ?? {});
  } catch (cause) {
    throw configError(layout, (cause as Error).message, cause);
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw configError(layout, `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`, parsed.error);
  }
  return parsed.data;
}

function configError(layout: Layout, what: string, cause: unknown): InstallError {
  return new InstallError(InstallErrorCodes.CONFIG_INVALID, `${layout.config} is invalid: ${what}`, {
    cause,
    hint: 'Fix the file (see the comments at its top and the README\'s "Appliance lifecycle" section).',
  });
}

/** Writes the defaults unless the operator already has a file (runs under the lifecycle lock). */
export async function ensureConfig(layout: Layout): Promise<void> {
  const exists = await access(layout.config).then(
    () => true,
    () => false,
  );
  if (!exists) await writeFileAtomic(layout.config, DEFAULT_CONFIG_TEXT);
}
