/**
 * Builds tar archives entry by entry, including the malformed and hostile
 * shapes a real writer would never produce (links, devices, `../` paths,
 * pax overrides, missing end marker), for the attack corpus.
 */
import { Header, Pax } from 'tar';

export interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO' | 'ContiguousFile';
  body?: Buffer;
  /** Header size when it should differ from the body's length. */
  size?: number;
  linkpath?: string;
  mode?: number;
  /** Put the path in a pax header (and a harmless name in the ustar header). */
  paxPath?: boolean;
  /** Raw type flag for unknown entry types. */
  typeFlag?: string;
}

function pad(length: number): Buffer {
  return Buffer.alloc((512 - (length % 512)) % 512);
}

export function encodeEntry(entry: RawEntry): Buffer {
  const body = entry.body ?? Buffer.alloc(0);
  const type = entry.type ?? 'File';
  const size = entry.size ?? (type === 'File' || type === 'ContiguousFile' ? body.length : 0);
  const parts: Buffer[] = [];
  if (entry.paxPath) parts.push(new Pax({ path: entry.path }).encode());
  const header = new Header({
    path: entry.paxPath ? 'placeholder' : entry.path,
    type,
    size,
    mode: entry.mode ?? 0o644,
    mtime: new Date(0),
    uid: 0,
    gid: 0,
    ...(entry.linkpath !== undefined ? { linkpath: entry.linkpath } : {}),
  });
  header.encode();
  let block = header.block!;
  if (entry.typeFlag) block = withTypeFlag(block, entry.typeFlag);
  parts.push(block, body, pad(body.length));
  return Buffer.concat(parts);
}

/** Rewrites the type flag byte and fixes the header checksum. */
function withTypeFlag(block: Buffer, flag: string): Buffer {
  const copy = Buffer.from(block);
  copy.write(flag, 156, 1, 'latin1');
  copy.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of copy) sum += byte;
  copy.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return copy;
}

export function rawTar(entries: RawEntry[], options: { endMarker?: boolean } = {}): Buffer {
  const parts = entries.map(encodeEntry);
  if (options.endMarker ?? true) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
