/* Writing the data files ahead of LMDB.
 *
 * LMDB writes a commit's new pages past the end of its data file, so the
 * commit's flush must also write the file's new size and blocks: the
 * inode, or on a journaled ext4 a journal commit.  Over blocks already
 * written, the flush is the data alone: on ext4 on a virtual disk, 64 KiB
 * appended and flushed took 640-1,470 µs, 64 KiB overwritten 220-820
 * (docs/benchmarks.md).  Blocks only reserved (fallocate) are no better:
 * their first write converts them, which is metadata again.  So the
 * writer keeps zeros written past the log's last page, a step at a time,
 * and the commits after a step overwrite them; the step's own flush is
 * the one that pays.  The one folding does the same for the index's
 * file, whose folds append runs.
 *
 * LMDB reads no page past its last one, copies (vb_store_backup) stop
 * there too, and after a crash the meta page says where the data ends,
 * whatever follows.  The zeros stay within the map. */
#include "vb_store_impl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vb_time.h"

/* The step: an eighth of the data, within these bounds, so that a small
 * store (a test's, a new one) writes little ahead of itself, and a large
 * one grows its file once per several MiB. */
#define AHEAD_MIN (1u << 20)
#define AHEAD_MAX (8u << 20)
/* After a failed write (a full disk, the file size limit): LMDB meets
 * the same and says so; try again this much later. */
#define AHEAD_RETRY_US (10 * 1000000LL)
/* Written 64 KiB at a time, as LMDB writes a commit's pages, not a MiB
 * per call: the page cache keeps a write's size as the size of its folios,
 * and a read through the map maps the whole folio it falls in.  With
 * 1 MiB writes, workload 5's peak RSS went from 52 to 91 MiB (its replay
 * mapping a MiB at a time); with 64 KiB, 47. */
#define ZEROS (64u << 10)

void
store_write_ahead(MDB_env *env, store_ahead *a)
{
	static const uint8_t zeros[ZEROS];
	MDB_envinfo info;
	int fd;

	if (a->retry_us != 0 && vb_time_mono_us() < a->retry_us)
		return;
	a->retry_us = 0;
	if (mdb_env_get_fd(env, &fd) != 0)
		return;
	uint64_t used = store_env_used(env, &info);
	uint64_t step = used / 8;
	step = step < AHEAD_MIN ? AHEAD_MIN : step > AHEAD_MAX ? AHEAD_MAX : step;
	step -= step % ZEROS;
	if (a->end == 0) {
		/* What a file already has past the data was written, by an
		 * earlier run of this or by LMDB before a crash. */
		struct stat sb;
		if (fstat(fd, &sb) != 0)
			return;
		a->end = (uint64_t)sb.st_size;
	}
	if (a->end < used)
		a->end = used;
	if (a->end >= used + step)
		return;
	uint64_t from = a->end, to = used + 2 * step;
	if (to > info.me_mapsize)
		to = info.me_mapsize;
	while (a->end + ZEROS <= to) {
		ssize_t w = pwrite(fd, zeros, ZEROS, (off_t)a->end);
		if (w <= 0) {
			a->retry_us = vb_time_mono_us() + AHEAD_RETRY_US;
			break;
		}
		a->end += (uint64_t)w;
	}
	/* Start writing them out now, not at the next commit's flush. */
	if (a->end > from)
		(void)sync_file_range(fd, (off_t)from, (off_t)(a->end - from),
		    SYNC_FILE_RANGE_WRITE);
}

void
vb_store_write_ahead(vb_store *st)
{
	store_write_ahead(st->env, &st->ahead);
}
