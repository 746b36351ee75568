/* vb_cmp_util: what the driver and the backends share: the clock, child
 * processes, customer ids, the stored decisions of the key-value backends.
 * See vb_cmp.h. */
#include "vb_cmp.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vb_error.h"

int64_t
vb_cmp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
vb_cmp_customer(size_t i, char *buf)
{
	snprintf(buf, 16, "C-%06zu", i % 1000000);
}

/* The history vb_cmp_voicebus loads blocks upsell for one customer in ten
 * (an open complaint), one in ten (a complaint resolved an hour ago: the
 * cool-off) and one in twenty (an overdue invoice); the key-value backends
 * store the same answers, with the same reasons. */
const char *
vb_cmp_decision(size_t i)
{
	if (i % 10 == 2)
		return "{\"decision\":\"block\",\"reasons\":[{\"rule\":\"complaint-cooloff\","
		       "\"event\":\"h-resolved\",\"since\":\"2026-11-20T09:12:00Z\"}]}";
	if (i % 10 == 1)
		return "{\"decision\":\"block\",\"reasons\":[{\"rule\":\"open-complaint\","
		       "\"event\":\"h-complaint\",\"since\":\"2026-11-20T09:12:00Z\"}]}";
	if (i % 20 == 3)
		return "{\"decision\":\"block\",\"reasons\":[{\"rule\":\"overdue-invoice\","
		       "\"event\":\"h-invoice\",\"since\":\"2026-11-20T09:12:00Z\"}]}";
	return "{\"decision\":\"allow\",\"reasons\":[]}";
}

static int
redirect(const char *path, int fd, int flags)
{
	int f = open(path, flags, 0600);
	if (f < 0)
		return -1;
	if (dup2(f, fd) < 0)
		return -1;
	close(f);
	return 0;
}

int
vb_cmp_run(const char *const *argv, const char *in, const char *out,
    double *seconds)
{
	int64_t t0;
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	t0 = vb_cmp_now_ns();
	if ((pid = fork()) < 0)
		return VB_EIO;
	if (pid == 0) {
		if (redirect(in ? in : "/dev/null", 0, O_RDONLY) != 0 ||
		    redirect(out ? out : "/dev/null", 1,
		        O_WRONLY | O_CREAT | O_TRUNC) != 0 ||
		    redirect("/dev/null", 2, O_WRONLY) != 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return VB_EIO;
	if (seconds)
		*seconds = (double)(vb_cmp_now_ns() - t0) / 1e9;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "vb_cmp: %s exited with status %d\n", argv[0],
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return VB_EIO;
	}
	return 0;
}
