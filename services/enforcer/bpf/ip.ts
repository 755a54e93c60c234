/**
 * IP addresses as the BPF maps and events hold them: bare network-order
 * bytes, 4 for IPv4 and 16 for IPv6. A thin view over the policy's own
 * address arithmetic, so both layers parse and compare addresses one way.
 */
import { formatIp as formatAddress, maskedBytes, parseIp, prefixContains as covers, type IpAddress } from '../policy/addresses.js';

function address(bytes: Uint8Array): IpAddress {
  return { family: bytes.length === 4 ? 4 : 6, bytes };
}

/** The bytes of an IPv4 or IPv6 literal (IPv4-mapped IPv6 folds to IPv4), or undefined. */
export function ipBytes(text: string): Uint8Array | undefined {
  return parseIp(text)?.bytes;
}

/** Dotted quad for 4 bytes; RFC 5952 text for 16. */
export function formatIp(bytes: Uint8Array): string {
  return formatAddress(address(bytes));
}

/** The first `prefix` bits of `bytes`, the rest cleared. */
export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  return maskedBytes(bytes, prefix);
}

/** Does the prefix `net`/`prefix` contain `addr`? (Different lengths never match.) */
export function prefixContains(net: Uint8Array, prefix: number, addr: Uint8Array): boolean {
  return covers({ ...address(net), prefix }, address(addr));
}
