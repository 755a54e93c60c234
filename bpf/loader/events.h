/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ring buffer records out: each one is forwarded as
 * {"event":"bpf","data":"<base64 of the raw record>"} for the TypeScript
 * decoder, and acted on here when it is a violation of a killing agent.
 */
#ifndef AL_EVENTS_H
#define AL_EVENTS_H

#include <stddef.h>
#include <bpf/libbpf.h>
#include "progs.h"

struct ring_buffer *events_open(const struct al_bpf *b);
/* Drains the buffer (records submitted without a wake-up need this); returns the records read. */
int events_drain(struct ring_buffer *rb);
/* Forwards one record (as the ring buffer gives them) to the enforcer. */
void events_forward(const void *data, size_t size);
/* Counts events lost elsewhere (a full fanotify queue) into the next report. */
void events_add_lost(unsigned long long n);
/* Reports records lost to a full buffer since the last call. */
void events_check_lost(const struct al_bpf *b);
unsigned long long events_lost_total(void);

#endif
