/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An agent's egress policy as the enforcer sends it (already compiled to
 * per-prefix rule lists by services/enforcer/bpf/policy.ts), validated and
 * written into a policy slot of the LPM tables.
 */
#ifndef AL_POLICY_H
#define AL_POLICY_H

#include <stddef.h>
#include "airlock_maps.h"
#include "json.h"
#include "progs.h"
#include "status.h"

struct al_entry4 {
	struct al_lpm4_key key;
	struct al_rules rules;
};

struct al_entry6 {
	struct al_lpm6_key key;
	struct al_rules rules;
};

struct al_policy {
	__u32 flags; /* AL_AGENT_* */
	__u16 resolver_port;
	__u8 resolver[16];
	struct al_entry4 *v4;
	size_t n4;
	struct al_entry6 *v6;
	size_t n6;
};

/* Parses and checks the "policy" object of a request. */
int policy_parse(const struct jval *p, struct al_policy *out, struct al_status *st);
void policy_free(struct al_policy *p);
/* Writes the tables into `slot`; on failure removes what it wrote. */
int policy_install(const struct al_bpf *b, struct al_policy *p, __u32 slot, struct al_status *st);
/* Removes the tables of an installed policy. */
void policy_uninstall(const struct al_bpf *b, const struct al_policy *p);

#endif
