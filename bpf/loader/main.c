// SPDX-License-Identifier: Apache-2.0
/*
 * airlock-bpf: the privileged loader of the Airlock BPF programs.
 *
 *   airlock-bpf           serve the line protocol (commands.h) on stdin/stdout
 *   airlock-bpf --probe   print what this kernel can load (probe.h) and exit
 *
 * Life cycle: open -> load -> attach the process-tree hooks -> ready line ->
 * poll stdin, the ring buffer and the kernel audit socket -> on SIGTERM,
 * SIGINT or end of stdin: detach from every agent cgroup, restore the audit
 * settings, free everything (nothing is pinned, so nothing outlives us).
 *
 * One loader serves every agent: adding an agent only writes its settings
 * and attaches the already-loaded programs to its cgroup (about 1 ms here),
 * where a loader per agent would pay load + verify + attach each time
 * (about 31 ms, KERNEL-NOTES) against the 50 ms start budget.
 *
 * If the loader dies without cleaning up, the cgroup programs stay attached
 * with the maps they reference (attachments are not tied to our file
 * descriptors): agents stay fenced in, only audit and the tree kill stop.
 * The kernel frees them when the agent cgroup is removed; a new loader
 * detaches leftovers of the same name when it attaches to that cgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <bpf/libbpf.h>

#include "agents.h"
#include "commands.h"
#include "events.h"
#include "json.h"
#include "kaudit.h"
#include "opens.h"
#include "probe.h"
#include "progs.h"

#define LINE_MAX_BYTES (8 << 20)
/*
 * Routine records come without a wake-up, so the loop drains on a timer:
 * every 50 ms when idle, every 2 ms while records keep coming (a full-audit
 * agent fills the 4 MiB buffer in about 40 ms at worst).
 */
#define TICK_MS 50
#define BUSY_TICK_MS 2
#define AUDIT_WATCH_MS 1000
/*
 * Opens are read in batches while an agent's are audited: an open identical
 * to one still queued (the same process, the same file) is merged into it by
 * fanotify, so a loop over one file costs one record per batch, not one per
 * open.
 */
#define OPENS_BATCH_MS 10

enum { SRC_STDIN, SRC_RING, SRC_AUDIT, SRC_SIGNAL };

struct line_reader {
	char *buf;
	size_t len, cap;
	bool overflow; /* discarding the rest of an overlong line */
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !getenv("AIRLOCK_BPF_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void fatal_line(const char *what, int err)
{
	struct jw w;

	jw_begin(&w);
	jw_str(&w, "event", "fatal");
	jw_str(&w, "error", what);
	jw_str(&w, "detail", strerror(err < 0 ? -err : err));
	jw_end(&w);
}

/* Reads what stdin has; handles each complete line. Returns false at end of input. */
static bool read_stdin(struct line_reader *r)
{
	char chunk[65536];
	ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));

	if (n == 0)
		return false;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	for (ssize_t i = 0; i < n; i++) {
		char c = chunk[i];

		if (c == '\n') {
			if (r->overflow)
				commands_reject_long_line();
			else if (r->len) {
				r->buf[r->len] = 0;
				commands_handle(r->buf);
			}
			r->len = 0;
			r->overflow = false;
			continue;
		}
		if (r->overflow)
			continue;
		if (r->len + 2 > r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 65536;
			char *b = cap <= LINE_MAX_BYTES ? realloc(r->buf, cap) : NULL;

			if (!b) {
				r->overflow = true;
				continue;
			}
			r->buf = b;
			r->cap = cap;
		}
		r->buf[r->len++] = c;
	}
	return true;
}

static unsigned long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static int add_fd(int ep, int fd, int src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = src };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int serve(void)
{
	struct al_bpf bpf;
	struct ring_buffer *rb = NULL;
	struct kaudit ka = { .fd = -1 };
	struct line_reader lr = {};
	sigset_t mask;
	int ep = -1, sfd = -1, err, rc = 1;
	bool running = true, busy = false, watching = false;
	unsigned long long now, last_tick = mono_ms(), last_watch = last_tick, last_opens = last_tick;
	struct jw w;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout ends us through EOF on stdin */

	err = progs_load(&bpf);
	if (err) {
		fatal_line("loading the BPF programs", err);
		goto out;
	}
	agents_init(&bpf);
	rb = events_open(&bpf);
	if (!rb) {
		fatal_line("opening the ring buffer", errno);
		goto out;
	}
	kaudit_open(&ka, rb);
	opens_open(rb); /* without it, only agents that do not audit allows can run */
	commands_init(&ka, rb);
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);

	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	if (sfd < 0 || ep < 0 || add_fd(ep, STDIN_FILENO, SRC_STDIN) ||
	    add_fd(ep, ring_buffer__epoll_fd(rb), SRC_RING) || add_fd(ep, sfd, SRC_SIGNAL) ||
	    (ka.fd >= 0 && add_fd(ep, ka.fd, SRC_AUDIT))) {
		fatal_line("setting up the event loop", errno);
		goto out;
	}

	jw_begin(&w);
	jw_str(&w, "event", "ready");
	jw_int(&w, "protocol", 1);
	jw_int(&w, "pid", getpid());
	jw_str(&w, "kaudit", kaudit_mode_name(ka.mode));
	jw_bool(&w, "kauditEnabled", ka.enabled);
	jw_str(&w, "kauditNote", ka.why);
	jw_end(&w);
	fflush(stdout);

	while (running) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, busy ? BUSY_TICK_MS : watching ? OPENS_BATCH_MS : TICK_MS);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case SRC_STDIN:
				running = read_stdin(&lr) && running;
				break;
			case SRC_AUDIT:
				kaudit_read(&ka);
				break;
			case SRC_SIGNAL:
				running = false;
				break;
			default:
				break;
			}
		}
		/* every wake-up and every tick: records submitted without a wake-up too */
		busy = events_drain(rb) > 0;
		now = mono_ms();
		watching = agents_open_audit();
		if (watching && now - last_opens >= OPENS_BATCH_MS) {
			last_opens = now;
			opens_read(false);
		}
		/* one write for all the lines of this turn: replies go out before we sleep */
		fflush(stdout);
		if (now - last_tick >= TICK_MS) {
			last_tick = now;
			events_check_lost(&bpf);
			kaudit_expire(&ka);
		}
		if (now - last_watch >= AUDIT_WATCH_MS) {
			last_watch = now;
			kaudit_watch(&ka);
		}
	}
	events_drain(rb);
	fflush(stdout);
	rc = 0;
out:
	if (bpf.egress)
		agents_remove_all();
	kaudit_close(&ka);
	opens_close();
	ring_buffer__free(rb);
	progs_destroy(&bpf);
	if (ep >= 0)
		close(ep);
	if (sfd >= 0)
		close(sfd);
	free(lr.buf);
	return rc;
}

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_log);
	if (argc == 2 && strcmp(argv[1], "--probe") == 0)
		return probe_run();
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--probe]\n", argv[0]);
		return 2;
	}
	return serve();
}
