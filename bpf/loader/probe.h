/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `airlock-bpf --probe`: what this kernel lets us load, found by loading (and
 * for tracing types attaching, then detaching) a trivial program of each
 * type. Prints one JSON object; used by `airlock doctor`.
 */
#ifndef AL_PROBE_H
#define AL_PROBE_H

int probe_run(void);

#endif
