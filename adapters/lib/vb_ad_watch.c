#include "vb_ad_watch.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vb_error.h"

#define PATH_MAX_LEN 4096

typedef struct seen {
	char *name;
	off_t size;
	struct timespec ctime;
	int stable;  /* the same at two scans in a row */
	int present; /* in the last scan */
} seen;

typedef struct watch {
	seen *s;
	size_t n, cap;
} watch;

static int
ignored(const char *name)
{
	size_t n = strlen(name);
	if (name[0] == '.')
		return 1;
	if (n >= 4 && strcmp(name + n - 4, ".tmp") == 0)
		return 1;
	if (n >= 5 && strcmp(name + n - 5, ".part") == 0)
		return 1;
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const seen *)a)->name, ((const seen *)b)->name);
}

/* Update w from a scan of dir. */
static int
scan(watch *w, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX_LEN];

	if (d == NULL)
		return VB_EIO;
	for (size_t i = 0; i < w->n; i++)
		w->s[i].present = 0;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		size_t i;
		if (ignored(e->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		        e->d_name) >= sizeof(path))
			continue;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		for (i = 0; i < w->n; i++)
			if (strcmp(w->s[i].name, e->d_name) == 0)
				break;
		if (i == w->n) {
			if (w->n == w->cap) {
				size_t cap = w->cap ? w->cap * 2 : 16;
				seen *s = realloc(w->s, cap * sizeof(*s));
				if (s == NULL)
					continue;
				w->s = s;
				w->cap = cap;
			}
			if ((w->s[i].name = strdup(e->d_name)) == NULL)
				continue;
			w->n++;
			w->s[i].stable = 0;
		} else {
			w->s[i].stable = w->s[i].size == st.st_size &&
			    w->s[i].ctime.tv_sec == st.st_ctim.tv_sec &&
			    w->s[i].ctime.tv_nsec == st.st_ctim.tv_nsec;
		}
		w->s[i].size = st.st_size;
		w->s[i].ctime = st.st_ctim;
		w->s[i].present = 1;
	}
	closedir(d);
	/* Forget what went away. */
	for (size_t i = 0; i < w->n;) {
		if (!w->s[i].present) {
			free(w->s[i].name);
			w->s[i] = w->s[--w->n];
		} else {
			i++;
		}
	}
	qsort(w->s, w->n, sizeof(*w->s), by_name);
	return VB_OK;
}

int
vb_ad_watch_target(const char *dir, const char *sub, const char *name,
    char *path, size_t len)
{
	struct stat st;
	if ((size_t)snprintf(path, len, "%s/%s/%s", dir, sub, name) >= len)
		return VB_ETOOBIG;
	for (unsigned k = 1; lstat(path, &st) == 0; k++)
		if ((size_t)snprintf(path, len, "%s/%s/%s.%u", dir, sub, name,
		        k) >= len)
			return VB_ETOOBIG;
	return VB_OK;
}

static void
sleep_ms(int64_t ms, volatile sig_atomic_t *stop)
{
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000 };
	while (!*stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Copy the errors of a failed import next to it. */
static void
keep_errors(FILE *errors, const char *target, const vb_report *report)
{
	char path[PATH_MAX_LEN + 8], buf[8192];
	FILE *out;
	size_t n;

	if ((size_t)snprintf(path, sizeof(path), "%s.errors", target) >=
	    sizeof(path))
		return;
	if ((out = fopen(path, "w")) == NULL) {
		vb_report_msg(report, "%s: %s", path, strerror(errno));
		return;
	}
	rewind(errors);
	while ((n = fread(buf, 1, sizeof(buf), errors)) > 0)
		fwrite(buf, 1, n, out);
	if (fclose(out) != 0)
		vb_report_msg(report, "%s: %s", path, strerror(errno));
}

static int
make_dir(const char *dir, const char *sub, const vb_report *report)
{
	char path[PATH_MAX_LEN];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, sub) >=
	        sizeof(path) ||
	    (mkdir(path, 0755) != 0 && errno != EEXIST)) {
		vb_report_msg(report, "--watch %s: cannot make %s: %s", dir,
		    path, strerror(errno));
		return VB_EIO;
	}
	return VB_OK;
}

int
vb_ad_watch_run(const char *dir, int64_t interval_ms,
    volatile sig_atomic_t *stop, vb_ad_watch_fn fn, void *arg,
    const vb_report *report)
{
	watch w = { 0 };
	int rv = VB_OK;

	if (make_dir(dir, "done", report) != 0 ||
	    make_dir(dir, "failed", report) != 0)
		return VB_EIO;
	while (!*stop) {
		if (scan(&w, dir) != 0) {
			vb_report_msg(report, "--watch %s: %s", dir,
			    strerror(errno));
			rv = VB_EIO;
			break;
		}
		for (size_t i = 0; i < w.n && !*stop; i++) {
			char src[PATH_MAX_LEN], dst[PATH_MAX_LEN];
			FILE *errors;
			vb_ad_watch_result res;

			if (!w.s[i].stable)
				continue;
			if ((size_t)snprintf(src, sizeof(src), "%s/%s", dir,
			        w.s[i].name) >= sizeof(src))
				continue;
			errors = tmpfile();
			res = fn(arg, src, errors);
			if (res == VB_AD_WATCH_RETRY) {
				/* Stays: a later scan sees it again. */
				if (errors)
					fclose(errors);
				w.s[i].stable = 0;
				continue;
			}
			if (vb_ad_watch_target(dir,
			        res == VB_AD_WATCH_DONE ? "done" : "failed",
			        w.s[i].name, dst, sizeof(dst)) != 0 ||
			    rename(src, dst) != 0) {
				vb_report_msg(report,
				    "%s: cannot move it out of the way: %s; "
				    "stopping, or it would be imported again",
				    src, strerror(errno));
				if (errors)
					fclose(errors);
				rv = VB_EIO;
				goto out;
			}
			if (res == VB_AD_WATCH_DONE)
				vb_report_msg(report,
				    "%s: imported, moved to %s", src, dst);
			else
				vb_report_msg(report,
				    "%s: imported with errors, moved to %s",
				    src, dst);
			if (res == VB_AD_WATCH_FAILED && errors)
				keep_errors(errors, dst, report);
			if (errors)
				fclose(errors);
		}
		sleep_ms(interval_ms, stop);
	}
out:
	for (size_t i = 0; i < w.n; i++)
		free(w.s[i].name);
	free(w.s);
	return rv;
}
