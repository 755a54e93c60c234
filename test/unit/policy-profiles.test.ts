/**
 * The built-in profiles: the shipped YAML files are what the compiler uses,
 * each profile keeps its guarantees, and the runtime base really is enough for
 * a dynamically linked program to start.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { PROFILE_NAMES, PROFILE_SOURCES, loadPolicy, prepareProfile, resolvePolicy } from '../../services/enforcer/policy/index.js';

const DIR = 'services/enforcer/policy/profiles';
const WS = '/srv/ws';
const compiled = async (name: 'sandbox' | 'development' | 'production', resolver?: { address: string }) =>
  (await resolvePolicy(prepareProfile(name, { workspace: WS }), resolver ? { resolver } : {})).policy;

describe('built-in profiles', () => {
  it('the YAML files shipped are byte for byte the profiles compiled in', () => {
    for (const name of ['base', ...PROFILE_NAMES] as const) {
      expect(readFileSync(`${DIR}/${name}.yaml`, 'utf8'), name).toBe(PROFILE_SOURCES[name]);
    }
  });

  it('each profile states every key, so no default decides what it means', () => {
    for (const name of PROFILE_NAMES) {
      const p = parse(PROFILE_SOURCES[name]).agent_policy;
      expect(Object.keys(p).sort()).toEqual(['audit', 'execution', 'filesystem', 'network', 'on_violation']);
      expect(Object.keys(p.network).sort()).toEqual(['allow_egress', 'deny_egress', 'dns', 'loopback']);
      expect(Object.keys(p.filesystem).sort()).toEqual(['exec', 'read', 'write']);
      expect(Object.keys(p.execution).sort()).toEqual(['exec', 'max_memory_mb', 'max_processes', 'spawn', 'timeout_minutes']);
    }
  });

  it('sandbox: no network, no spawn or exec, writes only to the workspace and /tmp', async () => {
    const p = await compiled('sandbox', { address: '10.0.0.53' });
    expect(p.network).toEqual({ allow: [], deny: expect.any(Array), loopback: false });
    expect(p.execution).toMatchObject({ spawn: false, exec: false });
    expect(p.filesystem.write).toEqual(['/dev/null', WS, '/tmp']);
    expect(p.filesystem.exec).not.toContain(WS);
    expect(p.onViolation).toBe('kill');
    expect(p).toMatchObject({ name: 'sandbox', source: 'builtin:sandbox', extends: 'sandbox' });
  });

  it('development: loopback, spawn and exec, workspace programs may run', async () => {
    const p = await compiled('development', { address: '10.0.0.53' });
    expect(p.network).toMatchObject({ allow: [], loopback: true });
    expect(p.network.resolver).toBeUndefined();
    expect(p.execution).toMatchObject({ spawn: true, exec: true });
    expect(p.filesystem.write).toEqual(['/dev/null', WS, '/tmp']);
    expect(p.filesystem.exec).toContain(WS);
  });

  it('production: listed egress only, DNS to the configured resolver, every operation audited, nothing written runs', async () => {
    const p = await compiled('production', { address: '10.0.0.53' });
    expect(p.network).toMatchObject({ allow: [], loopback: false, resolver: { address: '10.0.0.53', port: 53 } });
    expect(p.audit.allows).toBe(true);
    expect(p.filesystem.exec).not.toContain(WS);
    expect(p.filesystem.exec).not.toContain('/tmp');
    expect(p.filesystem.read).toEqual(expect.arrayContaining(['/etc/resolv.conf', '/etc/ssl']));
  });

  it('every profile gets the runtime base, read-only except /dev/null', async () => {
    for (const name of PROFILE_NAMES) {
      const p = await compiled(name);
      expect(p.filesystem.read).toEqual(expect.arrayContaining(['/usr', '/lib', '/etc/ld.so.cache', '/dev/null', '/dev/urandom', '/proc']));
      // the agent's own procfs (its PID namespace), whole: no single process's /proc/<pid>, nothing under it listed apart
      expect(p.filesystem.read.filter((r) => r.startsWith('/proc/'))).toEqual([]);
      expect([...p.filesystem.write, ...p.filesystem.exec].filter((r) => r === '/proc' || r.startsWith('/proc/'))).toEqual([]);
      expect(p.filesystem.exec).toEqual(expect.arrayContaining(['/usr', '/bin', '/lib']));
      expect(p.filesystem.write.filter((w) => w.startsWith('/dev'))).toEqual(['/dev/null']);
    }
  });

  it('`--policy sandbox` and `extends: sandbox` mean the same', async () => {
    const named = await loadPolicy('sandbox', { workspace: WS });
    expect(named.execution).toEqual((await compiled('sandbox')).execution);
  });
});

// Proof that the base is enough: in a mount namespace whose root holds only
// the base's read paths (read-only), programs start and run. /proc is left
// out: the launcher mounts the agent's own (test/integration/sandbox-namespaces).
const canUnshare = process.getuid?.() === 0 && existsSync('/usr/bin/unshare');
describe.skipIf(!canUnshare)('the runtime base on this host', () => {
  it('is enough for sh and python3 to run with nothing else visible', () => {
    const base = parse(PROFILE_SOURCES.base).agent_policy.filesystem.read as string[];
    const paths = base.filter((p) => !p.startsWith('/proc') && existsSync(p));
    const script = `
set -e
root=$(mktemp -d)
trap 'umount -R "$root"; rmdir "$root"' EXIT
mount -t tmpfs none "$root"
for p in ${paths.map((p) => `'${p}'`).join(' ')}; do
  if [ -d "$p" ]; then mkdir -p "$root$p"; else mkdir -p "$(dirname "$root$p")"; touch "$root$p"; fi
  mount --bind "$p" "$root$p"
  mount -o remount,bind,ro "$root$p"
done
chroot "$root" /bin/sh -c 'echo sh-ok; ls / | tr "\\n" " "; echo'
chroot "$root" /usr/bin/python3 -c 'import json, hashlib, os; print("python-ok", os.path.exists("/home"))'
chroot "$root" /bin/sh -c 'echo x > /usr/should-fail' 2>/dev/null && echo writable || echo read-only
`;
    const out = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
    expect(out).toContain('sh-ok');
    expect(out).toContain('python-ok False');
    expect(out).toContain('read-only');
    expect(out).not.toContain('home');
  });
});
