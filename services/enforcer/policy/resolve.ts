/**
 * Host name resolution for egress rules. The compiler takes any HostResolver;
 * the default one asks only the appliance's configured DNS server (never the
 * host's resolv.conf), so DNS goes where the policy says it goes.
 */
import { Resolver } from 'node:dns/promises';
import { isIPv6 } from 'node:net';

export interface ResolvedHost {
  /** IPv4 and IPv6 addresses; empty when the name exists but has none. */
  addresses: string[];
  /** How long the answer may be cached; undefined when the resolver does not say. */
  ttlSeconds?: number;
}

export type HostResolver = (host: string) => Promise<ResolvedHost>;

export interface DnsServer {
  address: string;
  /** Default 53. */
  port?: number;
}

export interface DnsResolverOptions {
  /** Per-query timeout, default 2000 ms. */
  timeoutMs?: number;
  /** Attempts per query, default 2. */
  tries?: number;
}

/** Codes node:dns uses for "the name has no record of this type" (an answer, not a failure). */
const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND']);

export function createDnsResolver(server: DnsServer, options: DnsResolverOptions = {}): HostResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  const port = server.port ?? 53;
  resolver.setServers([isIPv6(server.address) ? `[${server.address}]:${port}` : `${server.address}:${port}`]);
  const query = async (type: 4 | 6, host: string) => {
    try {
      return type === 4 ? await resolver.resolve4(host, { ttl: true }) : await resolver.resolve6(host, { ttl: true });
    } catch (e) {
      if (NO_RECORDS.has((e as NodeJS.ErrnoException).code ?? '')) return [];
      throw e;
    }
  };
  return async (host) => {
    const [v4, v6] = await Promise.all([query(4, host), query(6, host)]);
    const answers = [...v4, ...v6];
    const ttls = answers.map((a) => a.ttl);
    return {
      addresses: answers.map((a) => a.address),
      ...(ttls.length > 0 ? { ttlSeconds: Math.min(...ttls) } : {}),
    };
  };
}
