/**
 * A tiny authoritative DNS server on loopback UDP for the resolution tests:
 * answers A and AAAA from a table the test can change, NXDOMAIN for unknown
 * names, and records every question it gets. Test-only; RFC 1035 wire format.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface Zone {
  [name: string]: { a?: string[]; aaaa?: string[]; ttl?: number };
}

export interface DnsResponder {
  port: number;
  zone: Zone;
  queries: Array<{ name: string; type: 'A' | 'AAAA' | number }>;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

export async function startDnsResponder(zone: Zone): Promise<DnsResponder> {
  const socket: Socket = createSocket('udp4');
  const responder: DnsResponder = {
    port: 0,
    zone,
    queries: [],
    close: () => new Promise((r) => socket.close(() => r())),
  };
  socket.on('message', (msg, peer) => {
    const reply = answer(msg, responder);
    if (reply) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  responder.port = socket.address().port;
  return responder;
}

function answer(query: Buffer, responder: DnsResponder): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (query[at]! !== 0) {
    const len = query[at]!;
    labels.push(query.toString('ascii', at + 1, at + 1 + len));
    at += 1 + len;
  }
  const questionEnd = at + 5;
  const type = query.readUInt16BE(at + 1);
  const name = labels.join('.').toLowerCase();
  responder.queries.push({ name, type: type === TYPE_A ? 'A' : type === TYPE_AAAA ? 'AAAA' : type });

  const entry = responder.zone[name];
  const addresses = !entry ? [] : type === TYPE_A ? (entry.a ?? []) : type === TYPE_AAAA ? (entry.aaaa ?? []) : [];
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const rd = query[2]! & 0x01;
  header[2] = 0x84 | rd; // QR, AA, RD echoed
  header[3] = 0x80 | (entry ? 0 : 3); // RA; NXDOMAIN for unknown names
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    const rdata = type === TYPE_A ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
    rr.writeUInt16BE(type, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(entry?.ttl ?? 300, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}

function ipv6Bytes(text: string): Buffer {
  // A dotted-quad tail (::ffff:10.9.9.9) is the last two groups.
  const address = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const [head, tail] = address.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(tail === undefined ? 0 : 8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i));
  return out;
}
