/**
 * Decoder of the ring buffer records the BPF programs write
 * (bpf/include/airlock_events.h). The loader forwards each record as base64;
 * this turns the bytes into typed events. Pure.
 *
 * LAYOUT mirrors the C structs field by field; test/unit/bpf-events-layout
 * compiles the header and checks every size and offset here, so the two
 * cannot drift apart silently.
 */
import { BpfError, BpfErrorCodes } from '../errors.js';
import { formatIp } from './ip.js';

/** Op numbers of the wire format: never changed, never reused. */
export const EventOp = { EXEC: 1, SPAWN: 2, EXIT: 3, CONNECT: 4, SOCKET: 5, OPEN: 6, UNIX: 7 } as const;

export const COMM_LEN = 16;
export const PATH_LEN = 256;
export const UNIX_PATH_LEN = 108;

/** sizeof and offsetof of each struct, named as in C. */
export const LAYOUT = {
  al_hdr: { sizeof: 16, op: 0, size: 2, agent: 4, time_ns: 8 },
  al_task: { sizeof: 32, pid: 0, tid: 4, uid: 8, flags: 12, comm: 16 },
  al_exec_event: { sizeof: 312, hdr: 0, task: 16, ppid: 48, filename: 56 },
  al_spawn_event: { sizeof: 56, hdr: 0, task: 16, child: 48 },
  al_exit_event: { sizeof: 56, hdr: 0, task: 16, exit_code: 48 },
  al_connect_event: { sizeof: 80, hdr: 0, task: 16, hook: 48, verdict: 49, reason: 50, family: 51, protocol: 52, port: 54, rule: 56, addr: 64 },
  al_socket_event: { sizeof: 64, hdr: 0, task: 16, verdict: 48, reason: 49, family: 50, type: 52, protocol: 54 },
  al_open_event: { sizeof: 312, hdr: 0, task: 16, ret: 48, open_flags: 52, path: 56 },
  al_unix_event: { sizeof: 168, hdr: 0, task: 16, hook: 48, verdict: 49, reason: 50, path_len: 52, path: 56 },
} as const;

/** Enum values shared with C (checked by the same test). */
export const CONSTANTS = {
  AL_ALLOW: 0,
  AL_DENY: 1,
  AL_REASON_RULE: 0,
  AL_REASON_NO_RULE: 1,
  AL_REASON_DNS: 2,
  AL_REASON_UNKNOWN_AGENT: 3,
  AL_REASON_SOCKET_TYPE: 4,
  AL_REASON_UNIX_PATH: 5,
  AL_HOOK_CONNECT4: 1,
  AL_HOOK_CONNECT6: 2,
  AL_HOOK_SENDMSG4: 3,
  AL_HOOK_SENDMSG6: 4,
  AL_HOOK_SOCK_CREATE: 5,
  AL_HOOK_CONNECT_UNIX: 6,
  AL_HOOK_SENDMSG_UNIX: 7,
  AL_F_KILLED: 1,
  AL_F_MAPPED: 2,
  AL_F_TRUNCATED: 4,
  AL_COMM_LEN: COMM_LEN,
  AL_PATH_LEN: PATH_LEN,
  AL_UNIX_PATH_LEN: UNIX_PATH_LEN,
  AL_OP_EXEC: EventOp.EXEC,
  AL_OP_SPAWN: EventOp.SPAWN,
  AL_OP_EXIT: EventOp.EXIT,
  AL_OP_CONNECT: EventOp.CONNECT,
  AL_OP_SOCKET: EventOp.SOCKET,
  AL_OP_OPEN: EventOp.OPEN,
  AL_OP_UNIX: EventOp.UNIX,
} as const;

export type Verdict = 'allow' | 'deny';
export type Reason = 'rule' | 'no-rule' | 'dns' | 'unknown-agent' | 'socket-type' | 'unix-path';
export type Hook = 'connect4' | 'connect6' | 'sendmsg4' | 'sendmsg6' | 'sock_create' | 'connect_unix' | 'sendmsg_unix';

const VERDICTS: Verdict[] = ['allow', 'deny'];
const REASONS: Reason[] = ['rule', 'no-rule', 'dns', 'unknown-agent', 'socket-type', 'unix-path'];
const HOOKS: Array<Hook | undefined> = [undefined, 'connect4', 'connect6', 'sendmsg4', 'sendmsg6', 'sock_create', 'connect_unix', 'sendmsg_unix'];

export interface EventBase {
  /** The loader's agent number (0: none); the client adds the agent id. */
  agent: number;
  /** CLOCK_MONOTONIC nanoseconds (as a number: exact for 104 days of uptime). */
  timeNs: number;
  /** The process (thread group id) the event is about. */
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** The BPF program sent SIGKILL to the process for this violation. */
  killed: boolean;
  /** A string field was cut at its fixed length. */
  truncated: boolean;
}

export interface ExecEvent extends EventBase {
  type: 'exec';
  ppid: number;
  filename: string;
}

export interface SpawnEvent extends EventBase {
  type: 'spawn';
  child: number;
}

export interface ExitEvent extends EventBase {
  type: 'exit';
  /** The wait status: exit code << 8 | terminating signal. */
  status: number;
  exitCode: number;
  signal: number;
}

export interface ConnectEvent extends EventBase {
  type: 'connect';
  hook: Hook;
  verdict: Verdict;
  reason: Reason;
  /** How the address was checked: an IPv4-mapped IPv6 address is 4, with `mapped`. */
  family: 4 | 6;
  mapped: boolean;
  address: string;
  port: number;
  /** IPPROTO_* number (6 tcp, 17 udp). */
  protocol: number;
  /** Rule id from the agent's egress tables, 0 for none. */
  rule: number;
}

export interface SocketEvent extends EventBase {
  type: 'socket';
  verdict: Verdict;
  reason: Reason;
  /** AF_INET (2) or AF_INET6 (10). */
  family: number;
  /** SOCK_STREAM (1), SOCK_DGRAM (2), SOCK_RAW (3) ... */
  socketType: number;
  protocol: number;
}

export interface OpenEvent extends EventBase {
  type: 'open';
  path: string;
  /** The file descriptor, or -errno. */
  ret: number;
  flags: number;
}

/** connect()/sendmsg() to a pathname UNIX socket (always a denial: no policy reaches one). */
export interface UnixEvent extends EventBase {
  type: 'unix';
  hook: Hook;
  verdict: Verdict;
  reason: Reason;
  /** sun_path as the caller passed it (it may be relative). */
  path: string;
}

export type BpfEvent = ExecEvent | SpawnEvent | ExitEvent | ConnectEvent | SocketEvent | OpenEvent | UnixEvent;

/** Exec and open records end after their string's NUL; the others are whole structs. */
const MIN_SIZE: Record<number, number> = {
  [EventOp.EXEC]: LAYOUT.al_exec_event.filename + 1,
  [EventOp.SPAWN]: LAYOUT.al_spawn_event.sizeof,
  [EventOp.EXIT]: LAYOUT.al_exit_event.sizeof,
  [EventOp.CONNECT]: LAYOUT.al_connect_event.sizeof,
  [EventOp.SOCKET]: LAYOUT.al_socket_event.sizeof,
  [EventOp.OPEN]: LAYOUT.al_open_event.path + 1,
  [EventOp.UNIX]: LAYOUT.al_unix_event.sizeof,
};

function malformed(message: string, buf: Buffer): BpfError {
  return new BpfError(BpfErrorCodes.EVENT_MALFORMED, message, {
    hint: 'The loader and the enforcer come from different builds: rebuild both (make -C bpf, npm run build).',
    details: { bytes: buf.length, head: buf.subarray(0, 16).toString('hex') },
  });
}

function cstr(buf: Buffer, offset: number, length: number): string {
  const field = buf.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

function pick<T>(list: ReadonlyArray<T | undefined>, index: number, what: string, buf: Buffer): T {
  const v = list[index];
  if (v === undefined) throw malformed(`unknown ${what} ${index}`, buf);
  return v;
}

/** The hook, verdict and reason bytes of a connect or UNIX socket record. */
function decision(buf: Buffer, L: { hook: number; verdict: number; reason: number }): { hook: Hook; verdict: Verdict; reason: Reason } {
  return {
    hook: pick(HOOKS, buf.readUInt8(L.hook), 'hook', buf),
    verdict: pick(VERDICTS, buf.readUInt8(L.verdict), 'verdict', buf),
    reason: pick(REASONS, buf.readUInt8(L.reason), 'reason', buf),
  };
}

/** Decodes one record. Throws BpfError(BPF_EVENT_MALFORMED) on a short or unknown record. */
export function decodeEvent(buf: Buffer): BpfEvent {
  const H = LAYOUT.al_hdr;
  if (buf.length < H.sizeof) throw malformed(`a ${buf.length}-byte record is shorter than its header`, buf);
  const op = buf.readUInt16LE(H.op);
  const min = MIN_SIZE[op];
  if (min === undefined) throw malformed(`unknown event op ${op}`, buf);
  if (buf.length < min || buf.readUInt16LE(H.size) < min) throw malformed(`op ${op} record of ${buf.length} bytes, ${min} expected`, buf);

  const T = LAYOUT.al_task;
  const t = H.sizeof; // every event's task follows its header
  const flags = buf.readUInt32LE(t + T.flags);
  const base: EventBase = {
    agent: buf.readUInt32LE(H.agent),
    timeNs: Number(buf.readBigUInt64LE(H.time_ns)),
    pid: buf.readUInt32LE(t + T.pid),
    tid: buf.readUInt32LE(t + T.tid),
    uid: buf.readUInt32LE(t + T.uid),
    comm: cstr(buf, t + T.comm, COMM_LEN),
    killed: (flags & CONSTANTS.AL_F_KILLED) !== 0,
    truncated: (flags & CONSTANTS.AL_F_TRUNCATED) !== 0,
  };

  switch (op) {
    case EventOp.EXEC: {
      const L = LAYOUT.al_exec_event;
      return { ...base, type: 'exec', ppid: buf.readUInt32LE(L.ppid), filename: cstr(buf, L.filename, PATH_LEN) };
    }
    case EventOp.SPAWN:
      return { ...base, type: 'spawn', child: buf.readUInt32LE(LAYOUT.al_spawn_event.child) };
    case EventOp.EXIT: {
      const status = buf.readInt32LE(LAYOUT.al_exit_event.exit_code);
      return { ...base, type: 'exit', status, exitCode: (status >> 8) & 0xff, signal: status & 0x7f };
    }
    case EventOp.CONNECT: {
      const L = LAYOUT.al_connect_event;
      const family = buf.readUInt8(L.family);
      if (family !== 4 && family !== 6) throw malformed(`connect event with family ${family}`, buf);
      const addr = buf.subarray(L.addr, L.addr + (family === 4 ? 4 : 16));
      return {
        ...base,
        type: 'connect',
        ...decision(buf, L),
        family,
        mapped: (flags & CONSTANTS.AL_F_MAPPED) !== 0,
        address: formatIp(new Uint8Array(addr)),
        port: buf.readUInt16LE(L.port),
        protocol: buf.readUInt16LE(L.protocol),
        rule: buf.readUInt16LE(L.rule),
      };
    }
    case EventOp.SOCKET: {
      const L = LAYOUT.al_socket_event;
      return {
        ...base,
        type: 'socket',
        verdict: pick(VERDICTS, buf.readUInt8(L.verdict), 'verdict', buf),
        reason: pick(REASONS, buf.readUInt8(L.reason), 'reason', buf),
        family: buf.readUInt16LE(L.family),
        socketType: buf.readUInt16LE(L.type),
        protocol: buf.readUInt16LE(L.protocol),
      };
    }
    case EventOp.UNIX: {
      const L = LAYOUT.al_unix_event;
      const length = Math.min(buf.readUInt32LE(L.path_len), UNIX_PATH_LEN);
      return {
        ...base,
        type: 'unix',
        ...decision(buf, L),
        path: cstr(buf, L.path, length),
      };
    }
    default: {
      const L = LAYOUT.al_open_event;
      return { ...base, type: 'open', ret: buf.readInt32LE(L.ret), flags: buf.readUInt32LE(L.open_flags), path: cstr(buf, L.path, PATH_LEN) };
    }
  }
}
