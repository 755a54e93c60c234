/** The policy language and its compiler: the public API of services/enforcer/policy. */
export type { CompiledExecution, CompiledFilesystem, CompiledNetwork, CompiledPolicy, EgressRule, ProfileName, ViolationAction } from './types.js';
export {
  compilePolicy,
  preparePolicy,
  prepareProfile,
  resolvePolicy,
  STANDALONE_DEFAULTS,
  type CompileOptions,
  type EgressEntry,
  type PreparedPolicy,
  type PrepareOptions,
  type ResolvedPolicy,
  type ResolveOptions,
} from './compile.js';
export { decideEgress, parseEgressEntry, type EgressDecision, type EgressQuery, type EgressSpec } from './egress.js';
export { formatIssue, type PolicyIssue } from './issues.js';
export { loadPolicy, loadPolicyFile, loadPolicyFolder, type LoadOptions, type PolicyFolder } from './load.js';
export { DEFAULT_PROTECTED_PATHS } from './paths.js';
export { isProfileName, PROFILE_CEILINGS, PROFILE_NAMES, PROFILE_SOURCES } from './profiles.js';
export { diffEgress, PolicyRefresher, type EgressDiff, type PolicyUpdate, type RefreshOptions, type RuleDiff } from './refresh.js';
export { createDnsResolver, type DnsResolverOptions, type DnsServer, type HostResolver, type ResolvedHost } from './resolve.js';
export { LIMITS, MAX_LIST_ENTRIES } from './schema.js';
