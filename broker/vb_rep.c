#include "vb_rep.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vb_error.h"
#include "vb_time.h"

typedef struct rep_worker {
	struct vb_rep *r;
	size_t index;
	pthread_t thread;
	int started;
	nng_ctx ctx;
	nng_aio *aio;
	nng_pipe pipe;            /* the request in hand came through it */
	vb_buf reply;
	nng_msg *reply_msg;       /* vb_rep_set_reply_msg's, if set */
} rep_worker;

struct vb_rep {
	nng_socket sock;
	nng_listener listener;
	int open;
	_Atomic int closing;      /* workers leave at their next operation */
	vb_rep_fn fn;
	void *arg;
	vb_log *log;
	const char *what;
	rep_worker *workers;
	size_t nworkers;
	pthread_mutex_t mtx;
	pthread_cond_t idle;
	int busy;                 /* workers holding a request */
};

static void
set_busy(vb_rep *r, int delta)
{
	pthread_mutex_lock(&r->mtx);
	r->busy += delta;
	if (r->busy == 0)
		pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->mtx);
}

static void *
worker_main(void *arg)
{
	rep_worker *wk = arg;
	vb_rep *r = wk->r;
	char name[16];
	/* "vb-ingest-3": top -H and perf tell the pools apart. */
	snprintf(name, sizeof(name), "vb-%.6s-%zu", r->what, wk->index);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		nng_msg *msg;
		int rv;

		nng_ctx_recv(wk->ctx, wk->aio);
		nng_aio_wait(wk->aio);
		if ((rv = nng_aio_result(wk->aio)) != 0) {
			if (rv == NNG_ECLOSED || r->closing)
				break;
			continue;
		}
		set_busy(r, 1);
		msg = nng_aio_get_msg(wk->aio);
		wk->pipe = nng_msg_get_pipe(msg);
		vb_buf_reset(&wk->reply);
		wk->reply_msg = NULL;
		rv = r->fn(r->arg, wk->index, nng_msg_body(msg), nng_msg_len(msg), &wk->reply);
		if (wk->reply_msg != NULL) {
			/* The context keeps the route back to the requester
			 * itself (nng's rep0 sets the reply's header on send):
			 * any message will do. */
			nng_msg_free(msg);
			msg = wk->reply_msg;
			wk->reply_msg = NULL;
		} else {
			nng_msg_clear(msg);
			if (rv == 0 && nng_msg_append(msg, wk->reply.data, wk->reply.len) != 0)
				rv = VB_ENOMEM;
		}
		if (rv != 0) {
			vb_log_error(r->log, "R001", "%s: a request got no reply: %s", r->what,
			    vb_strerror(rv ? rv : VB_ENOMEM));
			nng_msg_free(msg);
			set_busy(r, -1);
			continue;
		}
		nng_aio_set_msg(wk->aio, msg);
		nng_ctx_send(wk->ctx, wk->aio);
		nng_aio_wait(wk->aio);
		if (nng_aio_result(wk->aio) != 0)
			nng_msg_free(nng_aio_get_msg(wk->aio));
		set_busy(r, -1);
	}
	return NULL;
}

void
vb_rep_set_reply_msg(vb_rep *r, size_t worker, nng_msg *msg)
{
	r->workers[worker].reply_msg = msg;
}

void
vb_rep_peer(const vb_rep *r, size_t worker, char *buf, size_t len)
{
	nng_sockaddr sa;
	const uint8_t *a;

	snprintf(buf, len, "unknown peer");
	if (worker >= r->nworkers ||
	    nng_pipe_get_addr(r->workers[worker].pipe, NNG_OPT_REMADDR, &sa) != 0)
		return;
	switch (sa.s_family) {
	case NNG_AF_IPC: {
		/* Every peer has the listener's path: the process says more. */
		int pid = 0, uid = -1;
		nng_pipe_get_int(r->workers[worker].pipe, NNG_OPT_IPC_PEER_PID, &pid);
		nng_pipe_get_int(r->workers[worker].pipe, NNG_OPT_IPC_PEER_UID, &uid);
		snprintf(buf, len, "%s (pid %d, uid %d)", sa.s_ipc.sa_path, pid, uid);
		break;
	}
	case NNG_AF_INET:
		a = (const uint8_t *)&sa.s_in.sa_addr;
		snprintf(buf, len, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
		    (unsigned)ntohs(sa.s_in.sa_port));
		break;
	case NNG_AF_INET6: {
		char ip[INET6_ADDRSTRLEN];
		if (inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof(ip)) != NULL)
			snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(sa.s_in6.sa_port));
		break;
	}
	default:
		break;
	}
}

int
vb_rep_open(const char *url, const vb_tls_opts *tls, size_t workers,
    size_t recv_max, vb_rep_fn fn, void *arg, vb_log *log, const char *what,
    vb_rep **out)
{
	vb_rep *r = calloc(1, sizeof(*r));
	char why[512];
	int rv;

	*out = NULL;
	if (r == NULL)
		return VB_ENOMEM;
	r->fn = fn;
	r->arg = arg;
	r->log = log;
	r->what = what;
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->idle, NULL);
	if ((rv = nng_rep0_open(&r->sock)) != 0)
		goto fail;
	r->open = 1;
	/* nng's default is unlimited: a hostile or broken peer could make us
	 * allocate anything. */
	nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, recv_max);
	if ((rv = vb_net_listen(r->sock, url, tls, &r->listener, why, sizeof(why))) != 0) {
		vb_log_error(log, "R002", "%s: %s", what, why);
		vb_rep_close(r, 0);
		return rv;
	}
	if ((r->workers = calloc(workers, sizeof(*r->workers))) == NULL) {
		rv = NNG_ENOMEM;
		goto fail;
	}
	r->nworkers = workers;
	/* Before the first worker starts: fn may call vb_rep_peer or
	 * vb_rep_set_reply_msg with the caller's copy of *out as soon as a
	 * request comes, which can be before this returns (pthread_create
	 * makes the store visible to the workers). */
	*out = r;
	for (size_t i = 0; i < workers; i++) {
		rep_worker *wk = &r->workers[i];
		wk->r = r;
		wk->index = i;
		if ((rv = nng_ctx_open(&wk->ctx, r->sock)) != 0 ||
		    (rv = nng_aio_alloc(&wk->aio, NULL, NULL)) != 0)
			goto fail;
		if (pthread_create(&wk->thread, NULL, worker_main, wk) != 0) {
			rv = NNG_ENOMEM;
			goto fail;
		}
		wk->started = 1;
	}
	return VB_OK;
fail:
	vb_rep_close(r, 0); /* joins the workers started: none reads *out after */
	*out = NULL;
	return vb_err_from_nng(rv);
}

void
vb_rep_close(vb_rep *r, int drain_ms)
{
	struct timespec until;
	if (r == NULL)
		return;
	if (r->open && drain_ms > 0) {
		nng_listener_close(r->listener);
		vb_time_deadline(CLOCK_REALTIME, (int64_t)drain_ms * 1000, &until);
		pthread_mutex_lock(&r->mtx);
		while (r->busy > 0 &&
		    pthread_cond_timedwait(&r->idle, &r->mtx, &until) == 0)
			;
		pthread_mutex_unlock(&r->mtx);
	}
	/* Workers first, the socket after: closing the socket under a
	 * worker's context operation can make nng 1.5 use a freed lock.
	 * nng_aio_stop aborts what a worker waits for and makes its every
	 * later operation fail at once, so each leaves its loop. */
	r->closing = 1;
	for (size_t i = 0; i < r->nworkers; i++)
		if (r->workers[i].aio)
			nng_aio_stop(r->workers[i].aio);
	for (size_t i = 0; i < r->nworkers; i++) {
		rep_worker *wk = &r->workers[i];
		if (wk->started)
			pthread_join(wk->thread, NULL);
	}
	if (r->open)
		nng_close(r->sock);
	for (size_t i = 0; i < r->nworkers; i++) {
		rep_worker *wk = &r->workers[i];
		if (wk->aio)
			nng_aio_free(wk->aio);
		vb_buf_free(&wk->reply);
	}
	free(r->workers);
	pthread_mutex_destroy(&r->mtx);
	pthread_cond_destroy(&r->idle);
	free(r);
}
