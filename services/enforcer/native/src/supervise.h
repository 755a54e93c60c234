/*
 * The agent runs in its own PID namespace, so it is not the launcher itself
 * but its grandchild:
 *
 *   airlock-launch   the process the enforcer started (host PID namespace)
 *     init           pid 1 of the agent's PID namespace: reaps orphans
 *       agent        pid 2; "ready" reports its host pid; it execs the program
 *
 * The two waiting processes forward the signals sent to them to their child
 * (not those a terminal sends to the whole process group: the agent gets
 * those itself), and end as the agent ended: init hands the agent's wait
 * status to the launcher on a pipe (a signal cannot end pid 1 from inside),
 * and the launcher exits with that code or dies of that signal. When init
 * ends the kernel kills whatever is left in the namespace; when the launcher
 * dies, init gets SIGKILL.
 *
 * Init also answers the agent's metadata calls (notify.h) while it waits; the
 * launcher, once init is gone (and with it every process of the agent), hands
 * the agent's write paths back and frees its uid (uid_pool.h).
 */
#ifndef AIRLOCK_LAUNCH_SUPERVISE_H
#define AIRLOCK_LAUNCH_SUPERVISE_H

#include "notify.h"
#include "spec.h"
#include "uid_pool.h"

/* Blocks every signal: the waiting processes take them with sigwaitinfo (the agent resets its mask). */
void block_signals(void);

/*
 * Creates the agent's PID namespace and forks its init. The launcher stays
 * behind (holding the lease) and never returns; in init, returns the pipe on
 * which to report the agent's status.
 */
int fork_init(const struct launch_spec *spec, struct uid_lease *lease);

/*
 * Forks the agent; init stays behind serving `server` (NULL: none) and never
 * returns. Only 0, 1, 2, the pipe and the server's descriptors stay open in init.
 */
void fork_agent(int report, struct notify_server *server);

#endif
