/**
 * Which cgroup hierarchies a host has and where each function an agent needs
 * lives. Pure: decided from the text of /proc/self/mountinfo and the
 * controllers the cgroup2 hierarchy offers, so every layout is unit-tested
 * from fixtures:
 *   v2      one cgroup2 hierarchy with controllers (most current distributions)
 *   hybrid  v1 controller hierarchies + a cgroup2 one with few or no controllers
 *           (systemd "hybrid"; this workplace: v2 at /sys/fs/cgroup/unified)
 *   v1      v1 hierarchies only
 */
import { CgroupError, CgroupErrorCodes } from '../errors.js';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

export type CgroupVersion = 1 | 2;

/** Where one function lives: the hierarchy's mount point and its version. */
export interface Placement {
  version: CgroupVersion;
  mount: string;
}

export interface CgroupLayout {
  kind: 'v2' | 'hybrid' | 'v1';
  /** The cgroup2 mount: BPF attach, cgroup.kill and cgroup.freeze live there. */
  unified?: string;
  /** Controllers the cgroup2 hierarchy offers (its root's cgroup.controllers). */
  unifiedControllers: string[];
  /** Mount point of each v1 controller (co-mounted controllers share one). */
  v1: Record<string, string>;
  pids?: Placement;
  memory?: Placement;
  /** v2 cgroup.freeze when there is a cgroup2 hierarchy, else the v1 freezer. */
  freezer?: Placement;
}

/** mountinfo(5): `id parent major:minor root mountpoint opts [optional...] - fstype source superopts`. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const sep = fields.indexOf('-');
    if (sep < 6 || fields.length < sep + 4) continue;
    entries.push({ mountPoint: unescapeOctal(fields[4]!), fsType: fields[sep + 1]!, superOptions: fields[sep + 3]!.split(',') });
  }
  return entries;
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The cgroup2 mount to use: /sys/fs/cgroup, then /sys/fs/cgroup/unified, then the first one. */
export function unifiedMount(mountinfo: string): string | undefined {
  const mounts = parseMountInfo(mountinfo).filter((m) => m.fsType === 'cgroup2').map((m) => m.mountPoint);
  return ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((p) => mounts.includes(p)) ?? mounts[0];
}

/** Options of a v1 mount that are not controllers. */
const V1_NON_CONTROLLERS = /^(rw|ro|relatime|noatime|nosuid|nodev|noexec|clone_children|noprefix|xattr|cpuset_v2_mode|favordynmods|release_agent=.*|name=.*)$/;

export function cgroupLayout(mountinfo: string, unifiedControllersText = ''): CgroupLayout {
  const mounts = parseMountInfo(mountinfo);
  const unified = unifiedMount(mountinfo);
  const unifiedControllers = unified ? unifiedControllersText.split(/\s+/).filter(Boolean) : [];
  const v1: Record<string, string> = {};
  for (const m of mounts.filter((m) => m.fsType === 'cgroup')) {
    for (const opt of m.superOptions) {
      if (!V1_NON_CONTROLLERS.test(opt) && v1[opt] === undefined) v1[opt] = m.mountPoint;
    }
  }
  const hasV1 = Object.keys(v1).length > 0;
  if (!unified && !hasV1) {
    throw new CgroupError(CgroupErrorCodes.UNSUPPORTED, 'no cgroup hierarchy is mounted', {
      hint: 'Mount cgroup2 at /sys/fs/cgroup (or the v1 pids and memory controllers): the enforcer needs cgroups for budgets and kills.',
    });
  }
  const place = (controller: string): Placement | undefined =>
    unified && unifiedControllers.includes(controller) ? { version: 2, mount: unified } : v1[controller] ? { version: 1, mount: v1[controller]! } : undefined;
  const pids = place('pids');
  const memory = place('memory');
  const freezer: Placement | undefined = unified ? { version: 2, mount: unified } : v1.freezer ? { version: 1, mount: v1.freezer } : undefined;
  return {
    kind: unified ? (hasV1 ? 'hybrid' : 'v2') : 'v1',
    ...(unified ? { unified } : {}),
    unifiedControllers,
    v1,
    ...(pids ? { pids } : {}),
    ...(memory ? { memory } : {}),
    ...(freezer ? { freezer } : {}),
  };
}
