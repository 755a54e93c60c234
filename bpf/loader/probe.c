// SPDX-License-Identifier: Apache-2.0
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/fanotify.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "json.h"
#include "kaudit.h"

struct probe {
	const char *name;
	enum bpf_prog_type type;
	enum bpf_attach_type attach;
	int btf_kind;            /* 0: no attach_btf_id */
	const char *btf_name;    /* the BTF type or function it attaches to */
	const char *raw_tp;      /* raw tracepoint name, for attaching raw_tp */
	bool attach_tracing;     /* attach (then detach) after loading */
	int ret;                 /* the program's return value */
};

static const struct probe probes[] = {
	{ "cgroup_sock_addr", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, 0, NULL, NULL, false, 1 },
	{ "cgroup_sock_create", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, 0, NULL, NULL, false, 1 },
	{ "tp_btf", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, BTF_KIND_TYPEDEF, "btf_trace_sched_process_exec", NULL, true, 0 },
	{ "raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, NULL, "sched_process_exec", true, 0 },
	{ "lsm", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, BTF_KIND_FUNC, "bpf_lsm_file_open", NULL, true, 0 },
};

static void put_result(struct jw *w, const char *name, int err, const char *note)
{
	jw_open(w, name);
	jw_bool(w, "ok", err == 0);
	if (err) {
		jw_int(w, "errno", err);
		jw_str(w, "error", strerror(err));
	}
	if (note)
		jw_str(w, "note", note);
	jw_close(w);
}

/* Returns 0 or a positive errno. */
static int try_program(const struct probe *p, struct btf *vmlinux, const char **note)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = p->ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = p->attach);
	int fd, link, err = 0;

	*note = NULL;
	if (p->btf_kind) {
		int id = vmlinux ? btf__find_by_name_kind(vmlinux, p->btf_name, p->btf_kind) : -ENOENT;

		if (id < 0) {
			*note = "the kernel's BTF lacks the attach point";
			return ENOENT;
		}
		opts.attach_btf_id = id;
	}
	fd = bpf_prog_load(p->type, "airlock_probe", "GPL", insns, 2, &opts);
	if (fd < 0) {
		*note = "refused at load";
		return errno ? errno : EINVAL;
	}
	if (p->attach_tracing) {
		link = bpf_raw_tracepoint_open(p->raw_tp, fd);
		if (link < 0) {
			err = errno;
			*note = "loads, but attaching is refused";
		} else {
			close(link);
		}
	}
	close(fd);
	return err;
}

int probe_run(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int btf_err = vmlinux ? 0 : errno;
	struct jw w;
	bool enabled = false;
	int daemon = 0, err;

	jw_begin(&w);
	put_result(&w, "btf", btf_err, btf_err ? "/sys/kernel/btf/vmlinux is missing or unreadable" : NULL);
	jw_open(&w, "programs");
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const char *note;

		err = try_program(&probes[i], vmlinux, &note);
		put_result(&w, probes[i].name, err, note);
	}
	jw_close(&w);
	err = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "airlock_probe", 0, 0, 4096, NULL);
	put_result(&w, "ringbuf", err < 0 ? errno : 0, NULL);
	if (err >= 0)
		close(err);
	err = vmlinux && btf__find_by_name_kind(vmlinux, "bpf_send_signal_task", BTF_KIND_FUNC) > 0 ? 0 : ENOENT;
	put_result(&w, "kill_in_kernel", err,
		   err ? "no bpf_send_signal_task kfunc (Linux < 6.13): the loader kills through cgroup.kill" : NULL);
	/* the file-open audit of agents that audit allows (opens.h) */
	err = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC);
	put_result(&w, "fanotify", err < 0 ? errno : 0, NULL);
	if (err >= 0)
		close(err);
	err = kaudit_status(&enabled, &daemon);
	jw_open(&w, "kernel_audit");
	jw_bool(&w, "ok", err == 0);
	if (err)
		jw_str(&w, "error", strerror(-err));
	jw_bool(&w, "enabled", enabled);
	jw_int(&w, "daemonPid", daemon);
	jw_close(&w);
	jw_end(&w);
	btf__free(vmlinux);
	return 0;
}
