/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Denials of the other layers, from the kernel audit subsystem.
 *
 * Landlock (ABI 7) and seccomp report their denials as audit records; no BPF
 * hook is needed to see them, so the host pays nothing. Measured on
 * Linux 6.18 here:
 * - Landlock logs only while audit is enabled (AUDIT_SET enabled=1); seccomp
 *   logs kill actions even when it is not.
 * - With audit enabled and no audit daemon, every record is also printed to
 *   the kernel log (dmesg flooded). Registering as the audit daemon
 *   (AUDIT_SET pid) sends the records to us alone instead.
 * - Once audit has been enabled, every process forked later gets an audit
 *   context and pays it on each syscall (open+close: 2.42 µs against 2.23 µs).
 *   A `-a task,never` rule (AUDIT_FILTER_TASK, AUDIT_NEVER) gives new
 *   processes none; Landlock and seccomp records still arrive, without the
 *   SYSCALL record.
 * So: with no audit daemon on the host we become it, enable audit and add the
 * task,never rule; on exit we put "enabled" and the backlog limit back and
 * unregister, but leave the rule, since "audit was once enabled" cannot be
 * undone. The settings as found are kept in /run/airlock-bpf-audit.state
 * while any loader runs, so the next loader restores them if this one is
 * killed. With a daemon (auditd, or another loader) we only listen on the
 * read-only multicast group and change nothing; when that daemon stops we take
 * over. Loaders running at once register in /run/airlock-bpf-audit.state.users
 * and only the last one out puts the settings back: audit stays enabled while
 * any of them runs, so no Landlock denial goes unlogged.
 *
 * Attribution: seccomp records carry the offending pid. Landlock access
 * records carry a domain id only; the domain record that follows the first
 * denial names the process that created the domain (the agent's first,
 * tracked process), which maps the domain to the agent.
 */
#ifndef AL_KAUDIT_H
#define AL_KAUDIT_H

#include <stdbool.h>
#include <bpf/libbpf.h>

enum kaudit_mode { KAUDIT_OFF, KAUDIT_DAEMON, KAUDIT_MULTICAST };

struct kaudit {
	int fd;
	enum kaudit_mode mode;
	bool enabled;      /* audit is enabled (Landlock will log) */
	bool changed;      /* this loader changed the settings (became the daemon) */
	unsigned orig_enabled, orig_backlog; /* as found, to put back */
	int user_fd;       /* our file in <state>.users, locked while we run */
	struct ring_buffer *rb; /* drained before a record is attributed */
	char why[160];     /* why the mode is what it is, for the ready line */
};

void kaudit_open(struct kaudit *k, struct ring_buffer *rb);
/* The last loader to close puts the host's settings back. */
void kaudit_close(struct kaudit *k);
/* Reads every pending record; the ring buffer is drained first so exits are known. */
void kaudit_read(struct kaudit *k);
/* Handles every record logged before the call (at most timeout_ms). 0 or -ETIMEDOUT. */
int kaudit_barrier(struct kaudit *k, int timeout_ms);
/* While listening: takes over as the daemon when the one there stopped. */
void kaudit_watch(struct kaudit *k);
/* Forgets Landlock records that never got their domain record. */
void kaudit_expire(struct kaudit *k);
const char *kaudit_mode_name(enum kaudit_mode m);
/* For the probe: the audit status, without changing anything. Returns 0 or -errno. */
int kaudit_status(bool *enabled, int *daemon_pid);

#endif
