/*
 * Audit tap for the sandbox tests: turns kernel auditing on (as the BPF
 * loader does), listens on the read-only multicast group of NETLINK_AUDIT
 * (so it never takes the audit daemon's place), prints "<type> <text>" for
 * every record until SIGTERM, then puts the enabled flag back as it found it.
 * Prints "listening" once records can arrive.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/netlink.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int request(int fd, int type, const void *data, size_t len)
{
	struct {
		struct nlmsghdr h;
		char data[sizeof(struct audit_status)];
	} m;
	memset(&m, 0, sizeof(m));
	m.h.nlmsg_len = NLMSG_LENGTH(len);
	m.h.nlmsg_type = (unsigned short)type;
	m.h.nlmsg_flags = NLM_F_REQUEST;
	memcpy(m.data, data, len);
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	return sendto(fd, &m, m.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0 ? -1 : 0;
}

static int get_enabled(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	struct audit_status s;
	memset(&s, 0, sizeof(s));
	if (fd < 0 || request(fd, AUDIT_GET, &s, sizeof(s)))
		return -1;
	char buf[8192];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return -1;
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		if (h->nlmsg_type == AUDIT_GET) {
			int enabled = (int)((struct audit_status *)NLMSG_DATA(h))->enabled;
			close(fd);
			return enabled;
		}
	}
}

static int set_enabled(unsigned int enabled)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	struct audit_status s;
	memset(&s, 0, sizeof(s));
	s.mask = AUDIT_STATUS_ENABLED;
	s.enabled = enabled;
	int r = fd < 0 ? -1 : request(fd, AUDIT_SET, &s, sizeof(s));
	close(fd);
	return r;
}

int main(void)
{
	int was = get_enabled();
	if (was < 0 || set_enabled(1)) {
		perror("audit status");
		return 1;
	}
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	struct sockaddr_nl group = {.nl_family = AF_NETLINK, .nl_groups = 1 << (AUDIT_NLGRP_READLOG - 1)};
	if (fd < 0 || bind(fd, (struct sockaddr *)&group, sizeof(group))) {
		perror("audit multicast");
		set_enabled((unsigned int)was);
		return 1;
	}
	signal(SIGTERM, on_term);
	printf("listening\n");
	fflush(stdout);
	char buf[9000];
	struct pollfd p = {fd, POLLIN, 0};
	while (!stop) {
		if (poll(&p, 1, 200) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		if (!NLMSG_OK(h, (unsigned int)n) || h->nlmsg_type < AUDIT_FIRST_USER_MSG)
			continue;
		printf("%d %.*s\n", h->nlmsg_type, (int)(h->nlmsg_len - NLMSG_HDRLEN), (char *)NLMSG_DATA(h));
		fflush(stdout);
	}
	set_enabled((unsigned int)was);
	return 0;
}
