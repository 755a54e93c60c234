import { describe, expect, it } from 'vitest';
import { ACCESS_FS, ACCESS_NET, GRANTS, IOCTL_HARMLESS_DEVICES, MAX_PORT_RULES, planRuleset, REQUIRED_ABI, RESTRICT_SELF, SCOPE } from '../../services/enforcer/landlock/index.js';
import type { CompiledNetwork, EgressRule } from '../../services/enforcer/policy/index.js';

const noNetwork: CompiledNetwork = { allow: [], deny: [], loopback: false };
const fs = (over: Partial<{ read: string[]; write: string[]; exec: string[] }> = {}) => ({ read: [], write: [], exec: [], ...over });
const rule = (ports: Array<[number, number]>, protocol: EgressRule['protocol'] = 'tcp'): EgressRule => ({
  address: '192.0.2.0',
  prefix: 24,
  family: 4,
  ports,
  protocol,
  source: 'test',
});

describe('Landlock ruleset planner', () => {
  it('handles every filesystem right, scopes signals and abstract sockets, logs after exec, needs ABI 7', () => {
    const r = planRuleset({ filesystem: fs(), network: noNetwork, protectedRoots: [] });
    expect(r.abi).toBe(REQUIRED_ABI);
    expect(REQUIRED_ABI).toBe(7);
    expect(r.handledFs).toBe(0xffff);
    expect(r.scoped).toBe(SCOPE.SIGNAL | SCOPE.ABSTRACT_UNIX_SOCKET);
    expect(r.restrictFlags).toBe(RESTRICT_SELF.LOG_NEW_EXEC_ON);
  });

  it('maps read, write and exec to rights, merging a path listed twice', () => {
    const r = planRuleset({ filesystem: fs({ read: ['/usr', '/srv/w'], write: ['/srv/w'], exec: ['/usr'] }), network: noNetwork, protectedRoots: [] });
    expect(r.paths).toEqual([
      { path: '/srv/w', access: GRANTS.write },
      { path: '/usr', access: GRANTS.exec },
    ]);
    expect(GRANTS.read).toBe(ACCESS_FS.READ_FILE | ACCESS_FS.READ_DIR);
    expect(GRANTS.exec & ACCESS_FS.EXECUTE).toBeTruthy();
    expect(GRANTS.write & ACCESS_FS.EXECUTE).toBe(0);
    for (const never of [ACCESS_FS.MAKE_CHAR, ACCESS_FS.MAKE_BLOCK, ACCESS_FS.IOCTL_DEV]) expect(GRANTS.write & never).toBe(0);
    for (const needed of [ACCESS_FS.TRUNCATE, ACCESS_FS.REFER, ACCESS_FS.REMOVE_FILE, ACCESS_FS.MAKE_REG, ACCESS_FS.MAKE_SYM]) expect(GRANTS.write & needed).toBe(needed);
  });

  it('grants the ioctl right with the null-like devices only (isatty() on a stream sent to /dev/null asks it)', () => {
    const r = planRuleset({ filesystem: fs({ read: ['/dev/urandom', '/dev/tty', '/dev'], write: ['/dev/null'] }), network: noNetwork, protectedRoots: [] });
    expect(r.paths).toEqual([
      { path: '/dev', access: GRANTS.read },
      { path: '/dev/null', access: GRANTS.write | ACCESS_FS.IOCTL_DEV },
      { path: '/dev/tty', access: GRANTS.read },
      { path: '/dev/urandom', access: GRANTS.read | ACCESS_FS.IOCTL_DEV },
    ]);
    expect([...IOCTL_HARMLESS_DEVICES].sort()).toEqual(['/dev/full', '/dev/null', '/dev/random', '/dev/urandom', '/dev/zero']);
  });

  it('adds the runtime’s extra grants', () => {
    const r = planRuleset({ filesystem: fs(), network: noNetwork, extra: [{ path: '/opt/agent/run', access: ACCESS_FS.EXECUTE }], protectedRoots: [] });
    expect(r.paths).toEqual([{ path: '/opt/agent/run', access: ACCESS_FS.EXECUTE }]);
  });

  describe('protected roots', () => {
    const roots = ['/sys/fs/cgroup', '/opt/airlock'];
    it.each([
      ['the root itself', '/opt/airlock'],
      ['inside it', '/opt/airlock/var/audit'],
      ['a parent', '/opt'],
      ['the filesystem root', '/'],
      ['a parent of cgroupfs', '/sys'],
    ])('refuses a grant of %s with ENFORCER_PROTECTED_PATH', (_what, path) => {
      for (const kind of ['read', 'write', 'exec'] as const) {
        expect(() => planRuleset({ filesystem: fs({ [kind]: [path] }), network: noNetwork, protectedRoots: roots })).toThrow(
          expect.objectContaining({ code: 'ENFORCER_PROTECTED_PATH', name: 'LaunchError' }),
        );
      }
    });

    it.each([['/opt/airlock-other'], ['/opt/airlockx/y'], ['/sys/fs/cgroupies'], ['/sys/kernel']])('allows the sibling %s', (path) => {
      expect(planRuleset({ filesystem: fs({ read: [path] }), network: noNetwork, protectedRoots: roots }).paths).toHaveLength(1);
    });

    it('passes the roots on for the launcher’s inode check', () => {
      expect(planRuleset({ filesystem: fs(), network: noNetwork, protectedRoots: [...roots, '/opt/airlock'] }).protectedRoots).toEqual(roots);
    });

    it('refuses relative paths', () => {
      expect(() => planRuleset({ filesystem: fs({ read: ['usr'] }), network: noNetwork, protectedRoots: [] })).toThrow(expect.objectContaining({ code: 'ENFORCER_SPEC_INVALID' }));
      expect(() => planRuleset({ filesystem: fs(), network: noNetwork, protectedRoots: ['opt'] })).toThrow(expect.objectContaining({ code: 'ENFORCER_SPEC_INVALID' }));
    });
  });

  describe('TCP', () => {
    const net = (over: Partial<CompiledNetwork>): CompiledNetwork => ({ ...noNetwork, ...over });
    const plan = (network: CompiledNetwork) => planRuleset({ filesystem: fs(), network, protectedRoots: [] });

    it('denies every bind and connect without a network', () => {
      const r = plan(noNetwork);
      expect(r.handledNet).toBe(ACCESS_NET.BIND_TCP | ACCESS_NET.CONNECT_TCP);
      expect(r.ports).toEqual([]);
    });

    it('limits connect to the policy’s TCP ports and the resolver’s', () => {
      const r = plan(net({ allow: [rule([[443, 443], [8080, 8082]]), rule([[53, 53]], 'udp')], resolver: { address: '10.0.0.2', port: 5353 } }));
      expect(r.handledNet).toBe(ACCESS_NET.CONNECT_TCP);
      expect(r.ports.map((p) => p.port)).toEqual([443, 5353, 8080, 8081, 8082]);
      expect(r.ports.every((p) => p.access === ACCESS_NET.CONNECT_TCP)).toBe(true);
    });

    it('denies TCP connect entirely when only UDP is allowed', () => {
      const r = plan(net({ allow: [rule([[123, 123]], 'udp')] }));
      expect(r.handledNet).toBe(ACCESS_NET.CONNECT_TCP);
      expect(r.ports).toEqual([]);
    });

    it.each([
      ['a rule with every port', net({ allow: [rule([])] })],
      ['loopback (any port there)', net({ loopback: true, allow: [rule([[443, 443]])] })],
      ['more ports than rules can hold', net({ allow: [rule([[1, MAX_PORT_RULES + 1]])] })],
    ])('leaves connect to the eBPF layer for %s', (_what, network) => {
      const r = plan(network);
      expect(r.handledNet).toBe(0);
      expect(r.ports).toEqual([]);
    });
  });
});
