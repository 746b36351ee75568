/* vb_store: LMDB storage of the log and its indexes.  See vb_store.h. */
#include "vb_store.h"
#include "vb_store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "vb_error.h"
#include "vb_event.h"
#include "vb_time.h"

/* Format 4 and older: the customer count, now the index's. */
#define META_OLD_CUSTOMERS "c:"
#define META_FORMAT "format"
#define META_SUPP_KEY "supp_key"
/* 2: the log holds runs of events (vb_store_log.c).  3: the ids of the
 * events after ids_applied are not in the ids index yet, but in memory
 * (vb_store_ids.c).  4: the cust and ids indexes live in the index
 * environment, DIR/index (vb_store_index.c).  5: the index counts the
 * customers, not the log's meta.  6: the customer index keeps recent
 * seqs in runs (vb_store_cust.c), which a broker of format 5 would not
 * read.  An older store reads as it
 * is and becomes the current format at open (its indexes are dropped and
 * built again from the log); an older broker refuses a newer store rather
 * than misread it (a format 3 broker would find no index, and store again
 * every event whose id it holds). */
#define STORE_FORMAT 6
#define STORE_FORMAT_OLDEST 1

/* Counters added by one transaction, written once at its end. */
static void
counter_add(store_txn *t, char kind, const char *name, uint64_t delta)
{
	/* "k:name", the name cut at 70 bytes: built by hand, as this runs
	 * twice per event and snprintf cost more than the rest together. */
	char key[80];
	size_t n = strnlen(name, 70);
	key[0] = kind;
	key[1] = ':';
	memcpy(key + 2, name, n);
	key[n + 2] = '\0';
	for (size_t i = 0; i < t->ncs; i++) {
		if (memcmp(t->cs[i].key, key, n + 3) == 0) {
			t->cs[i].delta += delta;
			return;
		}
	}
	if (t->ncs == STORE_MAX_COUNTERS)
		return; /* cannot happen with the schema's types */
	memcpy(t->cs[t->ncs].key, key, n + 3);
	t->cs[t->ncs++].delta = delta;
}

static int
counters_write(store_txn *t)
{
	for (size_t i = 0; i < t->ncs; i++) {
		MDB_val k = { strlen(t->cs[i].key), t->cs[i].key }, v;
		uint64_t c = 0;
		int rv = mdb_get(t->txn, t->st->meta, &k, &v);
		if (rv == 0 && v.mv_size == sizeof(c))
			memcpy(&c, v.mv_data, sizeof(c));
		else if (rv != 0 && rv != MDB_NOTFOUND)
			return rv;
		c += t->cs[i].delta;
		v.mv_size = sizeof(c);
		v.mv_data = &c;
		if ((rv = mdb_put(t->txn, t->st->meta, &k, &v, 0)) != 0)
			return rv;
	}
	return 0;
}

static int
lock_dir(const char *dir, int *fd_out)
{
	char path[4096];
	int fd;
	snprintf(path, sizeof(path), "%s/voicebusd.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return vb_err_from_errno(errno);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? VB_EBUSY : vb_err_from_errno(e);
	}
	*fd_out = fd;
	return VB_OK;
}

/* The key of the suppression lists' digests: meta's, or a new random one
 * written there. */
static int
supp_key(MDB_txn *txn, MDB_dbi meta, uint8_t key[VB_SIPHASH_KEYSZ])
{
	MDB_val k = { strlen(META_SUPP_KEY), META_SUPP_KEY }, v;
	int rv = mdb_get(txn, meta, &k, &v);
	if (rv == 0) {
		if (v.mv_size != VB_SIPHASH_KEYSZ)
			return MDB_CORRUPTED;
		memcpy(key, v.mv_data, VB_SIPHASH_KEYSZ);
		return 0;
	}
	if (rv != MDB_NOTFOUND)
		return rv;
	ssize_t got;
	while ((got = getrandom(key, VB_SIPHASH_KEYSZ, 0)) < 0 && errno == EINTR)
		;
	if (got < 0)
		return errno;
	if (got != VB_SIPHASH_KEYSZ) /* not for 16 bytes, says getrandom(2) */
		return EIO;
	v.mv_size = VB_SIPHASH_KEYSZ;
	v.mv_data = key;
	return mdb_put(txn, meta, &k, &v, 0);
}

/* A store of format 3 or older kept cust and ids with the log: drop them
 * (the index environment is built again from the log) and their marks. */
static int
drop_old_indexes(MDB_txn *txn, MDB_dbi meta)
{
	static const char *const dbs[] = { "cust", "ids" };
	static const char *const marks[] = { META_CUST_APPLIED, META_IDS_APPLIED };
	for (int i = 0; i < 2; i++) {
		MDB_dbi dbi;
		MDB_val k = { strlen(marks[i]), (void *)marks[i] };
		int rv = mdb_dbi_open(txn, dbs[i], 0, &dbi);
		if (rv == 0)
			rv = mdb_drop(txn, dbi, 1);
		if (rv != 0 && rv != MDB_NOTFOUND)
			return rv;
		if ((rv = mdb_del(txn, meta, &k, NULL)) != 0 && rv != MDB_NOTFOUND)
			return rv;
	}
	return 0;
}

int
vb_store_open(const char *dir, const vb_store_opts *opts, vb_store **out)
{
	vb_store *st;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	MDB_stat ms;
	uint64_t last;
	int rv, dead = 0;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return VB_ENOMEM;
	st->lock_fd = -1;
	st->sync_fd = -1;
	st->log = opts->log;
	st->map_size_max = opts->map_size_max;
	st->map_size = opts->map_size < opts->map_size_max ? opts->map_size :
	    opts->map_size_max;
	if (opts->rules)
		st->rules = *opts->rules;
	else
		vb_rules_defaults(&st->rules);
	/* Writer-preferring: with glibc's default a steady stream of readers
	 * (query workers paging replays) can keep a map resize, and so every
	 * publisher, waiting forever.  No thread takes maplock twice. */
	pthread_rwlockattr_t la;
	pthread_rwlockattr_init(&la);
	pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->maplock, &la);
	pthread_rwlock_init(&st->xmaplock, &la);
	pthread_rwlockattr_destroy(&la);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->fcond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&st->fmtx, NULL);
	pthread_mutex_init(&st->pmtx, NULL);
	pthread_mutex_init(&st->sync_mtx, NULL);
	pthread_mutex_init(&st->map.mtx, NULL);
	pthread_mutex_init(&st->xmap.mtx, NULL);
	if ((rv = store_index_init(st)) != 0)
		goto fail;
	if ((st->dir = strdup(dir)) == NULL) {
		rv = VB_ENOMEM;
		goto fail;
	}
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		rv = vb_err_from_errno(errno);
		goto fail;
	}
	if ((rv = lock_dir(dir, &st->lock_fd)) != 0)
		goto fail;
	/* map_size is only where the map starts: map_size_max bounds it even
	 * when it is set alone (--set map_size_max=... under the default
	 * map_size would otherwise never be reached). */
	if ((rv = mdb_env_create(&st->env)) != 0 ||
	    (rv = mdb_env_set_maxdbs(st->env, 8)) != 0 ||
	    (rv = mdb_env_set_mapsize(st->env, st->map_size)) != 0 ||
	    (rv = mdb_env_set_maxreaders(st->env, 256)) != 0)
		goto fail_mdb;
	/* MDB_NOTLS: read transactions belong to the transaction object, not
	 * the thread, as nng and our worker threads need.  MDB_NOMETASYNC:
	 * a commit flushes its pages, and its meta page goes to disk with
	 * the next commit's flush or vb_store_sync: one flush per commit
	 * under load instead of two.  LMDB keeps the file consistent either
	 * way; the writer acknowledges a commit only once it is durable
	 * (vb_store_durable). */
	if ((rv = mdb_env_open(st->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0640)) != 0)
		goto fail_mdb;
	{
		char path[4096];
		snprintf(path, sizeof(path), "%s/data.mdb", dir);
		if ((st->sync_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			rv = vb_err_from_errno(errno);
			vb_log_error(st->log, "S003", "%s: %s", path, strerror(errno));
			goto fail;
		}
	}
	st->page_size = (size_t)sysconf(_SC_PAGESIZE);
	if ((rv = mdb_env_stat(st->env, &ms)) != 0)
		goto fail_mdb;
	st->run_max = store_log_run_max(ms.ms_psize);
	/* A process killed inside a read transaction leaves its slot taken. */
	mdb_reader_check(st->env, &dead);
	if (dead > 0)
		vb_log_info(st->log, "S001", "cleared %d stale LMDB reader slot(s)", dead);
	if ((rv = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0 ||
	    (rv = mdb_dbi_open(txn, "log", MDB_CREATE | MDB_INTEGERKEY, &st->dlog)) != 0 ||
	    (rv = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta)) != 0 ||
	    (rv = mdb_dbi_open(txn, "state", MDB_CREATE, &st->state)) != 0 ||
	    (rv = mdb_dbi_open(txn, "supp", MDB_CREATE, &st->supp)) != 0 ||
	    (rv = mdb_dbi_open(txn, "timers", MDB_CREATE, &st->timers)) != 0)
		goto fail_mdb;
	k.mv_size = strlen(META_FORMAT);
	k.mv_data = META_FORMAT;
	if ((rv = mdb_get(txn, st->meta, &k, &v)) == MDB_NOTFOUND) {
		uint32_t fmt = STORE_FORMAT;
		v.mv_size = sizeof(fmt);
		v.mv_data = &fmt;
		if ((rv = mdb_put(txn, st->meta, &k, &v, 0)) != 0)
			goto fail_mdb;
	} else if (rv != 0) {
		goto fail_mdb;
	} else {
		uint32_t fmt = 0;
		if (v.mv_size == sizeof(fmt))
			memcpy(&fmt, v.mv_data, sizeof(fmt));
		if (fmt < STORE_FORMAT_OLDEST || fmt > STORE_FORMAT) {
			vb_log_error(st->log, "S002", "%s: data format %u, this broker reads %d to %d",
			    dir, fmt, STORE_FORMAT_OLDEST, STORE_FORMAT);
			rv = VB_ECORRUPT;
			goto fail;
		}
		if (fmt < STORE_FORMAT) {
			MDB_val ck = { strlen(META_OLD_CUSTOMERS), META_OLD_CUSTOMERS };
			if ((rv = drop_old_indexes(txn, st->meta)) != 0 ||
			    ((rv = mdb_del(txn, st->meta, &ck, NULL)) != 0 && rv != MDB_NOTFOUND))
				goto fail_mdb;
			vb_log_info(st->log, "S013", "%s: data format %u upgraded to %d",
			    dir, fmt, STORE_FORMAT);
			fmt = STORE_FORMAT;
			v.mv_size = sizeof(fmt);
			v.mv_data = &fmt;
			if ((rv = mdb_put(txn, st->meta, &k, &v, 0)) != 0)
				goto fail_mdb;
		}
	}
	if ((rv = mdb_cursor_open(txn, st->dlog, &cur)) != 0 ||
	    (rv = store_log_last(cur, &last)) != 0)
		goto fail_mdb;
	st->last_seq = last;
	if ((rv = supp_key(txn, st->meta, st->supp_key)) != 0)
		goto fail_mdb;
	mdb_cursor_close(cur);
	cur = NULL;
	/* The flush also makes durable what an earlier run committed and
	 * left only in the page cache (a killed broker's last meta page),
	 * before anyone reads it. */
	rv = mdb_txn_commit(txn);
	txn = NULL;
	if (rv != 0 || (rv = mdb_env_sync(st->env, 1)) != 0)
		goto fail_mdb;
	{
		MDB_envinfo info;
		mdb_env_info(st->env, &info);
		st->last_txn = st->durable_txn = info.me_last_txnid;
		st->durable_seq = st->last_seq;
	}
	/* The index entries not folded when the broker stopped (or crashed)
	 * come back from the events themselves, now durable. */
	if ((rv = store_index_open(st)) != 0 || (rv = store_folder_start(st)) != 0)
		goto fail;
	st->opened = 1;
	*out = st;
	return VB_OK;
fail_mdb:
	vb_log_error(st->log, "S003", "%s: %s", dir, mdb_strerror(rv));
	rv = vb_err_from_mdb(rv);
fail:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	vb_store_close(st);
	return rv;
}

void
vb_store_close(vb_store *st)
{
	if (st == NULL)
		return;
	/* A clean stop leaves nothing to recover at the next start.  Only a
	 * store that finished opening: after a failed open the pendings may
	 * hold part of the log's tail (pending_recover stopped at a bad
	 * event), and a fold would mark the indexes complete up to a seq
	 * they are not.  LMDB refused that fold only because the open's
	 * database handles went with its aborted transaction: not a thing to
	 * lean on, and the map grew and S008/S010 followed the S003. */
	store_folder_stop(st);
	if (st->opened)
		(void)vb_store_fold(st); /* flushes the log first */
	if (st->xenv)
		(void)mdb_env_sync(st->xenv, 1); /* mdb_env_close does not */
	store_index_close(st);
	if (st->env) {
		(void)vb_store_sync(st);
		mdb_env_close(st->env);
	}
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	if (st->sync_fd >= 0)
		close(st->sync_fd);
	pthread_mutex_destroy(&st->sync_mtx);
	pthread_mutex_destroy(&st->fmtx);
	pthread_mutex_destroy(&st->pmtx);
	pthread_mutex_destroy(&st->map.mtx);
	pthread_mutex_destroy(&st->xmap.mtx);
	pthread_cond_destroy(&st->fcond);
	pthread_rwlock_destroy(&st->maplock);
	pthread_rwlock_destroy(&st->xmaplock);
	free(st->dir);
	free(st);
}

int
vb_store_check_readers(vb_store *st, int *cleared)
{
	int dead = 0, rv = mdb_reader_check(st->env, &dead);
	if (rv != 0)
		return vb_err_from_mdb(rv);
	if (dead > 0)
		vb_log_warn(st->log, "S007", "cleared %d stale LMDB reader slot(s) of dead "
		    "processes; the pages they held can be reused", dead);
	if (cleared)
		*cleared = dead;
	return VB_OK;
}

uint64_t
vb_store_last_seq(vb_store *st)
{
	return atomic_load(&st->last_seq);
}

uint64_t
vb_store_durable_seq(vb_store *st)
{
	return atomic_load(&st->durable_seq);
}

uint64_t
vb_store_last_commit(vb_store *st)
{
	return atomic_load(&st->last_txn);
}

int
vb_store_durable(vb_store *st, uint64_t commit)
{
	return commit <= atomic_load(&st->durable_txn);
}

/* Raise durable_seq and durable_txn to seq and txn, never lower them:
 * the writer's commits and vb_store_sync (another thread's, as well)
 * race to say what is on disk. */
static void
durable_advance(vb_store *st, uint64_t txn, uint64_t seq)
{
	if (atomic_load(&st->broken))
		return;
	uint64_t cur = atomic_load(&st->durable_seq);
	while (cur < seq && !atomic_compare_exchange_weak(&st->durable_seq, &cur, seq))
		;
	cur = atomic_load(&st->durable_txn);
	while (cur < txn && !atomic_compare_exchange_weak(&st->durable_txn, &cur, txn))
		;
}

/* After a failed flush, or a write failing other than for want of room:
 * nothing more is called durable or written (vb_store_impl.h, broken).
 * what: the operation; why: its error. */
static void
store_break(vb_store *st, const char *what, const char *why)
{
	atomic_store(&st->broken, 1);
	vb_log_error(st->log, "S009", "%s: %s: %s; nothing more is stored or "
	    "acknowledged: restart the broker once the disk is sound", st->dir,
	    what, why);
}

int
vb_store_sync(vb_store *st)
{
	uint64_t txn = atomic_load(&st->last_txn), seq = atomic_load(&st->last_seq);
	int rv = VB_OK;
	if (atomic_load(&st->broken))
		return VB_EIO;
	if (txn <= atomic_load(&st->durable_txn))
		return VB_OK;
	/* Whatever txn and seq were read, their commit's meta page was
	 * written before they were set: the flush below carries it. */
	pthread_mutex_lock(&st->sync_mtx);
	if (atomic_load(&st->broken)) {
		rv = VB_EIO;
	} else if (fdatasync(st->sync_fd) != 0) {
		rv = vb_err_from_errno(errno);
		store_break(st, "flushing the data file", strerror(errno));
	}
	pthread_mutex_unlock(&st->sync_mtx);
	if (rv == VB_OK)
		durable_advance(st, txn, seq);
	return rv;
}

int
store_commit(vb_store *st, MDB_txn *txn, uint64_t seq)
{
	uint64_t id = mdb_txn_id(txn), prev_seq = atomic_load(&st->last_seq);
	MDB_envinfo info;
	int rv = mdb_txn_commit(txn);
	if (rv != 0)
		return rv;
	/* A transaction that changed nothing writes nothing, flushes nothing
	 * and keeps the previous id. */
	mdb_env_info(st->env, &info);
	if (info.me_last_txnid != id)
		return 0;
	/* Its data flush carried every earlier meta page to disk. */
	durable_advance(st, id - 1, prev_seq);
	atomic_store(&st->last_seq, seq);
	atomic_store(&st->last_txn, id);
	return 0;
}

uint64_t
store_env_used(MDB_env *env, MDB_envinfo *info)
{
	MDB_stat ms;
	mdb_env_info(env, info);
	mdb_env_stat(env, &ms);
	return (uint64_t)(info->me_last_pgno + 1) * ms.ms_psize;
}

int
store_maybe_grow(vb_store *st, MDB_env *env, size_t incoming, int force)
{
	MDB_envinfo info;
	uint64_t used, want;
	int rv = 0;

	used = store_env_used(env, &info);
	/* Pages are copied on write, and indexes add to the bytes: leave room
	 * for several times what comes, and for a quarter of the map. */
	want = used + 4 * (uint64_t)incoming + (16u << 20);
	if (!force && want + info.me_mapsize / 4 <= info.me_mapsize)
		return VB_OK;
	uint64_t size = info.me_mapsize;
	while (size < want + size / 4 || (force && size == info.me_mapsize))
		size *= 2;
	if (size > st->map_size_max)
		size = st->map_size_max;
	if (size <= info.me_mapsize)
		return force ? VB_EFULL : VB_OK;
	int log = env == st->env;
	pthread_rwlock_t *lock = log ? &st->maplock : &st->xmaplock;
	const char *which = log ? "log's" : "index's";
	pthread_rwlock_wrlock(lock);
	rv = mdb_env_set_mapsize(env, size);
	/* Remapped, perhaps elsewhere. */
	(log ? &st->map : &st->xmap)->known = 0;
	pthread_rwlock_unlock(lock);
	if (rv != 0) {
		vb_log_error(st->log, "S004", "growing the %s map to %llu bytes: %s",
		    which, (unsigned long long)size, mdb_strerror(rv));
		return vb_err_from_mdb(rv);
	}
	vb_log_info(st->log, "S005", "%s map grown from %llu to %llu MiB", which,
	    (unsigned long long)(info.me_mapsize >> 20),
	    (unsigned long long)(size >> 20));
	return VB_OK;
}

int
store_txn_put_event(store_txn *t, const uint8_t *pb, size_t pb_len,
    const char *id, const uint64_t *id_hash, const char *customer,
    const uint32_t *cust_hash, const char *type, const char *source,
    uint64_t *seq_out, size_t *off, size_t *len)
{
	vb_store *st = t->st;
	uint64_t h = id == NULL ? 0 : id_hash ? *id_hash : store_ids_hash(st, id);
	size_t s, n;
	int rv;

	if (id != NULL) {
		/* Stored before: its seq, and nothing is written. */
		if ((rv = store_ids_find(t, id, h, seq_out)) == 0)
			return MDB_KEYEXIST;
		if (rv != MDB_NOTFOUND)
			return rv;
	}
	s = (size_t)++t->seq;
	if (id != NULL && (rv = store_ids_add(t, id, h, s)) != 0)
		return rv;
	/* The stored form: the publisher's bytes, then seq and recorded as
	 * fields 6 and 7 (protobuf merges them), behind a varint length for
	 * the writer's fan-out. */
	n = pb_len + 64 + strlen(t->recorded);
	if (vb_buf_reserve(t->stored, n + 10) != 0)
		return ENOMEM;
	size_t lenpos = t->stored->len;
	vb_buf_append_varint(t->stored, 0); /* placeholder, fixed below */
	size_t start = t->stored->len;
	if (vb_buf_append(t->stored, pb, pb_len) != 0 ||
	    vb_event_pb_tail(s, t->recorded, t->stored) != 0)
		return ENOMEM;
	size_t elen = t->stored->len - start;
	/* Rewrite the length in place: it was one byte; move the bytes if
	 * the real varint is longer. */
	uint8_t vb[10];
	size_t vn = vb_varint_put(vb, elen);
	if (vn > 1) {
		if (vb_buf_reserve(t->stored, vn - 1) != 0)
			return ENOMEM;
		memmove(t->stored->data + start + vn - 1, t->stored->data + start, elen);
		t->stored->len += vn - 1;
		start += vn - 1;
	}
	memcpy(t->stored->data + lenpos, vb, vn);
	/* Into the log with the events around it, as one record. */
	if ((rv = store_log_add(t, s, lenpos)) != 0)
		return rv;
	/* The customer index entry waits in memory (vb_pending.h); the
	 * folds count the customers new to the tree. */
	if (vb_pending_add_h(st->ix[IX_CUST].add, customer,
	    cust_hash ? *cust_hash : vb_pending_hash(customer), s) < 0)
		return ENOMEM;
	counter_add(t, 't', type, 1);
	counter_add(t, 's', source, 1);
	*seq_out = s;
	if (off) {
		*off = start;
		*len = elen;
	}
	return 0;
}

static int
txn_run(vb_store *st, const char *recorded, vb_buf *stored, store_txn_fn fn,
    void *arg)
{
	store_txn t;
	size_t stored_base = stored->len;
	int rv;

	memset(&t, 0, sizeof(t));
	t.st = st;
	t.seq = atomic_load(&st->last_seq);
	t.recorded = recorded;
	t.stored = stored;
	if (vb_time_parse(recorded, &t.recorded_us) != 0)
		return EINVAL;
	/* Its lookups read the index environment, which must not move
	 * meanwhile. */
	pthread_rwlock_rdlock(&st->xmaplock);
	if ((rv = mdb_txn_begin(st->xenv, NULL, MDB_RDONLY, &t.xtxn)) != 0) {
		pthread_rwlock_unlock(&st->xmaplock);
		return rv;
	}
	if ((rv = mdb_txn_begin(st->env, NULL, 0, &t.txn)) != 0)
		goto fail;
	if ((rv = fn(&t, arg)) != 0)
		goto fail;
	if ((rv = store_gate_finish(&t, NULL)) != 0 ||
	    (rv = store_log_flush(&t)) != 0)
		goto fail;
	if ((rv = counters_write(&t)) != 0)
		goto fail;
	rv = store_commit(st, t.txn, t.seq);
	t.txn = NULL;
	if (rv != 0)
		goto fail;
	mdb_txn_abort(t.xtxn);
	pthread_rwlock_unlock(&st->xmaplock);
	store_txn_free_gate(&t);
	return 0;
fail:
	if (t.txn)
		mdb_txn_abort(t.txn);
	mdb_txn_abort(t.xtxn);
	pthread_rwlock_unlock(&st->xmaplock);
	for (int i = 0; i < IX_N; i++)
		vb_pending_drop_after(st->ix[i].add, atomic_load(&st->last_seq));
	store_txn_free_gate(&t);
	stored->len = stored_base;
	return rv;
}

/* Why the data file has no room to grow by about incoming bytes, or NULL:
 * the file system is (nearly) full, or the file is at the process's file
 * size limit (RLIMIT_FSIZE, systemd's LimitFSIZE=). */
static const char *
no_room(vb_store *st, size_t incoming)
{
	uint64_t want = 4 * (uint64_t)incoming + (1u << 20);
	struct statvfs sv;
	struct rlimit rl;
	struct stat sb;
	char path[4096];

	if (statvfs(st->dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < want)
		return "disk full";
	snprintf(path, sizeof(path), "%s/data.mdb", st->dir);
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    stat(path, &sb) == 0 && (uint64_t)sb.st_size + want > rl.rlim_cur)
		return "file size limit (RLIMIT_FSIZE) reached";
	return NULL;
}

int
store_write(vb_store *st, size_t incoming, const char *recorded, vb_buf *stored,
    store_txn_fn fn, void *arg, const char *what)
{
	int rv;

	/* After a failed flush (S009) nothing written could be called
	 * durable: refuse it, whole. */
	if (atomic_load(&st->broken))
		return VB_EIO;
	if ((rv = store_maybe_grow(st, st->env, incoming, 0)) != 0)
		return rv;
	for (int attempt = 0;; attempt++) {
		pthread_rwlock_rdlock(&st->maplock);
		rv = txn_run(st, recorded, stored, fn, arg);
		pthread_rwlock_unlock(&st->maplock);
		if (rv != MDB_MAP_FULL || attempt == 3)
			break;
		if (store_maybe_grow(st, st->env, incoming, 1) != 0)
			break;
	}
	/* LMDB turns a short write on a full disk into EIO: ask the file
	 * system, so that the publisher hears "storage full". */
	const char *why = NULL;
	if (rv == EIO && (why = no_room(st, incoming)) != NULL)
		rv = ENOSPC;
	if (rv == EIO) {
		/* A write or a flush failed, and not for want of room: maybe
		 * the flush of an earlier commit's meta page, which the
		 * answering thread's flush would then report as written
		 * (vb_store_impl.h, sync_fd).  Trust no flush from here on. */
		store_break(st, what, mdb_strerror(rv));
		return VB_EIO;
	}
	if (rv != 0) {
		vb_log_error(st->log, "S006", "%s failed: %s", what,
		    why ? why : rv == ENOSPC ? "disk full" : mdb_strerror(rv));
		return vb_err_from_mdb(rv);
	}
	return VB_OK;
}

typedef struct {
	vb_store_item *items;
	size_t n;
	vb_buf *aux;
	size_t aux_base;
} append_arg;

/* How many items ahead of the one it stores the writer starts loading
 * what that item's index entries will read: the ids' filter and the two
 * tables of entries waiting are far larger than the caches, and their
 * misses took about 30% of the writer's processor time (perf, workload 3
 * with 8 publishers; its user time per event fell by 20-29% with this). */
#define PREFETCH_AHEAD 8

static void
prefetch_item(vb_store *st, const vb_store_item *it)
{
	if (it->kind != VB_ITEM_EVENT || !it->id_hashed)
		return;
	store_ids_prefetch(st, it->id_hash);
	vb_pending_prefetch(st->ix[IX_CUST].add, it->cust_hash);
}

static int
append_items(store_txn *t, void *arg)
{
	append_arg *a = arg;
	int rv;

	if (a->aux)
		a->aux->len = a->aux_base; /* a retry starts over */
	for (size_t i = 0; i < a->n && i < PREFETCH_AHEAD; i++)
		prefetch_item(t->st, &a->items[i]);
	for (size_t i = 0; i < a->n; i++) {
		vb_store_item *it = &a->items[i];
		if (i + PREFETCH_AHEAD < a->n)
			prefetch_item(t->st, &a->items[i + PREFETCH_AHEAD]);
		if (it->kind == VB_ITEM_RECORD) {
			if ((rv = store_gate_record(t, it, a->aux)) != 0)
				return rv;
			continue;
		}
		it->duplicate = 0;
		rv = store_txn_put_event(t, it->pb, it->pb_len, it->id,
		    it->id_hashed ? &it->id_hash : NULL, it->customer,
		    it->id_hashed ? &it->cust_hash : NULL, it->type, it->source,
		    &it->seq, &it->stored_off, &it->stored_len);
		if (rv == MDB_KEYEXIST) {
			it->duplicate = 1;
			continue;
		}
		if (rv != 0)
			return rv;
		if (it->fact.kind != VB_FACT_NONE &&
		    (rv = store_gate_apply(t, it->customer, &it->fact)) != 0)
			return rv;
	}
	return 0;
}

void
vb_store_prepare(const vb_store *st, vb_store_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vb_store_item *it = &items[i];
		if (it->kind != VB_ITEM_EVENT || it->id == NULL)
			continue;
		/* SipHash of the id: 313 of the some 2,250 instructions the
		 * writer spent per event besides LMDB's (workload 3). */
		it->id_hash = store_ids_hash(st, it->id);
		it->cust_hash = vb_pending_hash(it->customer);
		it->id_hashed = 1;
	}
}

int
vb_store_append(vb_store *st, vb_store_item *items, size_t n,
    const char *recorded, vb_buf *stored, vb_buf *aux)
{
	append_arg a = { items, n, aux, aux ? aux->len : 0 };
	size_t incoming = 0;
	char what[64];

	for (size_t i = 0; i < n; i++)
		incoming += items[i].pb_len + (items[i].id ? strlen(items[i].id) : 0) + 512;
	snprintf(what, sizeof(what), "append of %zu event(s)", n);
	return store_write(st, incoming, recorded, stored, append_items, &a, what);
}

static int
prefix_match(const char *s, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	return pl <= len && memcmp(s, prefix, pl) == 0;
}

/* Whether the event bytes pass the time and type parts of f. */
static int
event_matches(const vb_store_filter *f, const uint8_t *p, size_t len)
{
	vb_event_peek pk;
	if (f->type_prefix == NULL || f->type_prefix[0] == '\0') {
		if (!f->has_since && !f->has_until)
			return 1;
	}
	if (vb_event_peek_pb(p, len, &pk) != 0)
		return 0;
	if (f->type_prefix && f->type_prefix[0] &&
	    !prefix_match(pk.type, pk.type_len, f->type_prefix))
		return 0;
	if (f->has_since || f->has_until) {
		char t[64];
		int64_t us;
		if (pk.time_len >= sizeof(t))
			return 0;
		memcpy(t, pk.time, pk.time_len);
		t[pk.time_len] = '\0';
		if (vb_time_parse(t, &us) != 0)
			return 0;
		if (f->has_since && us < f->since_us)
			return 0;
		if (f->has_until && us >= f->until_us)
			return 0;
	}
	return 1;
}

/* Append customer's pending seqs up to hi, the table being folded's
 * before the newer one's, to *seqs (*n used, *cap allocated). */
static int
pending_seqs(vb_store *st, const char *customer, uint64_t hi, uint64_t **seqs,
    size_t *n, size_t *cap)
{
	store_index *x = &st->ix[IX_CUST];
	pthread_mutex_lock(&st->pmtx);
	int rv = vb_pending_get(x->old, customer, hi, seqs, n, cap);
	if (rv == 0)
		rv = vb_pending_get(x->add, customer, hi, seqs, n, cap);
	pthread_mutex_unlock(&st->pmtx);
	return rv != 0 ? ENOMEM : 0;
}

int
store_customer_seqs(vb_store *st, MDB_txn *xtxn, const char *customer,
    uint64_t from, uint64_t hi, int (*fn)(void *arg, uint64_t seq), void *arg)
{
	MDB_txn *own = NULL;
	uint64_t *seqs = NULL, last = 0;
	size_t n = 0, cap = 0;
	int rv;

	/* A reader copies the seqs in memory before it reads the tree: the
	 * writer may empty the folded table at any time, but only after the
	 * fold committed, so what the copy lacks the later snapshot has.  The
	 * writer empties it itself, between its transactions. */
	if (xtxn == NULL) {
		if ((rv = pending_seqs(st, customer, hi, &seqs, &n, &cap)) != 0)
			goto out;
		pthread_rwlock_rdlock(&st->xmaplock);
		if ((rv = mdb_txn_begin(st->xenv, NULL, MDB_RDONLY, &own)) != 0) {
			pthread_rwlock_unlock(&st->xmaplock);
			goto out;
		}
		xtxn = own;
	}
	if ((rv = store_cust_seqs(st, xtxn, customer, from, hi, fn, arg, &last)) != 0)
		goto out;
	/* Then what is not in the tree yet: all of it later than the tree,
	 * but for a fold under way (or one that failed or crashed half-way):
	 * a customer's entries may then be in both, and the tree has all of
	 * the customer's entries of that table or none (a key's go in one
	 * transaction). */
	if (own == NULL && (rv = pending_seqs(st, customer, hi, &seqs, &n, &cap)) != 0)
		goto out;
	rv = 0;
	for (size_t i = 0; i < n && rv == 0; i++)
		if (seqs[i] >= from && seqs[i] > last)
			rv = fn(arg, seqs[i]);
out:
	if (own) {
		mdb_txn_abort(own);
		pthread_rwlock_unlock(&st->xmaplock);
	}
	free(seqs);
	return rv;
}

/* The state of one replay page. */
typedef struct page {
	const vb_store_filter *f;
	MDB_cursor *cur;          /* on the log */
	vb_store *st;
	size_t limit, max_bytes, scan_max;
	size_t count, bytes, scanned;
	vb_store_replay_cb cb;
	void *arg;
	int cb_rv;
	uint64_t *next_seq;
	const uint8_t *lo, *hi; /* the map addresses the page's events came from */
} page;

#define PAGE_FULL (-30000) /* not an LMDB code: the page is complete */
/* Replay pages spanning less of the file than this keep their pages. */
#define REPLAY_DROP_MIN (64u << 10)
/* A read fault maps the whole large folio around its page (up to 2 MiB
 * on x86-64), beyond the bytes replay read: the range let go is widened
 * to that, within the map.  Without it, workload 5's replay kept 31 MiB
 * of the file mapped. */
#define REPLAY_DROP_ALIGN ((uintptr_t)2 << 20)

static int map_bounds(MDB_env *env, store_map *m, uintptr_t *lo, uintptr_t *hi);

/* Let go of the map's pages around [lo, hi), the bytes a replay page
 * read: what their faults mapped, widened to REPLAY_DROP_ALIGN but never
 * past the map (beyond it may lie memory of the process's own).  With
 * maplock held. */
static void
replay_release(vb_store *st, uintptr_t lo, uintptr_t hi)
{
	uintptr_t a = lo & ~(uintptr_t)(st->page_size - 1);
	uintptr_t b = (hi + st->page_size - 1) & ~(uintptr_t)(st->page_size - 1);
	uintptr_t mlo, mhi;
	if (map_bounds(st->env, &st->map, &mlo, &mhi) && a >= mlo && b <= mhi) {
		uintptr_t wa = a & ~(REPLAY_DROP_ALIGN - 1);
		uintptr_t wb = (b + REPLAY_DROP_ALIGN - 1) & ~(REPLAY_DROP_ALIGN - 1);
		a = wa > mlo ? wa : mlo;
		b = wb < mhi ? wb : mhi;
	}
	(void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* One candidate event of a page, by seq; lv: its bytes when known. */
static int
page_event(page *pg, uint64_t seq, MDB_val *lv)
{
	MDB_val v;
	int rv;
	if (pg->f->to_seq && seq > pg->f->to_seq)
		return MDB_NOTFOUND;
	if (pg->count >= pg->limit || pg->bytes >= pg->max_bytes || pg->scanned >= pg->scan_max)
		return PAGE_FULL;
	if (lv == NULL) {
		if ((rv = store_log_get(pg->cur, seq, &v)) != 0)
			return rv;
		lv = &v;
	}
	pg->scanned++;
	if (pg->lo == NULL || (const uint8_t *)lv->mv_data < pg->lo)
		pg->lo = lv->mv_data;
	if ((const uint8_t *)lv->mv_data + lv->mv_size > pg->hi)
		pg->hi = (const uint8_t *)lv->mv_data + lv->mv_size;
	if (event_matches(pg->f, lv->mv_data, lv->mv_size)) {
		/* The page stops before an event the callback refused. */
		if ((pg->cb_rv = pg->cb(pg->arg, seq, lv->mv_data, lv->mv_size)) != 0)
			return PAGE_FULL;
		pg->count++;
		pg->bytes += lv->mv_size;
	}
	*pg->next_seq = seq + 1;
	return 0;
}

static int
page_by_seq(void *arg, uint64_t seq)
{
	return page_event(arg, seq, NULL);
}

int
vb_store_replay(vb_store *st, const vb_store_filter *f, size_t limit,
    size_t max_bytes, size_t scan_max, vb_store_replay_cb cb, void *arg,
    uint64_t *next_seq, int *done, uint64_t *last_seq)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	store_rec r;
	uint64_t from = f->from_seq ? f->from_seq : 1;
	page pg = { f, NULL, st, limit, max_bytes, scan_max, 0, 0, 0, cb, arg, 0, next_seq,
		NULL, NULL };
	int rv;

	*done = 0;
	*next_seq = from;
	pthread_rwlock_rdlock(&st->maplock);
	/* Only what is durable: a commit not yet flushed could still be
	 * undone by a crash, and its seqs given to other events. */
	*last_seq = atomic_load(&st->durable_seq);
	if ((rv = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rv = mdb_cursor_open(txn, st->dlog, &cur)) != 0)
		goto out;
	pg.cur = cur;
	if (f->customer && f->customer[0]) {
		rv = store_customer_seqs(st, NULL, f->customer, from, *last_seq, page_by_seq, &pg);
		if (rv == 0)
			rv = MDB_NOTFOUND; /* went through them all */
	} else {
		for (rv = store_log_seek(cur, from, &r); rv == 0; rv = store_log_next(cur, &r)) {
			if (r.seq > *last_seq) {
				rv = MDB_NOTFOUND;
				break;
			}
			if ((rv = page_event(&pg, r.seq, &r.ev)) != 0)
				break;
		}
	}
	if (rv == MDB_NOTFOUND) {
		*done = 1;
		rv = 0;
	} else if (rv == PAGE_FULL) {
		rv = 0;
	}
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	/* The callback has copied the events: let go of the file's pages,
	 * which would otherwise count in the broker's RSS until the kernel
	 * wants them back, however long the log.  They stay in the page
	 * cache; the map cannot move while maplock is held. */
	if (pg.hi - pg.lo >= REPLAY_DROP_MIN)
		replay_release(st, (uintptr_t)pg.lo, (uintptr_t)pg.hi);
	pthread_rwlock_unlock(&st->maplock);
	if (rv != 0)
		return vb_err_from_mdb(rv);
	return pg.cb_rv;
}

/* Where LMDB mapped env's data file: it does not say (me_mapaddr is only
 * set with MDB_FIXEDMAP), so look for the mapping of its file, by device
 * and inode, in /proc/self/maps.  0 if not found. */
static int
find_map(MDB_env *env, uintptr_t *lo_out, uintptr_t *hi_out)
{
	struct stat sb;
	char line[512];
	FILE *maps;
	int fd, found = 0;

	if (mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &sb) != 0)
		return 0;
	if ((maps = fopen("/proc/self/maps", "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), maps) != NULL) {
		unsigned long lo, hi, off, ino;
		unsigned maj, min;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &off,
		    &maj, &min, &ino) == 7 && ino == (unsigned long)sb.st_ino &&
		    makedev(maj, min) == sb.st_dev) {
			*lo_out = lo;
			*hi_out = hi;
			found = 1;
		}
	}
	fclose(maps);
	return found;
}

/* Where env's map lies, into *lo and *hi, found once per place (m);
 * 0 if not found.  With the map's lock held, so that it cannot move. */
static int
map_bounds(MDB_env *env, store_map *m, uintptr_t *lo, uintptr_t *hi)
{
	int known;
	pthread_mutex_lock(&m->mtx);
	if (!m->known)
		m->known = find_map(env, &m->lo, &m->hi);
	known = m->known;
	*lo = m->lo;
	*hi = m->hi;
	pthread_mutex_unlock(&m->mtx);
	return known;
}

void
store_map_release(vb_store *st, MDB_env *env, store_map *m)
{
	uintptr_t lo, hi;
	(void)st;
	if (map_bounds(env, m, &lo, &hi))
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void
vb_store_release_pages(vb_store *st)
{
	/* A map cannot move while maplock is held; it moves only when it
	 * grows, which forgets the address (store_maybe_grow).  The index's
	 * pages count too: the writer reads ids through its map. */
	pthread_rwlock_rdlock(&st->maplock);
	store_map_release(st, st->env, &st->map);
	pthread_rwlock_unlock(&st->maplock);
	pthread_rwlock_rdlock(&st->xmaplock);
	if (st->xenv)
		store_map_release(st, st->xenv, &st->xmap);
	pthread_rwlock_unlock(&st->xmaplock);
}

/* The bytes of file pages mapped into the process now (/proc/self/statm's
 * shared resident pages: the data file's, and the libraries'), or 0 when
 * it cannot tell. */
static uint64_t
mapped_bytes(void)
{
	unsigned long size, resident, shared;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;
	if (f == NULL)
		return 0;
	n = fscanf(f, "%lu %lu %lu", &size, &resident, &shared);
	fclose(f);
	return n == 3 ? (uint64_t)shared * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* File pages mapped above this are let go by vb_store_trim. */
#define TRIM_ABOVE (16u << 20)

void
vb_store_trim(vb_store *st)
{
	if (mapped_bytes() > TRIM_ABOVE)
		vb_store_release_pages(st);
}

int
vb_store_stats(vb_store *st, vb_stats *out)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_envinfo info;
	MDB_val k, v;
	struct stat sb;
	char path[4096];
	size_t cap = 0;
	vb_count *all = NULL;
	size_t nall = 0;
	int rv;

	memset(out, 0, sizeof(*out));
	/* First, outside maplock: it takes the pending tables' and the index
	 * map's locks. */
	if ((rv = store_index_count_customers(st, &out->customers)) != 0)
		return vb_err_from_mdb(rv);
	pthread_rwlock_rdlock(&st->maplock);
	out->last_seq = atomic_load(&st->durable_seq);
	out->used_bytes = store_env_used(st->env, &info);
	out->map_bytes = info.me_mapsize;
	if ((rv = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto out;
	/* Seqs have no gaps: the last is the count. */
	if ((rv = mdb_cursor_open(txn, st->dlog, &cur)) != 0 ||
	    (rv = store_log_last(cur, &out->events)) != 0)
		goto out;
	mdb_cursor_close(cur);
	cur = NULL;
	if ((rv = mdb_cursor_open(txn, st->meta, &cur)) != 0)
		goto out;
	for (rv = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rv == 0;
	    rv = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t c;
		if (v.mv_size != sizeof(c))
			continue;
		memcpy(&c, v.mv_data, sizeof(c));
		if (k.mv_size < 3 || ((char *)k.mv_data)[1] != ':')
			continue;
		if (nall == cap) {
			cap = cap ? cap * 2 : 32;
			vb_count *na = realloc(all, cap * sizeof(*all));
			if (na == NULL) {
				rv = ENOMEM;
				goto out;
			}
			all = na;
		}
		char *name = strndup((char *)k.mv_data, k.mv_size);
		if (name == NULL) {
			rv = ENOMEM;
			goto out;
		}
		all[nall].name = name;
		all[nall++].count = c;
	}
	rv = 0;
	/* meta keys sort "s:" before "t:": sources first, then types. */
	out->sources = all;
	for (size_t i = 0; i < nall && all[i].name[0] == 's'; i++)
		out->nsources++;
	out->types = all + out->nsources;
	out->ntypes = nall - out->nsources;
	for (size_t i = 0; i < nall; i++)
		memmove((char *)all[i].name, all[i].name + 2, strlen(all[i].name) - 1);
	all = NULL;
	snprintf(path, sizeof(path), "%s/data.mdb", st->dir);
	if (stat(path, &sb) == 0)
		out->disk_bytes = (uint64_t)sb.st_size;
	snprintf(path, sizeof(path), "%s/index/data.mdb", st->dir);
	if (stat(path, &sb) == 0)
		out->disk_bytes += (uint64_t)sb.st_size;
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&st->maplock);
	if (all) {
		for (size_t i = 0; i < nall; i++)
			free((char *)all[i].name);
		free(all);
	}
	if (rv != 0) {
		vb_store_stats_free(out);
		return vb_err_from_mdb(rv);
	}
	return VB_OK;
}

void
vb_store_stats_free(vb_stats *s)
{
	/* sources is the start of the one allocation holding both lists. */
	vb_count *all = s->sources ? s->sources : s->types;
	size_t n = s->nsources + s->ntypes;
	if (all) {
		for (size_t i = 0; i < n; i++)
			free((char *)all[i].name);
		free(all);
	}
	memset(s, 0, sizeof(*s));
}
