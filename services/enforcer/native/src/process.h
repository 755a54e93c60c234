/* The agent process's surroundings: cgroups, descriptors, signals, exec gate. */
#ifndef AIRLOCK_LAUNCH_PROCESS_H
#define AIRLOCK_LAUNCH_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Moves the caller into <dir>/cgroup.procs of each directory (v1 controllers and the v2 BPF directory). */
void join_cgroups(char *const *dirs, size_t n);

/* vm.mmap_min_addr as /proc shows it (0 when unreadable). */
unsigned long mmap_min_addr(void);

/* Refuses (EXIT_UNAVAILABLE) unless the gate address lies below vm.mmap_min_addr, out of an agent's reach. */
void check_exec_gate(uintptr_t gate);

/* Maps the page holding the exec gate address (below vm.mmap_min_addr: needs CAP_SYS_RAWIO). */
void map_exec_gate(uintptr_t gate);

/* Closes every descriptor above 2 except the ones given (which are close-on-exec). */
void close_other_fds(const int *keep, size_t n);

/* Default dispositions and an empty mask: the agent inherits nothing of ours. */
void reset_signals(void);

#endif
