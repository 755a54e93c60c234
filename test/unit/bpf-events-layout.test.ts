/**
 * The TypeScript decoder and the C structs of bpf/include/airlock_events.h
 * must agree byte for byte. This compiles a small C program against the
 * header that prints every size, offset and constant the decoder uses, plus
 * one record of each type filled by C, and checks the decoder against both.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError } from '../../services/enforcer/errors.js';
import { CONSTANTS, decodeEvent, LAYOUT } from '../../services/enforcer/bpf/events.js';

const INCLUDE = resolve(__dirname, '../../bpf/include');

function layoutProgram(): string {
  const structs = Object.entries(LAYOUT).map(([name, fields]) => {
    const members = Object.keys(fields)
      .filter((f) => f !== 'sizeof')
      .map((f) => `printf(",\\"${f}\\":%zu", offsetof(struct ${name}, ${f}));`)
      .join(' ');
    return `printf("%s\\"${name}\\":{\\"sizeof\\":%zu", first ? "" : ",", sizeof(struct ${name})); first = 0; ${members} printf("}");`;
  });
  const constants = Object.keys(CONSTANTS).map((c, i) => `printf("%s\\"${c}\\":%lld", ${i ? '","' : '""'}, (long long)(${c}));`);
  return `#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "airlock_events.h"

static void hex(const char *name, const void *p, size_t n, int last)
{
	printf("\\"%s\\":\\"", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", ((const unsigned char *)p)[i]);
	printf("\\"%s", last ? "" : ",");
}

static void task(struct al_task *t, unsigned flags)
{
	t->pid = 4242; t->tid = 4243; t->uid = 1000; t->flags = flags;
	strcpy(t->comm, "agent-proc");
}

int main(void)
{
	int first = 1;
	printf("{\\"layout\\":{");
	${structs.join('\n\t')}
	printf("},\\"constants\\":{");
	${constants.join('\n\t')}
	printf("},\\"samples\\":{");

	struct al_connect_event c; memset(&c, 0, sizeof(c));
	c.hdr.op = AL_OP_CONNECT; c.hdr.size = sizeof(c); c.hdr.agent = 7; c.hdr.time_ns = 123456789012ULL;
	task(&c.task, AL_F_KILLED | AL_F_MAPPED);
	c.hook = AL_HOOK_CONNECT6; c.verdict = AL_DENY; c.reason = AL_REASON_RULE; c.family = 4;
	c.protocol = 6; c.port = 8443; c.rule = 3;
	c.addr[0] = 10; c.addr[1] = 1; c.addr[2] = 2; c.addr[3] = 3;
	hex("connect", &c, sizeof(c), 0);

	struct al_connect_event c6; memset(&c6, 0, sizeof(c6));
	c6.hdr.op = AL_OP_CONNECT; c6.hdr.size = sizeof(c6); task(&c6.task, 0);
	c6.hook = AL_HOOK_SENDMSG6; c6.verdict = AL_ALLOW; c6.reason = AL_REASON_DNS; c6.family = 6;
	c6.protocol = 17; c6.port = 53; c6.addr[0] = 0xfd; c6.addr[15] = 2;
	hex("connect6", &c6, sizeof(c6), 0);

	struct al_exec_event x; memset(&x, 0, sizeof(x));
	x.hdr.op = AL_OP_EXEC; x.hdr.size = sizeof(x); x.hdr.agent = 1; task(&x.task, AL_F_TRUNCATED);
	x.ppid = 99; strcpy(x.filename, "/usr/bin/python3");
	hex("exec", &x, sizeof(x), 0);

	struct al_spawn_event s; memset(&s, 0, sizeof(s));
	s.hdr.op = AL_OP_SPAWN; s.hdr.size = sizeof(s); task(&s.task, 0); s.child = 5000;
	hex("spawn", &s, sizeof(s), 0);

	struct al_exit_event e; memset(&e, 0, sizeof(e));
	e.hdr.op = AL_OP_EXIT; e.hdr.size = sizeof(e); task(&e.task, 0); e.exit_code = (3 << 8);
	hex("exit", &e, sizeof(e), 0);

	struct al_socket_event k; memset(&k, 0, sizeof(k));
	k.hdr.op = AL_OP_SOCKET; k.hdr.size = sizeof(k); task(&k.task, 0);
	k.verdict = AL_DENY; k.reason = AL_REASON_SOCKET_TYPE; k.family = 10; k.type = 3; k.protocol = 58;
	hex("socket", &k, sizeof(k), 0);

	struct al_open_event o; memset(&o, 0, sizeof(o));
	o.hdr.op = AL_OP_OPEN; o.hdr.size = sizeof(o); task(&o.task, 0);
	o.ret = -13; o.open_flags = 0101; strcpy(o.path, "/etc/shadow");
	hex("open", &o, sizeof(o), 0);

	struct al_unix_event u; memset(&u, 0, sizeof(u));
	u.hdr.op = AL_OP_UNIX; u.hdr.size = sizeof(u); task(&u.task, AL_F_KILLED);
	u.hook = AL_HOOK_SENDMSG_UNIX; u.verdict = AL_DENY; u.reason = AL_REASON_UNIX_PATH;
	memset(u.path, 'x', sizeof(u.path)); memcpy(u.path, "/dev/log", 8); u.path_len = 8;
	hex("unix", &u, sizeof(u), 1);
	printf("}}\\n");
	return 0;
}
`;
}

interface CSide {
  layout: Record<string, Record<string, number>>;
  constants: Record<string, number>;
  samples: Record<string, string>;
}

let dir: string;
let c: CSide;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-bpf-layout-'));
  writeFileSync(join(dir, 'layout.c'), layoutProgram());
  execFileSync('cc', ['-std=gnu11', '-Wall', '-Werror', `-I${INCLUDE}`, '-o', join(dir, 'layout'), join(dir, 'layout.c')]);
  c = JSON.parse(execFileSync(join(dir, 'layout'), { encoding: 'utf8' })) as CSide;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sample = (name: string) => Buffer.from(c.samples[name]!, 'hex');

describe('event layout shared by C and TypeScript', () => {
  it('every size and offset the decoder uses matches the C structs', () => {
    expect(c.layout).toEqual(LAYOUT);
  });

  it('every op, verdict, reason, hook and flag value matches', () => {
    expect(c.constants).toEqual(CONSTANTS);
  });

  it('every record is a multiple of 8 bytes (ring buffer alignment, no tail padding surprises)', () => {
    for (const s of Object.values(LAYOUT)) expect(s.sizeof % 8).toBe(0);
  });
});

describe('decodeEvent on records filled by C', () => {
  it('connect: IPv4-mapped address checked as IPv4, killed in kernel', () => {
    expect(decodeEvent(sample('connect'))).toEqual({
      type: 'connect',
      agent: 7,
      timeNs: 123456789012,
      pid: 4242,
      tid: 4243,
      uid: 1000,
      comm: 'agent-proc',
      killed: true,
      truncated: false,
      hook: 'connect6',
      verdict: 'deny',
      reason: 'rule',
      family: 4,
      mapped: true,
      address: '10.1.2.3',
      port: 8443,
      protocol: 6,
      rule: 3,
    });
  });

  it('connect: IPv6 address text', () => {
    expect(decodeEvent(sample('connect6'))).toMatchObject({ hook: 'sendmsg6', verdict: 'allow', reason: 'dns', family: 6, address: 'fd00::2', port: 53, protocol: 17, mapped: false });
  });

  it('exec, spawn, exit, socket, open', () => {
    expect(decodeEvent(sample('exec'))).toMatchObject({ type: 'exec', agent: 1, ppid: 99, filename: '/usr/bin/python3', truncated: true, comm: 'agent-proc' });
    expect(decodeEvent(sample('spawn'))).toMatchObject({ type: 'spawn', pid: 4242, child: 5000 });
    expect(decodeEvent(sample('exit'))).toMatchObject({ type: 'exit', status: 768, exitCode: 3, signal: 0 });
    expect(decodeEvent(sample('socket'))).toMatchObject({ type: 'socket', verdict: 'deny', reason: 'socket-type', family: 10, socketType: 3, protocol: 58 });
    expect(decodeEvent(sample('open'))).toMatchObject({ type: 'open', ret: -13, flags: 0o101, path: '/etc/shadow' });
  });

  it('unix: the path is the caller\'s bytes up to path_len (sun_path need not end in a NUL)', () => {
    expect(decodeEvent(sample('unix'))).toMatchObject({ type: 'unix', hook: 'sendmsg_unix', verdict: 'deny', reason: 'unix-path', path: '/dev/log', killed: true });
  });

  it('open and exec records may end after their string (the loader forwards only `size` bytes)', () => {
    const open = sample('open');
    const used = LAYOUT.al_open_event.path + '/etc/shadow'.length + 1;
    open.writeUInt16LE(used, LAYOUT.al_hdr.size);
    expect(decodeEvent(open.subarray(0, used))).toMatchObject({ type: 'open', path: '/etc/shadow', ret: -13 });
    const exec = sample('exec');
    expect(decodeEvent(exec.subarray(0, LAYOUT.al_exec_event.filename + 4))).toMatchObject({ type: 'exec', filename: '/usr' });
    expect(() => decodeEvent(exec.subarray(0, LAYOUT.al_exec_event.filename))).toThrow(expect.objectContaining({ code: 'BPF_EVENT_MALFORMED' }));
  });

  it('refuses short, truncated and unknown records with BPF_EVENT_MALFORMED', () => {
    const cases = [Buffer.alloc(8), sample('connect').subarray(0, 60), Buffer.concat([Buffer.from([99, 0, 16, 0]), Buffer.alloc(60)])];
    const bad = sample('connect');
    bad.writeUInt8(9, LAYOUT.al_connect_event.verdict);
    cases.push(bad);
    for (const buf of cases) {
      let error: unknown;
      try {
        decodeEvent(buf);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BpfError);
      expect(error).toMatchObject({ code: 'BPF_EVENT_MALFORMED' });
    }
  });
});
