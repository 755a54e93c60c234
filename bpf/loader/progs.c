// SPDX-License-Identifier: Apache-2.0
#include "progs.h"

#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egress.skel.h"
#include "audit.skel.h"

/* Linux 6.7+ (the UAPI headers of Debian 12 predate them) */
#define AL_ATTACH_UNIX_CONNECT ((enum bpf_attach_type)49)
#define AL_ATTACH_UNIX_SENDMSG ((enum bpf_attach_type)50)

static int prog_id(int fd, __u32 *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err = bpf_obj_get_info_by_fd(fd, &info, &len);

	if (err)
		return err;
	*id = info.id;
	return 0;
}

int progs_load(struct al_bpf *b)
{
	struct egress_bpf *e;
	struct audit_bpf *a;
	int err;

	memset(b, 0, sizeof(*b));
	e = b->egress = egress_bpf__open();
	if (!e)
		return -errno;
	bpf_program__set_expected_attach_type(e->progs.al_connect_unix, AL_ATTACH_UNIX_CONNECT);
	bpf_program__set_expected_attach_type(e->progs.al_sendmsg_unix, AL_ATTACH_UNIX_SENDMSG);
	err = egress_bpf__load(e);
	if (err)
		return err;

	/* the audit object shares the egress object's agents, events and stats maps */
	a = b->audit = audit_bpf__open();
	if (!a)
		return -errno;
	err = bpf_map__reuse_fd(a->maps.agents, bpf_map__fd(e->maps.agents));
	err = err ?: bpf_map__reuse_fd(a->maps.events, bpf_map__fd(e->maps.events));
	err = err ?: bpf_map__reuse_fd(a->maps.stats, bpf_map__fd(e->maps.stats));
	if (err)
		return err;
	err = audit_bpf__load(a);
	err = err ?: audit_bpf__attach(a);
	if (err)
		return err;

	b->agents_fd = bpf_map__fd(e->maps.agents);
	b->egress4_fd = bpf_map__fd(e->maps.egress4);
	b->egress6_fd = bpf_map__fd(e->maps.egress6);
	b->stats_fd = bpf_map__fd(e->maps.stats);
	b->events_fd = bpf_map__fd(e->maps.events);
	b->tracked_fd = bpf_map__fd(a->maps.tracked);

	struct al_cgroup_prog progs[AL_CGROUP_PROGS] = {
		{ .name = "al_connect4", .type = BPF_CGROUP_INET4_CONNECT, .fd = bpf_program__fd(e->progs.al_connect4) },
		{ .name = "al_connect6", .type = BPF_CGROUP_INET6_CONNECT, .fd = bpf_program__fd(e->progs.al_connect6) },
		{ .name = "al_sendmsg4", .type = BPF_CGROUP_UDP4_SENDMSG, .fd = bpf_program__fd(e->progs.al_sendmsg4) },
		{ .name = "al_sendmsg6", .type = BPF_CGROUP_UDP6_SENDMSG, .fd = bpf_program__fd(e->progs.al_sendmsg6) },
		{ .name = "al_sock_create", .type = BPF_CGROUP_INET_SOCK_CREATE,
		  .fd = bpf_program__fd(e->progs.al_sock_create) },
		{ .name = "al_connect_unix", .type = AL_ATTACH_UNIX_CONNECT,
		  .fd = bpf_program__fd(e->progs.al_connect_unix) },
		{ .name = "al_sendmsg_unix", .type = AL_ATTACH_UNIX_SENDMSG,
		  .fd = bpf_program__fd(e->progs.al_sendmsg_unix) },
	};
	for (int i = 0; i < AL_CGROUP_PROGS; i++) {
		err = prog_id(progs[i].fd, &progs[i].id);
		if (err)
			return err;
		b->cgroup[i] = progs[i];
	}
	return 0;
}

void progs_destroy(struct al_bpf *b)
{
	audit_bpf__destroy(b->audit);
	egress_bpf__destroy(b->egress);
	b->audit = NULL;
	b->egress = NULL;
}
