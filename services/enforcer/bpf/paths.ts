/** Where the loader binary is: $AIRLOCK_BPF_LOADER, else bpf/build/airlock-bpf of this checkout or release. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LOADER_ENV = 'AIRLOCK_BPF_LOADER';
export const LOADER_RELATIVE = join('bpf', 'build', 'airlock-bpf');

/**
 * The loader's path. This module sits at services/enforcer/bpf/ in the source
 * tree and at dist/services/enforcer/bpf/ once built; the root holding bpf/
 * is found by walking up, so both work, and so does a release directory
 * with the same shape.
 */
export function defaultLoaderPath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[LOADER_ENV];
  if (fromEnv) return fromEnv;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, LOADER_RELATIVE);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  // not built: the source root is three levels up; the error names this path
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', LOADER_RELATIVE);
}
