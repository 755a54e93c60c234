/**
 * Every way a policy can be wrong, each with the exact message it must give:
 * file:line:col, the key path, what is wrong. One row a case (attack-corpus
 * style); all of them are POLICY_INVALID.
 */
import { describe, expect, it } from 'vitest';
import { compilePolicy, preparePolicy } from '../../services/enforcer/policy/index.js';

interface Case {
  name: string;
  yaml: string;
  /** The error message (one problem) or its lines (several). */
  expect: string | string[] | RegExp;
}

const CASES: Case[] = [
  { name: 'empty file', yaml: '', expect: 'p.yaml:1:1 the policy is empty: it needs the key agent_policy' },
  { name: 'not a mapping', yaml: '- a\n- b\n', expect: 'p.yaml:1:1 a policy must be a mapping with the single key agent_policy' },
  {
    name: 'top-level key that belongs under agent_policy',
    yaml: 'extends: sandbox\nagent_policy:\n  name: x\n',
    expect: 'p.yaml:1:1 extends: unknown key (did you mean agent_policy.extends?)',
  },
  { name: 'agent_policy not a mapping', yaml: 'agent_policy: [1]\n', expect: 'p.yaml:1:15 agent_policy: must be a mapping' },
  { name: 'unknown key in a section', yaml: 'agent_policy:\n  network:\n    allow_egres: []\n', expect: 'p.yaml:3:5 agent_policy.network.allow_egres: unknown key' },
  { name: 'unknown section', yaml: 'agent_policy:\n  secrets: {}\n', expect: 'p.yaml:2:3 agent_policy.secrets: unknown key' },
  {
    name: 'duplicate key',
    yaml: 'agent_policy:\n  execution:\n    max_processes: 10\n    max_processes: 1000\n',
    expect: 'p.yaml:4:5 agent_policy.execution.max_processes: duplicate key',
  },
  // The parser's own wording may change with its version: the position and key path may not.
  { name: 'invalid YAML', yaml: 'agent_policy:\n  network: {\n', expect: /^p\.yaml:3:1 agent_policy\.network: invalid YAML: \S/ },
  { name: 'unknown tag', yaml: 'agent_policy:\n  name: !custom x\n', expect: /^p\.yaml:2:9 agent_policy\.name: invalid YAML: .*custom/ },
  { name: 'binary where a string belongs', yaml: 'agent_policy:\n  name: !!binary aGk=\n', expect: 'p.yaml:2:18 agent_policy.name: must be a string' },
  { name: 'max_processes zero', yaml: 'agent_policy:\n  execution:\n    max_processes: 0\n', expect: 'p.yaml:3:20 agent_policy.execution.max_processes: must be a positive integer' },
  { name: 'max_processes as a string', yaml: 'agent_policy:\n  execution:\n    max_processes: "10"\n', expect: 'p.yaml:3:20 agent_policy.execution.max_processes: must be a positive integer' },
  { name: 'max_processes fraction', yaml: 'agent_policy:\n  execution:\n    max_processes: 2.5\n', expect: 'p.yaml:3:20 agent_policy.execution.max_processes: must be a positive integer' },
  { name: 'max_processes absurd', yaml: 'agent_policy:\n  execution:\n    max_processes: 1000000\n', expect: 'p.yaml:3:20 agent_policy.execution.max_processes: must be at most 32768' },
  { name: 'max_memory_mb too small', yaml: 'agent_policy:\n  execution:\n    max_memory_mb: 1\n', expect: 'p.yaml:3:20 agent_policy.execution.max_memory_mb: must be at least 4 (nothing runs in less)' },
  { name: 'max_memory_mb absurd', yaml: 'agent_policy:\n  execution:\n    max_memory_mb: 99999999\n', expect: 'p.yaml:3:20 agent_policy.execution.max_memory_mb: must be at most 1048576 (1 TiB)' },
  { name: 'timeout negative', yaml: 'agent_policy:\n  execution:\n    timeout_minutes: -5\n', expect: 'p.yaml:3:22 agent_policy.execution.timeout_minutes: must be at least one second (1/60 minute)' },
  { name: 'timeout absurd', yaml: 'agent_policy:\n  execution:\n    timeout_minutes: 100000\n', expect: 'p.yaml:3:22 agent_policy.execution.timeout_minutes: must be at most 43200 (30 days)' },
  { name: 'timeout infinite', yaml: 'agent_policy:\n  execution:\n    timeout_minutes: .inf\n', expect: 'p.yaml:3:22 agent_policy.execution.timeout_minutes: must be a positive number of minutes' },
  { name: 'spawn not a boolean', yaml: 'agent_policy:\n  execution:\n    spawn: yes\n', expect: 'p.yaml:3:12 agent_policy.execution.spawn: must be true or false' },
  { name: 'extends unknown profile', yaml: 'agent_policy:\n  extends: prod\n', expect: 'p.yaml:2:12 agent_policy.extends: must be one of sandbox, development, production' },
  { name: 'on_violation unknown', yaml: 'agent_policy:\n  on_violation: log\n', expect: 'p.yaml:2:17 agent_policy.on_violation: must be kill or deny' },
  { name: 'bad name', yaml: 'agent_policy:\n  name: "../etc"\n', expect: 'p.yaml:2:9 agent_policy.name: must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit' },
  { name: 'list that is a string', yaml: 'agent_policy:\n  filesystem:\n    read: /data\n', expect: 'p.yaml:3:11 agent_policy.filesystem.read: must be a list of strings' },
  { name: 'empty list value', yaml: 'agent_policy:\n  filesystem:\n    read:\n', expect: 'p.yaml:3:10 agent_policy.filesystem.read: must be a list of strings' },
  { name: 'number in a list', yaml: 'agent_policy:\n  network:\n    allow_egress: [443]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: must be a string' },
  { name: 'relative path', yaml: 'agent_policy:\n  filesystem:\n    read: [data]\n', expect: 'p.yaml:3:12 agent_policy.filesystem.read[0]: "data" is relative: paths must be absolute' },
  { name: 'dot-dot path', yaml: 'agent_policy:\n  filesystem:\n    write:\n      - /data/../etc\n', expect: 'p.yaml:4:9 agent_policy.filesystem.write[0]: "/data/../etc" contains "..": write the path without it' },
  { name: 'unknown placeholder', yaml: 'agent_policy:\n  filesystem:\n    read: ["${home}/x"]\n', expect: 'p.yaml:3:12 agent_policy.filesystem.read[0]: "${home}/x": unknown placeholder ${home} (known: ${workspace}, ${tmp})' },
  { name: 'placeholder in the middle', yaml: 'agent_policy:\n  filesystem:\n    read: ["/x/${tmp}"]\n', expect: 'p.yaml:3:12 agent_policy.filesystem.read[0]: "/x/${tmp}": a placeholder may only start a path' },
  { name: 'placeholder glued to a name', yaml: 'agent_policy:\n  filesystem:\n    read: ["${tmp}x"]\n', expect: 'p.yaml:3:12 agent_policy.filesystem.read[0]: "${tmp}x": a placeholder must be followed by "/" or end the path' },
  { name: 'root grants cgroupfs', yaml: 'agent_policy:\n  filesystem:\n    read: ["/"]\n', expect: 'p.yaml:3:12 agent_policy.filesystem.read[0]: "/" would give access to /sys/fs/cgroup, which no agent may reach (Landlock grants whole hierarchies: list narrower paths)' },
  { name: 'inside cgroupfs', yaml: 'agent_policy:\n  filesystem:\n    write: [/sys/fs/cgroup/pids]\n', expect: 'p.yaml:3:13 agent_policy.filesystem.write[0]: "/sys/fs/cgroup/pids" would give access to /sys/fs/cgroup, which no agent may reach (Landlock grants whole hierarchies: list narrower paths)' },
  { name: 'CIDR with host bits', yaml: 'agent_policy:\n  network:\n    allow_egress: ["10.0.0.1/8"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "10.0.0.1/8" has host bits set after /8 (did you mean 10.0.0.0/8?)' },
  { name: 'prefix too long', yaml: 'agent_policy:\n  network:\n    allow_egress: ["10.0.0.0/33"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: prefix length "/33" must be a number from 0 to 32' },
  { name: 'IPv6 prefix too long', yaml: 'agent_policy:\n  network:\n    deny_egress: ["2001:db8::/129"]\n', expect: 'p.yaml:3:19 agent_policy.network.deny_egress[0]: prefix length "/129" must be a number from 0 to 128' },
  { name: 'bad IPv4', yaml: 'agent_policy:\n  network:\n    allow_egress: ["300.1.1.1"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "300.1.1.1" is not an IPv4 or IPv6 address' },
  { name: 'port zero', yaml: 'agent_policy:\n  network:\n    allow_egress: ["10.0.0.1:0"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "10.0.0.1:0": ports must be from 1 to 65535' },
  { name: 'port too high', yaml: 'agent_policy:\n  network:\n    allow_egress: ["h.test:65536"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "h.test:65536": ports must be from 1 to 65535' },
  { name: 'backwards range', yaml: 'agent_policy:\n  network:\n    allow_egress: ["h.test:90-80"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "h.test:90-80": the range 90-80 runs backwards' },
  { name: 'port not a number', yaml: 'agent_policy:\n  network:\n    allow_egress: ["h.test:https"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "h.test:https": "https" is not a port or a port range like 8000-8100' },
  { name: 'unknown protocol', yaml: 'agent_policy:\n  network:\n    allow_egress: ["icmp://10.0.0.1"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "icmp://": the protocol must be tcp:// or udp://' },
  { name: 'wildcard host', yaml: 'agent_policy:\n  network:\n    allow_egress: ["*.example.com"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "*.example.com": wildcard host names cannot be resolved ahead of time; list each host name or a CIDR' },
  { name: 'host with a prefix', yaml: 'agent_policy:\n  network:\n    allow_egress: ["h.test/24"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "h.test/24": a prefix length needs an IP address, not a host name' },
  { name: 'bad host name', yaml: 'agent_policy:\n  network:\n    allow_egress: ["bad_host.test"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "bad_host.test" is not a valid host name, IP address or CIDR (host names are ASCII letters, digits and "-"; use punycode for others)' },
  { name: 'unclosed bracket', yaml: 'agent_policy:\n  network:\n    allow_egress: ["[::1:443"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "[::1:443": missing "]" after the IPv6 address' },
  { name: 'IPv4 in brackets', yaml: 'agent_policy:\n  network:\n    allow_egress: ["[10.0.0.1]:80"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "[10.0.0.1]:80": brackets are only for IPv6 addresses' },
  { name: 'zone id', yaml: 'agent_policy:\n  network:\n    allow_egress: ["fe80::1%eth0"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "fe80::1%eth0" has a zone id: zones are not supported' },
  { name: 'short v4-mapped prefix', yaml: 'agent_policy:\n  network:\n    allow_egress: ["::ffff:0.0.0.0/80"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: an IPv4-mapped prefix must be at least /96, got /80' },
  { name: 'allow for DNS alone', yaml: 'agent_policy:\n  network:\n    allow_egress: ["udp://[2001:db8::1]:53"]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: "udp://[2001:db8::1]:53": port 53 (DNS) goes only to the appliance\'s resolver; set network.dns instead' },
  { name: 'empty entry', yaml: 'agent_policy:\n  network:\n    allow_egress: [""]\n', expect: 'p.yaml:3:20 agent_policy.network.allow_egress[0]: is empty' },
  {
    name: 'several problems at once, in source order',
    yaml: 'agent_policy:\n  bogus: 1\n  execution:\n    max_processes: -1\n  filesystem:\n    read: [rel]\n',
    expect: [
      'p.yaml:2:3 agent_policy.bogus: unknown key',
      'p.yaml:4:20 agent_policy.execution.max_processes: must be a positive integer',
    ],
  },
];

describe('policy errors', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const error = await compilePolicy(c.yaml, { file: 'p.yaml' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'POLICY_INVALID', name: 'PolicyError', hint: expect.stringContaining('README') });
    const message = (error as Error).message;
    if (c.expect instanceof RegExp) expect(message).toMatch(c.expect);
    else if (Array.isArray(c.expect)) expect(message).toBe(`${c.expect.length} problems in the policy:\n  ${c.expect.join('\n  ')}`);
    else expect(message).toBe(c.expect);
  });

  it('carries every problem as data: file, line, col, key path, message', () => {
    let error: unknown;
    try {
      preparePolicy('agent_policy:\n  execution:\n    max_processes: 0\n    max_memory_mb: 2\n', { file: 'x/policy.yaml' });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      details: {
        issues: [
          { file: 'x/policy.yaml', line: 3, col: 20, path: 'agent_policy.execution.max_processes', message: 'must be a positive integer' },
          { file: 'x/policy.yaml', line: 4, col: 20, path: 'agent_policy.execution.max_memory_mb', message: 'must be at least 4 (nothing runs in less)' },
        ],
      },
    });
  });

  it('rejects a policy file over 1 MiB before parsing it', () => {
    expect(() => preparePolicy(`# ${'x'.repeat(1024 * 1024)}\nagent_policy: {}\n`)).toThrow(expect.objectContaining({ code: 'POLICY_INVALID', message: 'policy.yaml:1:1 the policy is larger than 1048576 bytes' }));
  });

  it('rejects alias bombs', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    expect(() => preparePolicy(bomb)).toThrow(expect.objectContaining({ code: 'POLICY_INVALID', message: expect.stringContaining('invalid YAML') }));
  });

  it('rejects lists over the entry limit', () => {
    const list = Array.from({ length: 1025 }, (_, i) => `"/d${i}"`).join(',');
    expect(() => preparePolicy(`agent_policy:\n  filesystem:\n    read: [${list}]\n`, { file: 'p.yaml' })).toThrow(
      expect.objectContaining({ message: 'p.yaml:3:11 agent_policy.filesystem.read: must have at most 1024 entries' }),
    );
  });
});
