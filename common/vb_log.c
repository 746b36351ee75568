#include "vb_log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "vb_error.h"

static const char *level_names[] = { "error", "warn", "info", "debug" };

void
vb_log_init(vb_log *log, FILE *out, const char *prog, vb_log_level level)
{
	log->out = out;
	log->prog = prog;
	log->level = level;
}

int
vb_log_level_parse(const char *s, vb_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (vb_log_level)i;
			return VB_OK;
		}
	}
	return VB_EINVAL;
}

void
vb_log_write(const vb_log *log, vb_log_level lvl, const char *id,
    const char *fmt, ...)
{
	char msg[1024], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One fprintf per line so concurrent threads do not interleave. */
	fprintf(log->out, "%s.%03dZ %s %-5s %s %s\n", stamp,
	    (int)(tv.tv_usec / 1000), log->prog, level_names[lvl], id, msg);
	fflush(log->out);
}
