/* vb_ad_watch: a drop directory.  Each regular file that appears in DIR is
 * imported once, then moved to DIR/done or DIR/failed.
 *
 * The directory is scanned every interval (polling works on every file
 * system, NFS included).  A file is taken only when its size and change
 * time were the same at two scans in a row, so that one still being written
 * is left alone; writers that can should still write elsewhere and rename
 * into DIR.  Names starting with '.' or ending in ".tmp" or ".part" are
 * ignored.  Files are taken in name order.  A file whose import could not
 * reach the broker stays where it is and is tried again at a later scan. */
#ifndef VB_AD_WATCH_H
#define VB_AD_WATCH_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "vb_report.h"

typedef enum {
	VB_AD_WATCH_DONE = 0,   /* move to DIR/done */
	VB_AD_WATCH_FAILED = 1, /* move to DIR/failed, with NAME.errors */
	VB_AD_WATCH_RETRY = 2,  /* leave it: try again later */
} vb_ad_watch_result;

/* Import one file.  errors is a stream the callback's messages should be
 * copied to (what ends up in DIR/failed/NAME.errors). */
typedef vb_ad_watch_result (
    *vb_ad_watch_fn)(void *arg, const char *path, FILE *errors);

/* Watch dir until *stop is set (by a signal handler).  Creates DIR/done and
 * DIR/failed.  Returns 0 when stopped, VB_EIO when dir cannot be used
 * (reported). */
int vb_ad_watch_run(const char *dir, int64_t interval_ms,
    volatile sig_atomic_t *stop, vb_ad_watch_fn fn, void *arg,
    const vb_report *report);

/* Where a file named name would go in dir/sub: dir/sub/name, or with
 * ".1", ".2", ... added when that exists.  Returns 0 or VB_ETOOBIG. */
int vb_ad_watch_target(const char *dir, const char *sub, const char *name,
    char *path, size_t len);

#endif
