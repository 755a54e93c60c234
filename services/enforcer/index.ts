/** The enforcer: the public API of services/enforcer (what the CLI and other services use). */
export { listAgents, type AgentListing, type AgentUsageNow, type ListResult } from './agent-list.js';
export type { AgentRecord } from './agent-registry.js';
export { runAgent, type EndedBy, type EnforcerPaths, type RunAgentOptions, type RunResult, type RunUsage } from './agent-run.js';
export type { AuditEvent, AuditLayer, AuditVerdict, KillReport, Violation } from './audit-events.js';
export { readAuditLog, type ReadAuditOptions } from './audit-log.js';
export { probeBpf, type BpfProbe } from './bpf/index.js';
export { REQUIRED_ABI } from './landlock/index.js';
export type { LayerName, MissingLayer } from './layers.js';
export { defaultLauncherPath, probeHost, type HostLayers, type StdioEntry } from './launch.js';
export { EXEC_GATE_ADDRESS } from './seccomp/index.js';
