/* The floor of one request: an nng REQ/REP echo, nothing done between the
 * receive and the reply, timed the way the workloads time theirs.  The
 * echo is a process of its own (vb_bench_echo), as a server is: in one
 * process both ends would share nng's threads, which on two cores made
 * the echo slower than voicebusd's decisions. */
#include "vb_bench.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VB_BENCH_DIR
#define VB_BENCH_DIR "."
#endif

int
vb_bench_nng_echo(const char *url, double seconds, size_t bytes, double *p50,
    double *p99)
{
	nng_socket req = NNG_SOCKET_INITIALIZER;
	nng_ctx ctx;
	nng_aio *aio = NULL;
	int pfd[2], rv = NNG_ENOMEM;
	pid_t child = -1;
	char dial[600];
	ssize_t got = 0, k;
	size_t n = 0, cap = 1 << 16;
	double *lat = malloc(cap * sizeof(*lat)), t_end;
	char *body = calloc(1, bytes ? bytes : 1);

	if (lat == NULL || body == NULL || pipe(pfd) != 0)
		goto fail;
	/* Nothing but exec in the child: nng refuses to run in a child of
	 * a process that has used it. */
	pid_t parent = getpid();
	if ((child = fork()) == 0) {
		close(pfd[0]);
		/* The echo dies with this process, however it ends. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(1);
		if (dup2(pfd[1], STDOUT_FILENO) >= 0)
			execl(VB_BENCH_DIR "/vb_bench_echo", "vb_bench_echo", url, (char *)NULL);
		fprintf(stderr, "vb_bench: %s/vb_bench_echo: %s\n", VB_BENCH_DIR, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	/* Its first line; the pipe stays open while it runs. */
	while (child > 0 && got < (ssize_t)sizeof(dial) - 1 &&
	    (got == 0 || dial[got - 1] != '\n') &&
	    (k = read(pfd[0], dial + got, sizeof(dial) - 1 - (size_t)got)) > 0)
		got += k;
	close(pfd[0]);
	if (child < 0 || got == 0 || dial[got - 1] != '\n') {
		rv = NNG_ECLOSED;
		goto fail;
	}
	dial[got - 1] = '\0';
	/* A context and one aio for every request, as vb_client asks. */
	if ((rv = nng_req0_open(&req)) != 0 ||
	    (rv = nng_ctx_open(&ctx, req)) != 0 ||
	    (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0 ||
	    (rv = nng_dial(req, dial, NULL, 0)) != 0)
		goto fail;
	nng_aio_set_timeout(aio, 5000);
	/* A tenth of the time untimed: the connection and the threads warm. */
	t_end = vb_bench_now() + seconds / 10;
	for (int timed = 0; timed < 2; timed++) {
		while (vb_bench_now() < t_end) {
			double t0 = vb_bench_now();
			nng_msg *m;
			if ((rv = nng_msg_alloc(&m, 0)) != 0)
				goto fail;
			if ((rv = nng_msg_append(m, body, bytes)) != 0) {
				nng_msg_free(m);
				goto fail;
			}
			nng_aio_set_msg(aio, m);
			nng_ctx_send(ctx, aio);
			nng_aio_wait(aio);
			if ((rv = nng_aio_result(aio)) != 0) {
				nng_msg_free(m);
				goto fail;
			}
			nng_ctx_recv(ctx, aio);
			nng_aio_wait(aio);
			if ((rv = nng_aio_result(aio)) != 0)
				goto fail;
			nng_msg_free(nng_aio_get_msg(aio));
			if (!timed)
				continue;
			if (n == cap) {
				double *more = realloc(lat, 2 * cap * sizeof(*lat));
				if (more == NULL) {
					rv = NNG_ENOMEM;
					goto fail;
				}
				lat = more;
				cap *= 2;
			}
			lat[n++] = (vb_bench_now() - t0) * 1e6;
		}
		t_end = vb_bench_now() + seconds;
	}
	*p99 = vb_bench_percentile(lat, n, 99);
	*p50 = vb_bench_percentile(lat, n, 50);
	rv = n > 0 ? 0 : NNG_ETIMEDOUT;
fail:
	if (rv != 0)
		fprintf(stderr, "vb_bench: nng echo over %s: %s\n", url, nng_strerror(rv));
	nng_aio_free(aio);
	nng_close(req);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	free(lat);
	free(body);
	return rv == 0 ? 0 : -1;
}
