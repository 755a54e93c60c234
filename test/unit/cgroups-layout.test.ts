/** Layout detection from mount tables of the three kinds of host, and what the manager makes of each. */
import { describe, expect, it } from 'vitest';
import { cgroupLayout, CgroupManager, parseMountInfo, unifiedMount } from '../../services/enforcer/cgroups/index.js';

// Ubuntu 22.04 / RHEL 9 / Debian 12 on systemd: pure cgroup v2.
const V2 = `
22 27 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
27 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
`;
const V2_CONTROLLERS = 'cpuset cpu io memory hugetlb pids rdma misc';

// This workplace: v1 controllers, a controller-less cgroup2 at /sys/fs/cgroup/unified.
const HYBRID = `
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

// CentOS 7: v1 only, cpu and cpuacct co-mounted, optional fields before the separator.
const V1 = `
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:6 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:7 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
31 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,pids
32 25 0:29 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,freezer
`;

describe('cgroup layout', () => {
  it('pure v2: everything in the one hierarchy', () => {
    const layout = cgroupLayout(V2, V2_CONTROLLERS);
    expect(layout).toEqual({
      kind: 'v2',
      unified: '/sys/fs/cgroup',
      unifiedControllers: V2_CONTROLLERS.split(' '),
      v1: {},
      pids: { version: 2, mount: '/sys/fs/cgroup' },
      memory: { version: 2, mount: '/sys/fs/cgroup' },
      freezer: { version: 2, mount: '/sys/fs/cgroup' },
    });
  });

  it('hybrid: budgets in v1, BPF/kill/freeze in the controller-less cgroup2', () => {
    const layout = cgroupLayout(HYBRID, '');
    expect(layout.kind).toBe('hybrid');
    expect(layout.unified).toBe('/sys/fs/cgroup/unified');
    expect(layout.pids).toEqual({ version: 1, mount: '/sys/fs/cgroup/pids' });
    expect(layout.memory).toEqual({ version: 1, mount: '/sys/fs/cgroup/memory' });
    expect(layout.freezer).toEqual({ version: 2, mount: '/sys/fs/cgroup/unified' });
    expect(layout.v1).toEqual({
      cpu: '/sys/fs/cgroup/cpu',
      cpuacct: '/sys/fs/cgroup/cpuacct',
      memory: '/sys/fs/cgroup/memory',
      freezer: '/sys/fs/cgroup/freezer',
      pids: '/sys/fs/cgroup/pids',
    });
  });

  it('hybrid with a controller the v1 side does not bind: that one comes from cgroup2', () => {
    const withoutV1Pids = HYBRID.split('\n').filter((l) => !l.includes('rw,pids')).join('\n');
    const layout = cgroupLayout(withoutV1Pids, 'pids');
    expect(layout.pids).toEqual({ version: 2, mount: '/sys/fs/cgroup/unified' });
    expect(layout.memory).toEqual({ version: 1, mount: '/sys/fs/cgroup/memory' });
  });

  it('pure v1: co-mounted controllers, the v1 freezer, no BPF directory', () => {
    const layout = cgroupLayout(V1);
    expect(layout.kind).toBe('v1');
    expect(layout.unified).toBeUndefined();
    expect(layout.v1.cpu).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(layout.v1.cpuacct).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(layout.v1['name=systemd']).toBeUndefined();
    expect(layout.freezer).toEqual({ version: 1, mount: '/sys/fs/cgroup/freezer' });
    expect(layout.pids).toEqual({ version: 1, mount: '/sys/fs/cgroup/pids' });
  });

  it('no cgroups at all is CGROUP_UNSUPPORTED', () => {
    expect(() => cgroupLayout('27 1 252:1 / / rw - ext4 /dev/vda1 rw\n')).toThrow(expect.objectContaining({ code: 'CGROUP_UNSUPPORTED' }));
  });

  it('picks /sys/fs/cgroup over another cgroup2 mount, and unescapes mount points', () => {
    const text = `50 1 0:40 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw\n${V2}`;
    expect(unifiedMount(text)).toBe('/sys/fs/cgroup');
    expect(parseMountInfo(text)[0]!.mountPoint).toBe('/mnt/my cgroup');
    expect(unifiedMount(text.split('\n').slice(0, 1).join('\n'))).toBe('/mnt/my cgroup');
  });

  it('a manager refuses a layout without the pids or memory controller', () => {
    expect(() => new CgroupManager(cgroupLayout(V2, 'cpu io'))).toThrow(expect.objectContaining({ code: 'CGROUP_UNSUPPORTED', message: expect.stringContaining('pids and memory') }));
    expect(() => new CgroupManager(cgroupLayout(V2, 'pids'))).toThrow(expect.objectContaining({ code: 'CGROUP_UNSUPPORTED', message: expect.stringContaining('memory') }));
    expect(() => new CgroupManager(cgroupLayout(V2, V2_CONTROLLERS), { parent: '../escape' })).toThrow(expect.objectContaining({ code: 'CGROUP_INVALID_ARGUMENT' }));
    expect(new CgroupManager(cgroupLayout(V1), { parent: 'system.slice/airlock.service/agents' }).parent).toBe('system.slice/airlock.service/agents');
  });
});
