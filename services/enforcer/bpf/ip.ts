/** IP addresses as the BPF maps and events hold them: network-order bytes. Pure. */
import { isIPv4, isIPv6 } from 'node:net';

/** The bytes of an IPv4 (4) or IPv6 (16) literal, or undefined. */
export function ipBytes(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!isIPv6(text) || text.includes('%')) return undefined;
  let t = text;
  const tail = t.slice(t.lastIndexOf(':') + 1);
  if (tail.includes('.')) {
    // an embedded dotted quad is the last two groups
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
    t = `${t.slice(0, t.length - tail.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = t.includes('::') ? (t.split('::') as [string, string]) : [t, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? [] : Array<string>(8 - headGroups.length - restGroups.length).fill('0');
  const bytes = new Uint8Array(16);
  [...headGroups, ...zeros, ...restGroups].forEach((g, i) => {
    const v = parseInt(g, 16);
    bytes[2 * i] = v >> 8;
    bytes[2 * i + 1] = v & 0xff;
  });
  return bytes;
}

/** Dotted quad for 4 bytes; RFC 5952 text for 16. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
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

/** The first `prefix` bits of `bytes`, the rest cleared. */
export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  return bytes.map((b, i) => b & (0xff << (8 - Math.max(0, Math.min(8, prefix - 8 * i)))) & 0xff);
}

/** Does the prefix `net`/`prefix` contain `addr` (same length)? */
export function prefixContains(net: Uint8Array, prefix: number, addr: Uint8Array): boolean {
  const a = maskBytes(addr, prefix);
  const n = maskBytes(net, prefix);
  return a.every((b, i) => b === n[i]);
}
