/**
 * Filesystem entries: placeholders, lexical normalisation and the paths no
 * policy may reach. Pure (no fs): symlinks are the launcher's business, and
 * Landlock resolves them when it opens each path.
 */
import { posix } from 'node:path';
import { ValueError } from './issues.js';

/** Values of the placeholders a path may start with. */
export interface Placeholders {
  /** The agent's workspace; `${workspace}` is an error when it is not given. */
  workspace?: string;
  /** The agent's temporary directory (default /tmp). */
  tmp: string;
}

export const MAX_PATH_LENGTH = 4096;

/** Absolute, normalised: no `.`/`..` segments, no `//`, no trailing slash (except "/"). */
export function normalisePath(raw: string, placeholders: Placeholders): string {
  let text = raw;
  const m = /^\$\{([^}]*)\}/.exec(text);
  if (m) {
    const name = m[1];
    const value = name === 'workspace' ? placeholders.workspace : name === 'tmp' ? placeholders.tmp : undefined;
    if (name !== 'workspace' && name !== 'tmp') throw new ValueError(`"${raw}": unknown placeholder \${${name}} (known: \${workspace}, \${tmp})`);
    if (value === undefined) throw new ValueError(`"${raw}" uses \${workspace} but no workspace was given to the compiler`);
    const after = text.slice(m[0].length);
    if (after !== '' && !after.startsWith('/')) throw new ValueError(`"${raw}": a placeholder must be followed by "/" or end the path`);
    text = value + after;
  }
  if (text.includes('${')) throw new ValueError(`"${raw}": a placeholder may only start a path`);
  if (text.includes('\0')) throw new ValueError('contains a NUL byte');
  if (!text.startsWith('/')) throw new ValueError(`"${raw}" is relative: paths must be absolute`);
  if (text.split('/').includes('..')) throw new ValueError(`"${raw}" contains "..": write the path without it`);
  if (text.length > MAX_PATH_LENGTH) throw new ValueError(`is longer than ${MAX_PATH_LENGTH} characters`);
  const norm = posix.normalize(text);
  return norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
}

/** Is `a` equal to `b` or inside it? */
export function isWithin(a: string, b: string): boolean {
  return a === b || b === '/' || a.startsWith(`${b}/`);
}

/**
 * A granted path that contains a protected path, or lies inside one, would
 * hand the agent the appliance's own state (Landlock grants whole hierarchies
 * and has no deny rules): returns the protected path it collides with.
 */
export function protectedCollision(path: string, protectedPaths: readonly string[]): string | undefined {
  return protectedPaths.find((p) => isWithin(path, p) || isWithin(p, path));
}

/** Always protected, whatever the caller adds (the appliance prefix, the audit log ...). */
export const DEFAULT_PROTECTED_PATHS: readonly string[] = ['/sys/fs/cgroup', '/sys/fs/bpf'];
