/* vb_log: levelled logging to a stream (stderr for the daemon).
 * Each message kind carries a stable short id ("S001") so operators can grep
 * and alert on it.  The level is checked before anything is formatted. */
#ifndef VB_LOG_H
#define VB_LOG_H

#include <stdio.h>

typedef enum {
	VB_LOG_ERROR = 0,
	VB_LOG_WARN = 1,
	VB_LOG_INFO = 2,
	VB_LOG_DEBUG = 3,
} vb_log_level;

typedef struct vb_log {
	FILE *out;          /* borrowed; not closed by vb_log */
	vb_log_level level; /* messages above this level are dropped */
	const char *prog;   /* borrowed; must outlive the logger */
} vb_log;

/* Initialise a logger writing to out.  Nothing to free. */
void vb_log_init(vb_log *log, FILE *out, const char *prog, vb_log_level level);

/* Parse "error", "warn", "info" or "debug"; returns 0 or VB_EINVAL. */
int vb_log_level_parse(const char *s, vb_log_level *out);

#define vb_log_enabled(log, lvl) ((log) != NULL && (lvl) <= (log)->level)

void vb_log_write(const vb_log *log, vb_log_level lvl, const char *id,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define vb_log_error(log, id, ...) \
	do { if (vb_log_enabled(log, VB_LOG_ERROR)) vb_log_write(log, VB_LOG_ERROR, id, __VA_ARGS__); } while (0)
#define vb_log_warn(log, id, ...) \
	do { if (vb_log_enabled(log, VB_LOG_WARN)) vb_log_write(log, VB_LOG_WARN, id, __VA_ARGS__); } while (0)
#define vb_log_info(log, id, ...) \
	do { if (vb_log_enabled(log, VB_LOG_INFO)) vb_log_write(log, VB_LOG_INFO, id, __VA_ARGS__); } while (0)
#define vb_log_debug(log, id, ...) \
	do { if (vb_log_enabled(log, VB_LOG_DEBUG)) vb_log_write(log, VB_LOG_DEBUG, id, __VA_ARGS__); } while (0)

#endif
