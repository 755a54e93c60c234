export { Assembler, encodeProgram, NEXT, type Instruction, type Target } from './bpf.js';
export { buildSeccompPlan, ESCAPE_SYSCALLS, EXEC_GATE_ADDRESS, hasNetwork, type SeccompFilter, type SeccompPlan } from './filter.js';
export { SYSCALLS, type SyscallName } from './abi.js';
export { METADATA_SYSCALLS } from './metadata.js';
