/**
 * Does this host have every layer a policy needs? Never "best effort": a
 * missing layer refuses the run (ENFORCER_LAYER_UNAVAILABLE) before anything
 * of the agent exists. The checks are pure: they take what the launcher's
 * probe (cached per launcher binary and boot: probeLaunchLayers), the cgroup
 * layout and the BPF broker reported.
 *
 * Every policy needs all of them, because they cover each other's gaps:
 * Landlock (filesystem, TCP ports, scoping; ABI 7 for audit of its denials),
 * seccomp (spawn, exec, the escape syscalls; with logging), the eBPF programs
 * (egress by address, the process tree, kill on violation; a loaded program
 * set proves the kernel takes them), kernel audit (how Landlock and seccomp
 * denials reach the audit trail and the kill), and cgroups (budgets, the
 * whole-tree kill, a cgroup v2 directory for the eBPF programs).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BrokerHello } from './bpf-broker/index.js';
import type { CgroupLayout } from './cgroups/index.js';
import { RunError, RunErrorCodes } from './errors.js';
import { REQUIRED_ABI } from './landlock/index.js';
import { probeHost, type HostLayers } from './launch.js';
import type { CompiledPolicy } from './policy/index.js';
import { EXEC_GATE_ADDRESS } from './seccomp/index.js';

export type LayerName = 'landlock' | 'seccomp' | 'ebpf' | 'kernel-audit' | 'cgroup';

export interface MissingLayer {
  layer: LayerName;
  reason: string;
  hint: string;
}

/** Landlock and seccomp, as airlock-launch --probe sees them. */
export function launchLayerProblems(host: HostLayers, policy: Pick<CompiledPolicy, 'execution'>): MissingLayer[] {
  const problems: MissingLayer[] = [];
  if (!(host.landlock.abi >= REQUIRED_ABI)) {
    problems.push({
      layer: 'landlock',
      reason: host.landlock.abi > 0 ? `Landlock ABI ${host.landlock.abi} is below the ${REQUIRED_ABI} every agent needs` : 'Landlock is not enabled in this kernel',
      hint: `Run a kernel with Landlock ABI ${REQUIRED_ABI} (Linux 6.15+) and landlock in the lsm= boot list.`,
    });
  }
  if (!host.seccomp.available) {
    problems.push({ layer: 'seccomp', reason: 'seccomp filters with logging are not available', hint: 'Use a kernel built with CONFIG_SECCOMP_FILTER=y.' });
  }
  if (!policy.execution.exec && !(host.mmapMinAddr > EXEC_GATE_ADDRESS)) {
    problems.push({
      layer: 'seccomp',
      reason: `vm.mmap_min_addr is ${host.mmapMinAddr}: the exec gate of a no-exec policy needs it above ${EXEC_GATE_ADDRESS}`,
      hint: 'Set vm.mmap_min_addr to 4096 or more (the usual default).',
    });
  }
  return problems;
}

/** Budgets and the eBPF attach point. */
export function cgroupLayerProblems(layout: CgroupLayout): MissingLayer[] {
  const missing = [layout.unified ? [] : ['a cgroup2 hierarchy (eBPF attach point, cgroup.kill)'], layout.pids ? [] : ['the pids controller'], layout.memory ? [] : ['the memory controller']].flat();
  return missing.length === 0
    ? []
    : [{ layer: 'cgroup', reason: `missing ${missing.join(', ')} (layout: ${layout.kind})`, hint: 'Mount cgroup2 (pure v2, or at /sys/fs/cgroup/unified beside the v1 pids and memory controllers).' }];
}

/** The BPF loader is up (so its programs loaded); Landlock and seccomp denials must reach it. */
export function auditLayerProblems(hello: Pick<BrokerHello, 'kaudit' | 'kauditEnabled' | 'kauditNote'>): MissingLayer[] {
  if (hello.kaudit !== 'off' && hello.kauditEnabled) return [];
  return [
    {
      layer: 'kernel-audit',
      reason: hello.kaudit === 'off' ? `the kernel audit subsystem is unreachable (${hello.kauditNote})` : `kernel audit is disabled by the running audit daemon (${hello.kauditNote})`,
      hint: 'Landlock and seccomp denials reach the audit trail (and end killing agents) through kernel audit: enable it (`auditctl -e 1`) or stop the audit daemon so the enforcer can take its place.',
    },
  ];
}

/** Throws ENFORCER_LAYER_UNAVAILABLE naming every missing layer. */
export function refuseUnlessComplete(problems: MissingLayer[], cause?: unknown): void {
  if (problems.length === 0) return;
  throw new RunError(RunErrorCodes.LAYER_UNAVAILABLE, `this host cannot enforce the policy: ${problems.map((p) => `${p.layer}: ${p.reason}`).join('; ')}`, {
    hint: `${problems.map((p) => p.hint).join(' ')} The agent was not started: it never runs with a layer missing (\`airlock doctor\` lists them all).`,
    details: { layers: problems },
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** Host-wide, beside the BPF broker's socket (root-only, gone at reboot). */
export const LAUNCH_PROBE_CACHE = '/run/airlock/launcher-probe.json';

/**
 * `airlock-launch --probe`, run once per launcher binary, boot and
 * vm.mmap_min_addr (all its answer depends on) rather than once per agent.
 * Only the refusal's early word: the launcher itself refuses to start an
 * agent on a host that lacks a layer.
 */
export async function probeLaunchLayers(launcher: string, cacheFile = LAUNCH_PROBE_CACHE): Promise<HostLayers> {
  const [st, boot, mmapMinAddr, cached] = await Promise.all([
    stat(launcher).catch(() => undefined),
    readFile('/proc/sys/kernel/random/boot_id', 'utf8'),
    readFile('/proc/sys/vm/mmap_min_addr', 'utf8'),
    readFile(cacheFile, 'utf8').then((text) => JSON.parse(text) as { key: string; host: HostLayers }, () => undefined),
  ]);
  if (!st) return probeHost(launcher); // it says why it cannot run
  const key = JSON.stringify([launcher, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs, boot.trim(), mmapMinAddr.trim()]);
  if (cached?.key === key) return cached.host;
  const host = await probeHost(launcher);
  await mkdir(dirname(cacheFile), { recursive: true, mode: 0o700 });
  const temp = `${cacheFile}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, `${JSON.stringify({ key, host })}\n`, { mode: 0o600 });
  await rename(temp, cacheFile);
  return host;
}
