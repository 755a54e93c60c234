/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file opens of agents that audit allows, from fanotify marks on the
 * mounts of each agent's own mount namespace.
 *
 * A syscall-exit tracepoint would see every open too, but attaching one puts
 * every process of the host on the syscall slow path (every syscall, not
 * only opens: 1.13x an open/close loop outside any agent, measured). A
 * fanotify mount mark fires only for opens through that mount, and the mounts
 * of an agent's namespace are its own copies: the host's processes, on the
 * host's mounts, never reach the marks. So an agent must have a mount
 * namespace of its own (the launcher makes one) before its opens can be
 * audited; the loader refuses to watch one that shares the host's.
 *
 * fanotify reports successful opens only (denials come from Landlock through
 * kernel audit), without the open flags, and merges an event identical to one
 * still queued (the same process opening the same file again). Each event
 * becomes the same al_open_event record the BPF side defines, forwarded like
 * a ring buffer record.
 */
#ifndef AL_OPENS_H
#define AL_OPENS_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>

/*
 * Creates the fanotify group. Returns its fd (for the event loop) or -errno.
 * `rb` is drained before events are attributed, so exits are known.
 */
int opens_open(struct ring_buffer *rb);
void opens_close(void);
/*
 * Marks every mount of `pid`'s mount namespace. Returns 0, or -errno with
 * the reason in `why`.
 */
int opens_watch(int pid, char *why, size_t whylen);
/*
 * Reads queued events and forwards those of agents that audit allows: a
 * batch's worth, or (`all`) until the queue is empty.
 */
void opens_read(bool all);

#endif
