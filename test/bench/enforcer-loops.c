/*
 * The loops of test/bench/enforcer.sh: each times N repetitions of one
 * syscall pattern and prints nanoseconds per repetition, so that what is
 * measured is the syscalls (and what the enforcer adds to them), not the
 * program's start.
 *
 *   enforcer-loops open PATH N          open + close
 *   enforcer-loops connect PORT N       TCP connect to 127.0.0.1:PORT + close (RST, no TIME_WAIT)
 *   enforcer-loops forkexec PROGRAM N   fork + execve(PROGRAM) + wait
 *   enforcer-loops serve                accepts and closes on 127.0.0.1; prints its port first
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int fail(const char *what)
{
	perror(what);
	return 1;
}

static int loop_open(const char *path, long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return fail("open");
		close(fd);
	}
	printf("%.1f\n", (now_ns() - t0) / n);
	return 0;
}

static int loop_connect(int port, long n)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	struct linger l = {1, 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			return fail("socket");
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return fail("connect");
		setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(s);
	}
	printf("%.1f\n", (now_ns() - t0) / n);
	return 0;
}

static int loop_forkexec(const char *program, long n)
{
	char *argv[] = {(char *)program, NULL}, *envp[] = {NULL};
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return fail("fork");
		if (pid == 0) {
			execve(program, argv, envp);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "forkexec: %s did not exit 0 (status %d)\n", program, status);
			return 1;
		}
	}
	printf("%.1f\n", (now_ns() - t0) / n);
	return 0;
}

static int serve(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4096) < 0 || getsockname(s, (struct sockaddr *)&a, &len) < 0)
		return fail("serve");
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c >= 0)
			close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "open"))
		return loop_open(argv[2], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "connect"))
		return loop_connect(atoi(argv[2]), atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "forkexec"))
		return loop_forkexec(argv[2], atol(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "serve"))
		return serve();
	fprintf(stderr, "usage: enforcer-loops open PATH N | connect PORT N | forkexec PROGRAM N | serve\n");
	return 2;
}
