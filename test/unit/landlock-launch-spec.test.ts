/**
 * What every launch spec says about /proc and cgroupfs, for each built-in
 * profile: /proc (the agent's own procfs, mounted by the launcher in its PID
 * namespace) is readable and nothing more; cgroupfs is masked, and a mask is
 * always a protected root, so no rule can ever reach it.
 */
import { describe, expect, it } from 'vitest';
import { GRANTS } from '../../services/enforcer/landlock/index.js';
import { buildLaunchSpec, MASKED_PATHS } from '../../services/enforcer/launch.js';
import { encodeLaunchSpec } from '../../services/enforcer/launch-spec.js';
import { DEFAULT_PROTECTED_PATHS, PROFILE_NAMES, prepareProfile, resolvePolicy } from '../../services/enforcer/policy/index.js';

const WS = '/srv/agent';
const within = (a: string, b: string) => a === b || a.startsWith(`${b}/`);

describe.each(PROFILE_NAMES)('the launch spec of %s', (profile) => {
  const spec = async () => {
    const { policy } = await resolvePolicy(prepareProfile(profile, { workspace: WS, tmp: '/tmp' }), { resolver: { address: '10.0.0.53', port: 53 } });
    return buildLaunchSpec(policy, { workspace: WS, command: ['/bin/true'], privateTmp: '/tmp' }, { program: '/usr/bin/true', argv: ['/bin/true'] });
  };

  it('grants /proc read-only, whole (its own procfs), and no /proc/<something> apart', async () => {
    const { paths } = (await spec()).landlock;
    expect(paths.filter((r) => within(r.path, '/proc'))).toEqual([{ path: '/proc', access: GRANTS.read }]);
  });

  it('masks cgroupfs; every mask is a protected root and no rule is, contains or lies inside one', async () => {
    const s = await spec();
    expect(s.masks).toEqual(['/sys/fs/cgroup']);
    for (const mask of s.masks) {
      expect(s.landlock.protectedRoots).toContain(mask);
      expect(s.landlock.paths.filter((r) => within(r.path, mask) || within(mask, r.path))).toEqual([]);
    }
    expect(encodeLaunchSpec(s)).toMatch(/^private-tmp \/tmp\nmask \/sys\/fs\/cgroup\nlandlock-abi 7$/m);
  });
});

it('masks only protected paths (a mask is never grantable)', () => {
  for (const mask of MASKED_PATHS) expect(DEFAULT_PROTECTED_PATHS).toContain(mask);
});
