/* vb_bench_echo: an nng REP socket that sends back every request as it
 * came, for vb_bench_nng_echo (the floor of one request).
 *
 * usage: vb_bench_echo URL
 * Listens on URL (tcp://127.0.0.1:0 takes a free port), prints the URL to
 * dial on a line of stdout, then echoes until killed.  The replies go
 * from nng's own callbacks, as voicebusd's do, not through a thread
 * waiting in nng_recvmsg: that would add a wake-up to every request. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct echo {
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
} echo;

/* Received: send it back; sent (or failed): receive the next. */
static void
on_aio(void *arg)
{
	echo *e = arg;
	if (!e->sending && nng_aio_result(e->aio) == 0) {
		nng_aio_set_msg(e->aio, nng_aio_get_msg(e->aio));
		e->sending = 1;
		nng_ctx_send(e->ctx, e->aio);
		return;
	}
	if (e->sending && nng_aio_result(e->aio) != 0)
		nng_msg_free(nng_aio_get_msg(e->aio));
	e->sending = 0;
	nng_ctx_recv(e->ctx, e->aio);
}

int
main(int argc, char **argv)
{
	nng_socket rep;
	nng_listener l;
	echo e = { .sending = 0 };
	int rv, port;

	if (argc != 2) {
		fprintf(stderr, "usage: vb_bench_echo URL\n");
		return 2;
	}
	if ((rv = nng_rep0_open(&rep)) != 0 ||
	    (rv = nng_ctx_open(&e.ctx, rep)) != 0 ||
	    (rv = nng_aio_alloc(&e.aio, on_aio, &e)) != 0 ||
	    (rv = nng_listener_create(&l, rep, argv[1])) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		fprintf(stderr, "vb_bench_echo: %s: %s\n", argv[1], nng_strerror(rv));
		return 1;
	}
	/* tcp port 0: the port the system chose. */
	if (strncmp(argv[1], "tcp://", 6) == 0 &&
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) == 0)
		printf("%.*s:%d\n", (int)(strrchr(argv[1], ':') - argv[1]), argv[1], port);
	else
		printf("%s\n", argv[1]);
	fflush(stdout);
	nng_ctx_recv(e.ctx, e.aio);
	for (;;)
		pause();
}
