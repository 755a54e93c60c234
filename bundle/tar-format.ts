/**
 * Encodes the few tar structures the writer needs, with the `tar` package's
 * Header and Pax classes: a regular-file header (plus a pax header when the
 * path does not fit ustar), block padding, and the end-of-archive marker.
 */
import { Header, Pax } from 'tar';

export const BLOCK = 512;
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

export function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

export function paddedSize(size: number): number {
  return size + paddingFor(size);
}

/** Header block(s) for a regular file owned by root. Deterministic. */
export function encodeFileHeader(path: string, size: number, mode: number, mtime: Date): Buffer {
  const fields = { path, size, mode, mtime, type: 'File' as const, uid: 0, gid: 0, uname: '', gname: '' };
  const header = new Header(fields);
  const needsPax = header.encode();
  if (!header.block) throw new Error(`tar header for ${path} could not be encoded`);
  if (!needsPax) return header.block;
  const pax = new Pax({ path, size, mtime }).encode();
  return Buffer.concat([pax, header.block]);
}
