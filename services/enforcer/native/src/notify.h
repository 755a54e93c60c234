/*
 * The metadata check: the agent's chmod, chown, utimes, xattr and inode-flag
 * calls stop in the kernel (SECCOMP_RET_USER_NOTIF) until init, root and
 * outside the agent's cgroups, has looked at what they aim at. Within the
 * agent's write paths they go on; elsewhere they fail with EPERM (or, under
 * on_violation: kill, the agent's whole PID namespace is killed before the
 * call returns) and a line tells the enforcer (the report descriptor):
 *
 *   violation <syscall> <operation> <host pid> <deny|kill> <ns to decide> <exe> <target>
 *
 * (strings percent-encoded as in the spec; exe "-" when unknown). Should init
 * itself fail (EXIT_NOTIFY), it says so there ("error <code> <stage> <reason>")
 * and its exit takes the agent's namespace with it.
 */
#ifndef AIRLOCK_LAUNCH_NOTIFY_H
#define AIRLOCK_LAUNCH_NOTIFY_H

#include <stddef.h>

#include "spec.h"

struct notify_server;

/* Before the agent is forked (in init): the socket pair the listener comes over. NULL when the spec has no listener filter. */
struct notify_server *notify_prepare(const struct launch_spec *spec, int report_fd, int host_proc);

/* In the agent: the end to hand the listener over on (-1 without a server). */
int notify_agent_end(struct notify_server *s);

/* In init, once the agent is forked: the descriptors it keeps (report, host /proc, its end of the pair). */
size_t notify_init_fds(const struct notify_server *s, int *fds, size_t max);

/* In init, after the other descriptors are closed: drops groups, resolves the write paths. */
void notify_start(struct notify_server *s);

/* What init polls for the check: the pair until the listener came, then the listener; -1 when done. */
int notify_fd(const struct notify_server *s);

/* notify_fd() is ready: takes the listener, or answers one call. */
void notify_serve(struct notify_server *s, short revents);

/* Hands the listener of a filter just installed to init (in the agent, before exec). */
void notify_hand_over(int sock, int listener);

#endif
