/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The line protocol, requests side. One JSON object a line on stdin; one
 * reply line on stdout for each, echoing "seq":
 *   {"cmd":"ping","seq":1}
 *     -> {"seq":1,"ok":true,"agents":0,"tracked":0,"lost":0,"openAudit":false,"kaudit":"daemon"}
 *   {"cmd":"add-agent","seq":2,"id":"a1","cgroup":"/sys/fs/cgroup/...","policy":{...}}
 *     -> {"seq":2,"ok":true,"agent":1,"cgroupId":"1234"}
 *   {"cmd":"update-policy","seq":3,"id":"a1","policy":{...}}     -> {"seq":3,"ok":true}
 *   {"cmd":"track-pid","seq":4,"id":"a1","pid":4321}             -> {"seq":4,"ok":true}
 *   {"cmd":"remove-agent","seq":5,"id":"a1"}                     -> {"seq":5,"ok":true}
 * A failure: {"seq":N,"ok":false,"code":"AGENT_NOT_FOUND","error":"..."}
 * (codes in status.h). The policy object is described in policy.h and built
 * by services/enforcer/bpf/policy.ts.
 */
#ifndef AL_COMMANDS_H
#define AL_COMMANDS_H

#include <bpf/libbpf.h>
#include "kaudit.h"

void commands_init(struct kaudit *k, struct ring_buffer *rb);
/* Handles one request line (NUL-terminated, without the newline). */
void commands_handle(const char *line);
/* Replies to a line that could not be read whole. */
void commands_reject_long_line(void);

#endif
