/**
 * Payload path rules. A payload path is a relative POSIX path made only of
 * plain names: no absolute paths, no `.` or `..`, no empty segments, no
 * backslashes, no control characters. Anything else could land outside the
 * extraction folder or mean different things to different tools.
 */

export const MAX_PATH_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

/** Names reserved for the bundle's own metadata at the archive root. */
export const MANIFEST_NAME = 'manifest.json';
export const SIGNATURE_NAME = 'manifest.sig.json';

/** Returns why `path` is unsafe, or undefined when it is a safe payload path. */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return 'empty path';
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `longer than ${MAX_PATH_BYTES} bytes`;
  if (path.startsWith('/')) return 'absolute path';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'control character in path';
  if (path.includes('\\')) return 'backslash in path';
  for (const segment of path.split('/')) {
    if (segment === '') return 'empty path segment (leading, trailing or double slash)';
    if (segment === '.' || segment === '..') return `"${segment}" segment`;
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) return `segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

export function isSafePayloadPath(path: string): boolean {
  return unsafePathReason(path) === undefined;
}

/** Every proper ancestor directory of a payload path, nearest the root first. */
export function ancestorsOf(path: string): string[] {
  const segments = path.split('/');
  const ancestors: string[] = [];
  for (let i = 1; i < segments.length; i++) ancestors.push(segments.slice(0, i).join('/'));
  return ancestors;
}
