/** The cgroup manager: the public API of services/enforcer/cgroups. */
export { AgentCgroup, type AgentCgroupDirs, type CgroupUsage, type KillMethod, type WaitOptions } from './agent-cgroup.js';
export { detectCgroupLayout } from './detect.js';
export { cgroupLayout, parseMountInfo, unifiedMount, type CgroupLayout, type MountEntry, type Placement } from './layout.js';
export { CgroupManager, type AgentLimits, type CgroupManagerOptions, type SweepResult } from './manager.js';
export { killAfter, type TimeoutHandle } from './timeout.js';
