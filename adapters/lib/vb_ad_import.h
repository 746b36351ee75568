/* vb_ad_import: one file of a silo's export through the silo's
 * callbacks to the publisher: JSON lines, or CSV read through a mapping.
 *
 * Rows become events through the silo's row callback.  What a callback
 * emits for a row is held back until the row is over: a row that is
 * rejected (vb_ad_reject) publishes nothing at all.  Every event id is
 * "<id_prefix>:<record>:<what>", from the source record alone, so an import
 * run twice stores nothing new and one re-run after a crash stores exactly
 * what the crash left out. */
#ifndef VB_AD_IMPORT_H
#define VB_AD_IMPORT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_ad_custmap.h"
#include "vb_ad_event.h"
#include "vb_ad_map.h"
#include "vb_publish.h"
#include "vb_report.h"
#include "vb_ad_time.h"

/* One input file being imported: the callbacks' handle. */
typedef struct vb_ad_file vb_ad_file;

typedef struct vb_ad_preset {
	const char *name;    /* --preset NAME */
	const char *help;    /* one line */
	const char *mapping; /* INI text, as a mapping file */
	/* When not NULL: the export has no customer id, and the user must
	 * name a column with --customer-column; this says which is best. */
	const char *customer_hint;
} vb_ad_preset;

typedef struct vb_ad_silo {
	const char *prog;            /* "vb-service" */
	const char *source;          /* the events' source: "service" */
	const char *what;            /* one line for --help */
	const char *help;            /* more for --help: what becomes what */
	const vb_ad_field *fields;   /* NULL-name terminated */
	const vb_ad_option *options; /* the silo's own options; may be NULL */
	const vb_ad_preset *presets; /* NULL-name terminated; may be NULL */
	int uses_as_of;              /* whether --as-of means something */
	/* Rows are gathered into groups (an order's lines) that the end
	 * callback emits with vb_ad_emit_rows: a row that emits nothing is
	 * not done yet, it waits for its group. */
	int grouped;

	/* Per file: *state for the other callbacks (may stay NULL).
	 * 0 or VB_ENOMEM. */
	int (*begin)(vb_ad_file *f, void **state);
	/* One row.  Emit its events, or reject it.  Returns 0; anything else
	 * (VB_ENOMEM) ends the import. */
	int (*row)(vb_ad_file *f, void *state, const vb_ad_row *row);
	/* After the last row (not after a file that could not be read).
	 * May emit grouped events with vb_ad_emit_rows.  0 or VB_ENOMEM. */
	int (*end)(vb_ad_file *f, void *state);
	/* Release state; called after end, or instead of it. */
	void (*free)(void *state);
} vb_ad_silo;

/* What an import needs; made by vb_adapter_main.  Everything borrowed. */
typedef struct vb_ad_ctx {
	const vb_ad_silo *silo;
	const vb_ad_map *map;
	const vb_ad_custmap *custmap; /* NULL: customers as the rows say */
	const char *custmap_path;     /* for messages */
	vb_pub *pub;
	const vb_report *report;
	int jsonl; /* input is JSON lines, not CSV */
	int64_t as_of_us;
	volatile sig_atomic_t *stop; /* set by a signal: stop between rows */
	/* The mapping's common options, read by vb_ad_ctx_options. */
	vb_ad_zone zone;
	vb_ad_date_order date_order;
	vb_ad_encoding encoding;
	unsigned char delimiter;
	const char *id_prefix;       /* the source when the mapping has none */
	const char *strip_suffix;    /* NULL: none */
	const char *customer_prefix; /* NULL: none */
} vb_ad_ctx;

/* Read and check the mapping's common options into c.  On VB_EINVAL err
 * says which is wrong. */
int vb_ad_ctx_options(vb_ad_ctx *c, char *err, size_t errlen);

typedef struct vb_ad_import_stats {
	unsigned long long rows; /* rows (CSV records, JSON lines) read */
	unsigned long long
	    rejected; /* rows rejected (reported), the broker's too */
	unsigned long long done_empty; /* rows that needed no event */
	vb_pub_counts pub;          /* what the events became */
	int unreadable; /* the file could not be read or used at all (reported) */
	int interrupted; /* *stop was set before the end */
} vb_ad_import_stats;

/* Import path ("-": stdin), name it name in messages.  Returns 0 (see
 * *out for what happened), or VB_ENOMEM. */
int vb_ad_import(vb_ad_ctx *c, const char *path, const char *name,
    vb_ad_import_stats *out);

/* ---- for the callbacks ---- */

/* The header's name for a field's column, for messages. */
const char *vb_ad_col(const vb_ad_file *f, int field);

/* An option of the mapping (its default when unset; NULL when none). */
const char *vb_ad_opt(const vb_ad_file *f, const char *name);

/* --as-of, or the time the program started. */
int64_t vb_ad_as_of(const vb_ad_file *f);

/* Reject the row at line (or nrows rows of a group starting there) with
 * "FILE:LINE: <message>"; counted, and nothing of the row is published. */
void vb_ad_reject(vb_ad_file *f, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vb_ad_reject_n(vb_ad_file *f, unsigned long line, unsigned long nrows,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The field's value, non-empty: 0 with *out set (owned by the row), or -1
 * after rejecting the row ("COLUMN: empty"). */
int vb_ad_need(vb_ad_file *f, const vb_ad_row *row, int field,
    const char **out);

/* The field's time, read with the mapping's timezone and date_order:
 * 0 with *us (and *date_only, may be NULL) set; 1 when the field is empty
 * or has no column (nothing rejected: the caller decides); -1 after
 * rejecting the row for a value that is no date or time. */
int vb_ad_when(vb_ad_file *f, const vb_ad_row *row, int field, int64_t *us,
    int *date_only);

/* The field's decimal amount (vb_ad_dec): 0, 1 when empty, -1 rejected. */
int vb_ad_amount(vb_ad_file *f, const vb_ad_row *row, int field, int64_t *out);

/* The customer of the row from field: customer_strip_suffix applied, then
 * the customer map when there is one, else customer_prefix.  0 with the id in buf, or -1 after
 * rejecting the row (empty, not in the map, too long). */
int vb_ad_customer(vb_ad_file *f, const vb_ad_row *row, int field, char *buf,
    size_t len);

/* Start an event of the silo's source: id "<id_prefix>:<record>:<what>",
 * the row's attributes (row may be NULL: none).  *out goes to vb_ad_emit
 * or vb_ad_ev_free.  0, or -1 after rejecting the row (a value that makes
 * no valid id or customer). */
int vb_ad_event(vb_ad_file *f, const vb_ad_row *row, unsigned long line,
    const char *type, const char *record, const char *what,
    const char *customer, int64_t time_us, vb_ad_ev **out);

/* Emit b (taken in every case) for the current row: checked against the
 * contract now, published once the row is over.  0, or -1 after rejecting
 * the row with the reason. */
int vb_ad_emit(vb_ad_file *f, vb_ad_ev *b, unsigned long line);

/* Emit b for a group of nrows rows (an order's lines), from the end
 * callback: published at once.  0, or -1 after rejecting the group. */
int vb_ad_emit_rows(vb_ad_file *f, vb_ad_ev *b, unsigned long line,
    unsigned long nrows);

/* The attributes of a row, kept for an event made later (a group's). */
typedef struct vb_ad_attrs vb_ad_attrs;
/* *out: vb_ad_attrs_free.  0 or VB_ENOMEM. */
int vb_ad_attrs_keep(vb_ad_file *f, const vb_ad_row *row, vb_ad_attrs **out);
int vb_ad_attrs_apply(vb_ad_file *f, const vb_ad_attrs *a, vb_ad_ev *b);
void vb_ad_attrs_free(vb_ad_attrs *a);

#endif
