/* vb_store_backup: a compact, consistent copy of the store while it runs,
 * for `voicebus backup` (the admin's way to what `mdb_copy -c` does on the
 * broker's host). */
#include "vb_store.h"
#include "vb_store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vb_error.h"

int
vb_store_backup(vb_store *st, const char *path, uint64_t *bytes,
    uint64_t *last_seq, char *err, size_t errlen)
{
	struct stat sb;
	int fd, rv;

	if (path[0] != '/') {
		snprintf(err, errlen, "path: \"%.200s\" is not absolute (the copy is written "
		    "on the broker's host)", path);
		return VB_EINVAL;
	}
	/* Never over an existing file: that may be the last good backup. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errlen, "%.200s: %s", path, strerror(errno));
		return errno == EEXIST || errno == ENOENT || errno == ENOTDIR ? VB_EINVAL :
		    vb_err_from_errno(errno);
	}
	/* The copy reads in its own transaction: the map must not move. */
	pthread_rwlock_rdlock(&st->maplock);
	*last_seq = atomic_load(&st->last_seq);
	rv = mdb_env_copyfd2(st->env, fd, MDB_CP_COMPACT);
	/* The copy may hold the last commit, whose meta page the broker has
	 * not flushed yet (MDB_NOMETASYNC): flush it now, or the copy could
	 * hold events that a crash of this host undoes. */
	if (rv == 0)
		rv = mdb_env_sync(st->env, 1);
	pthread_rwlock_unlock(&st->maplock);
	if (rv == 0 && fsync(fd) != 0)
		rv = errno;
	if (rv == 0 && fstat(fd, &sb) == 0)
		*bytes = (uint64_t)sb.st_size;
	close(fd);
	if (rv != 0) {
		snprintf(err, errlen, "%.200s: %s", path, mdb_strerror(rv));
		unlink(path);
		return vb_err_from_mdb(rv);
	}
	return VB_OK;
}
