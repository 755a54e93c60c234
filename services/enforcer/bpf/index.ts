/** The eBPF layer of the enforcer: the public API of services/enforcer/bpf. */
export {
  BpfLoader,
  type AgentRegistration,
  type BpfLoaderOptions,
  type KernelAuditMode,
  type LoaderEvent,
  type LoaderExit,
  type LoaderReady,
  type LoaderStatus,
} from './client.js';
export {
  decodeEvent,
  EventOp,
  type BpfEvent,
  type ConnectEvent,
  type EventBase,
  type ExecEvent,
  type ExitEvent,
  type Hook,
  type OpenEvent,
  type Reason,
  type SocketEvent,
  type SpawnEvent,
  type Verdict,
} from './events.js';
export { defaultLoaderPath, LOADER_ENV } from './paths.js';
export { egressTables, type EgressTables, type LoaderPolicy, type RuleInfo } from './policy.js';
export { probeBpf, type BpfProbe, type ProbeResult, type ProgramType } from './probe.js';
