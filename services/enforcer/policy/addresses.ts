/**
 * IP addresses as bytes: parsing, canonical text (IPv6 per RFC 5952),
 * IPv4-mapped IPv6 folded to IPv4, and prefix arithmetic. Pure.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ValueError } from './issues.js';

export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

export interface IpPrefix extends IpAddress {
  prefix: number;
}

/** Parses an IPv4 or IPv6 literal (no zone id); IPv4-mapped IPv6 comes back as IPv4. */
export function parseIp(text: string): IpAddress | undefined {
  const raw = literal(text);
  return raw && unmap(raw, raw.family === 4 ? 32 : 128).address;
}

function literal(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { family: 4, bytes: Uint8Array.from(text.split('.').map(Number)) };
  if (isIPv6(text) && !text.includes('%')) return { family: 6, bytes: ipv6Bytes(text) };
  return undefined;
}

/**
 * Parses `address` or `address/prefix`. A v4-mapped IPv6 prefix (::ffff:a.b.c.d/n, n >= 96)
 * becomes the IPv4 prefix n-96. Throws on host bits set beyond the prefix.
 */
export function parsePrefix(text: string): IpPrefix {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? undefined : text.slice(slash + 1);
  if (addrText.includes('%')) throw new ValueError(`"${addrText}" has a zone id: zones are not supported`);
  const raw = literal(addrText);
  if (!raw) throw new ValueError(`"${addrText}" is not an IPv4 or IPv6 address`);
  const bits = raw.family === 4 ? 32 : 128;
  let prefix = bits;
  if (lenText !== undefined) {
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits) {
      throw new ValueError(`prefix length "/${lenText}" must be a number from 0 to ${bits}`);
    }
    prefix = Number(lenText);
  }
  if (isMapped(raw) && prefix < 96) throw new ValueError(`an IPv4-mapped prefix must be at least /96, got /${prefix}`);
  const firstHostBit = firstSetBitFrom(raw.bytes, prefix);
  if (firstHostBit >= 0) {
    const net = formatIp({ ...raw, bytes: maskedBytes(raw.bytes, prefix) });
    throw new ValueError(`"${text}" has host bits set after /${prefix} (did you mean ${net}/${prefix}?)`);
  }
  const { address, prefix: p } = unmap(raw, prefix);
  return { ...address, prefix: p };
}

export function formatIp({ family, bytes }: IpAddress): string {
  if (family === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Does `prefix` contain `address`? (Different families never match.) */
export function prefixContains(prefix: IpPrefix, address: IpAddress): boolean {
  if (prefix.family !== address.family) return false;
  return firstDifferingBit(prefix.bytes, address.bytes) >= prefix.prefix;
}

/** Is every address of `inner` inside `outer`? */
export function prefixCovers(outer: IpPrefix, inner: IpPrefix): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && prefixContains(outer, inner);
}

function unmap(a: IpAddress, prefix: number): { address: IpAddress; prefix: number } {
  if (!isMapped(a)) return { address: a, prefix };
  return { address: { family: 4, bytes: a.bytes.slice(12) }, prefix: prefix - 96 };
}

function isMapped(a: IpAddress): boolean {
  return a.family === 6 && a.bytes.subarray(0, 10).every((b) => b === 0) && a.bytes[10] === 0xff && a.bytes[11] === 0xff;
}

function ipv6Bytes(text: string): Uint8Array {
  // An embedded dotted quad (::ffff:1.2.3.4) is two groups written as IPv4.
  let t = text;
  const lastColon = t.lastIndexOf(':');
  const tail = t.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
    t = `${t.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = t.includes('::') ? (t.split('::') as [string, string]) : [t, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? [] : Array<string>(8 - headGroups.length - restGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...restGroups].map((g) => parseInt(g, 16));
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** `bytes` with every bit after the first `prefix` cleared. */
export function maskedBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
}

function firstSetBitFrom(bytes: Uint8Array, from: number): number {
  for (let bit = from; bit < bytes.length * 8; bit++) {
    if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) return bit;
  }
  return -1;
}

function firstDifferingBit(a: Uint8Array, b: Uint8Array): number {
  for (let bit = 0; bit < a.length * 8; bit++) {
    if ((a[bit >> 3]! ^ b[bit >> 3]!) & (0x80 >> (bit & 7))) return bit;
  }
  return a.length * 8;
}
