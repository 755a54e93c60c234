/**
 * The services manifest a release carries at its root, `services.yaml`:
 *
 *   format: airlock-services/1
 *   services:
 *     - name: health                               # [a-z][a-z0-9-]*, unique
 *       command: [node, services/health/server.mjs] # argv; argv[0] is `node` (the runtime
 *                                                   # running airlock) or a file in the release
 *       env: { HOST: 127.0.0.1 }                    # optional; PORT and AIRLOCK_* are ours
 *       port: 7499                                  # optional; passed as PORT
 *       health: { path: /healthz }                  # optional; GET must answer 2xx (needs port)
 *
 * Relative paths resolve against the release folder, which is also each
 * service's working directory. Validation is strict: the supervisor runs
 * nothing a typo could have changed the meaning of.
 */
import { stat, readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Config } from '../config.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import { APPLIANCE_ENV, type Layout } from '../layout.js';

export const SERVICES_FORMAT = 'airlock-services/1';
/** `node` in argv[0] means the Node.js runtime that runs airlock itself. */
const NODE_RUNTIME = 'node';
/** Names that would collide with the supervisor's own files under run/ and log/. */
const RESERVED_NAMES = new Set(['supervisor', 'lifecycle']);
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const ServiceSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/, 'lowercase letters, digits and dashes, starting with a letter')
      .refine((name) => !RESERVED_NAMES.has(name), 'is reserved'),
    command: z.array(z.string().min(1).max(4096).refine((arg) => !arg.includes('\0'), 'contains NUL')).min(1).max(256),
    env: z
      .record(
        z
          .string()
          .regex(ENV_NAME, 'an upper-case environment variable name')
          .refine((key) => key !== 'PORT' && !key.startsWith('AIRLOCK_'), 'is set by the supervisor'),
        z.string().max(4096).refine((value) => !value.includes('\0'), 'contains NUL'),
      )
      .default({}),
    port: z.number().int().min(1).max(65535).optional(),
    health: z.strictObject({ path: z.string().regex(/^\/[\x21-\x7e]*$/, 'an absolute URL path') }).optional(),
  })
  .refine((service) => service.health === undefined || service.port !== undefined, {
    message: 'a health check needs a port',
    path: ['health'],
  });

const ServicesSchema = z.strictObject({
  format: z.literal(SERVICES_FORMAT),
  services: z.array(ServiceSchema).min(1).max(64),
});

export type ServiceSpec = z.infer<typeof ServiceSchema>;

/** A service as the supervisor runs it: absolute argv, its environment, its effective port. */
export interface ResolvedService {
  name: string;
  argv: [string, ...string[]];
  cwd: string;
  env: Record<string, string>;
  port?: number;
  healthUrl?: string;
}

function invalid(file: string, what: string, cause?: unknown): InstallError {
  return new InstallError(InstallErrorCodes.SERVICES_INVALID, `${file} is invalid: ${what}`, {
    cause,
    hint: 'The release must carry a valid services.yaml at its root (see the README\'s "Appliance lifecycle" section); rebuild the bundle.',
  });
}

export async function loadServiceSpecs(layout: Layout, releaseDir: string): Promise<ServiceSpec[]> {
  const file = layout.servicesManifest(releaseDir);
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(file, 'utf8'));
  } catch (cause) {
    throw invalid(file, (cause as Error).message, cause);
  }
  const parsed = ServicesSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(file, `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'does not match the schema'}`, parsed.error);
  }
  const names = new Set<string>();
  const ports = new Set<number>();
  for (const service of parsed.data.services) {
    if (names.has(service.name)) throw invalid(file, `two services are named ${service.name}`);
    names.add(service.name);
    if (service.port !== undefined) {
      if (ports.has(service.port)) throw invalid(file, `two services use port ${service.port}`);
      ports.add(service.port);
    }
    await checkProgram(file, releaseDir, service);
  }
  return parsed.data.services;
}

/** argv[0] is the runtime or an executable regular file inside the release. */
async function checkProgram(file: string, releaseDir: string, service: ServiceSpec): Promise<void> {
  const program = service.command[0]!;
  if (program === NODE_RUNTIME) return;
  const relative = normalize(program);
  if (isAbsolute(program) || relative.startsWith('..')) {
    throw invalid(file, `${service.name}: command ${JSON.stringify(program)} must be \`node\` or a path inside the release`);
  }
  const info = await stat(join(releaseDir, relative)).catch(() => undefined);
  if (!info?.isFile() || (info.mode & 0o111) === 0) {
    throw invalid(file, `${service.name}: ${program} is not an executable file in the release`);
  }
}

export function resolveServices(layout: Layout, releaseDir: string, specs: ServiceSpec[], config: Config): ResolvedService[] {
  return specs.map((spec) => {
    const port = config.services[spec.name]?.port ?? spec.port;
    const [program, ...args] = spec.command as [string, ...string[]];
    const env: Record<string, string> = {
      PATH: BASE_PATH,
      LANG: 'C.UTF-8',
      ...spec.env,
      [APPLIANCE_ENV]: layout.prefix,
      AIRLOCK_PREFIX: layout.prefix,
      AIRLOCK_RELEASE: releaseDir,
      AIRLOCK_STATE_DIR: layout.serviceState(spec.name),
      ...(port !== undefined ? { PORT: String(port) } : {}),
    };
    return {
      name: spec.name,
      argv: [program === NODE_RUNTIME ? process.execPath : join(releaseDir, program), ...args],
      cwd: releaseDir,
      env,
      ...(port !== undefined ? { port } : {}),
      ...(spec.health && port !== undefined ? { healthUrl: `http://127.0.0.1:${port}${spec.health.path}` } : {}),
    };
  });
}
