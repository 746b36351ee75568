#include "vb_ad_import.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_csv.h"
#include "vb_ad_dec.h"
#include "vb_error.h"
#include "vb_validate.h"

typedef struct staged {
	vb_event *ev;
	unsigned long line;
} staged;

struct vb_ad_file {
	vb_ad_ctx *c;
	const char *name;
	vb_ad_bind *bind;
	staged *st;
	size_t nst, capst;
	int in_row; /* inside the row callback */
	int row_rejected;
	unsigned long long rows, rejected, done_empty;
	int fatal; /* VB_ENOMEM and the like: stop */
};

struct vb_ad_attrs {
	size_t n;
	char **v;
};

int
vb_ad_ctx_options(vb_ad_ctx *c, char *err, size_t errlen)
{
	const char *v;

	v = vb_ad_map_option(c->map, "timezone");
	if (vb_ad_zone_parse(v ? v : "UTC", &c->zone) != 0) {
		snprintf(err, errlen, "timezone: unknown zone \"%s\" (%s)", v,
		    vb_ad_zone_names());
		return VB_EINVAL;
	}
	v = vb_ad_map_option(c->map, "date_order");
	if (vb_ad_date_order_parse(v ? v : "ymd", &c->date_order) != 0) {
		snprintf(err, errlen,
		    "date_order: \"%s\": expected ymd, dmy or mdy", v);
		return VB_EINVAL;
	}
	v = vb_ad_map_option(c->map, "encoding");
	if (vb_ad_encoding_parse(v ? v : "utf-8", &c->encoding) != 0) {
		snprintf(err, errlen,
		    "encoding: \"%s\": expected utf-8, latin1 or cp1252", v);
		return VB_EINVAL;
	}
	v = vb_ad_map_option(c->map, "delimiter");
	if (v == NULL || strcmp(v, ",") == 0 || v[0] == '\0')
		c->delimiter = ',';
	else if (strcmp(v, "tab") == 0 || strcmp(v, "\\t") == 0)
		c->delimiter = '\t';
	else if (strlen(v) == 1 && v[0] != '"' && v[0] != '\n' && v[0] != '\r')
		c->delimiter = (unsigned char)v[0];
	else {
		snprintf(err, errlen,
		    "delimiter: \"%s\": expected one character or \"tab\"", v);
		return VB_EINVAL;
	}
	v = vb_ad_map_option(c->map, "id_prefix");
	c->id_prefix = v && v[0] ? v : c->silo->source;
	if (strchr(c->id_prefix, ':') != NULL) {
		snprintf(err, errlen,
		    "id_prefix: \"%s\": no ':' (it separates the parts of ids)",
		    c->id_prefix);
		return VB_EINVAL;
	}
	v = vb_ad_map_option(c->map, "customer_strip_suffix");
	c->strip_suffix = v && v[0] ? v : NULL;
	v = vb_ad_map_option(c->map, "customer_prefix");
	c->customer_prefix = v && v[0] ? v : NULL;
	return VB_OK;
}

/* ---- the callbacks' API ---- */

const char *
vb_ad_col(const vb_ad_file *f, int field)
{
	return f->bind ? vb_ad_bind_column(f->bind, field) : "?";
}

const char *
vb_ad_opt(const vb_ad_file *f, const char *name)
{
	return vb_ad_map_option(f->c->map, name);
}

int64_t
vb_ad_as_of(const vb_ad_file *f)
{
	return f->c->as_of_us;
}

static void
vreject(vb_ad_file *f, unsigned long line, unsigned long nrows, const char *fmt,
    va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	vb_reportf(f->c->report, f->name, line, "%s", msg);
	if (f->in_row) {
		if (!f->row_rejected)
			f->rejected++;
		f->row_rejected = 1;
	} else {
		f->rejected += nrows;
	}
}

void
vb_ad_reject(vb_ad_file *f, unsigned long line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreject(f, line, 1, fmt, ap);
	va_end(ap);
}

void
vb_ad_reject_n(vb_ad_file *f, unsigned long line, unsigned long nrows,
    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreject(f, line, nrows, fmt, ap);
	va_end(ap);
}

int
vb_ad_need(vb_ad_file *f, const vb_ad_row *row, int field, const char **out)
{
	const char *v = row->value[field];
	if (v == NULL || v[0] == '\0') {
		vb_ad_reject(f, row->line, "%s: empty", vb_ad_col(f, field));
		return -1;
	}
	*out = v;
	return 0;
}

int
vb_ad_when(vb_ad_file *f, const vb_ad_row *row, int field, int64_t *us,
    int *date_only)
{
	const char *v = row->value[field];
	if (v == NULL || v[0] == '\0')
		return 1;
	if (vb_ad_time_parse(v, &f->c->zone, f->c->date_order, us, date_only) !=
	    0) {
		static const char *const forms[] = {
			"2010-12-01, 2010-12-01 08:26[:00] or RFC 3339",
			"01/12/2010 or 01/12/2010 08:26[:00] (date_order dmy)",
			"12/01/2010 or 12/01/2010 08:26[:00] (date_order mdy)",
		};
		vb_ad_reject(f, row->line,
		    "%s: \"%.64s\" is not a date or time (expected %s)",
		    vb_ad_col(f, field), v, forms[f->c->date_order]);
		return -1;
	}
	return 0;
}

int
vb_ad_amount(vb_ad_file *f, const vb_ad_row *row, int field, int64_t *out)
{
	const char *v = row->value[field];
	int rv;
	if (v == NULL || v[0] == '\0')
		return 1;
	if ((rv = vb_ad_dec_parse(v, out)) != 0) {
		vb_ad_reject(f, row->line, "%s: \"%.64s\" is not %s",
		    vb_ad_col(f, field), v,
		    rv == VB_ETOOBIG
		        ? "an amount we can hold (at most 6 decimal places)"
		        : "a plain decimal number such as 1234.50 (no currency sign, no thousands separator)");
		return -1;
	}
	return 0;
}

int
vb_ad_customer(vb_ad_file *f, const vb_ad_row *row, int field, char *buf,
    size_t len)
{
	const char *v;
	size_t n, p = 0;

	if (vb_ad_need(f, row, field, &v) != 0)
		return -1;
	n = strlen(v);
	if (f->c->strip_suffix) {
		size_t s = strlen(f->c->strip_suffix);
		if (n > s && strcmp(v + n - s, f->c->strip_suffix) == 0)
			n -= s;
	}
	if (!f->c->custmap && f->c->customer_prefix)
		p = strlen(f->c->customer_prefix);
	if (p + n >= len) {
		vb_ad_reject(f, row->line,
		    "%s: \"%.32s...\": %zu bytes; a customer id has at most %d",
		    vb_ad_col(f, field), v, p + n, VB_CUSTOMER_MAX);
		return -1;
	}
	if (p)
		memcpy(buf, f->c->customer_prefix, p);
	memcpy(buf + p, v, n);
	buf[p + n] = '\0';
	if (f->c->custmap) {
		const char *m = vb_ad_custmap_get(f->c->custmap, buf);
		if (m == NULL) {
			vb_ad_reject(f, row->line,
			    "%s: \"%s\" is not in the customer map %s",
			    vb_ad_col(f, field), buf, f->c->custmap_path);
			return -1;
		}
		snprintf(buf, len, "%s", m);
	}
	return 0;
}

static int
set_attrs(vb_ad_file *f, const char *const *values, vb_ad_ev *b)
{
	size_t n = f->bind ? vb_ad_bind_nattrs(f->bind) : 0;
	for (size_t i = 0; i < n; i++) {
		int rv = vb_ad_ev_attr(b, vb_ad_bind_attr_name(f->bind, i),
		    values[i]);
		if (rv != 0)
			return rv;
	}
	return VB_OK;
}

int
vb_ad_event(vb_ad_file *f, const vb_ad_row *row, unsigned long line,
    const char *type, const char *record, const char *what,
    const char *customer, int64_t time_us, vb_ad_ev **out)
{
	char id[VB_ID_MAX + 2];
	int n, rv;

	n = snprintf(id, sizeof(id), "%s:%s:%s", f->c->id_prefix, record, what);
	if (n < 0 || (size_t)n > VB_ID_MAX) {
		vb_ad_reject(f, line,
		    "id: \"%.40s...\" would be %d bytes; at most %d (the record id is too long)",
		    id, n, VB_ID_MAX);
		return -1;
	}
	rv = vb_ad_ev_new(f->c->silo->source, type, id, customer, time_us, out);
	if (rv == 0 && row != NULL &&
	    (rv = set_attrs(f, row->attr, *out)) != 0) {
		vb_ad_ev_free(*out);
		*out = NULL;
	}
	if (rv == VB_ENOMEM) {
		f->fatal = rv;
		return -1;
	}
	if (rv != 0) {
		vb_ad_reject(f, line, "event %s: not valid UTF-8", id);
		return -1;
	}
	return 0;
}

static int
build(vb_ad_file *f, vb_ad_ev *b, unsigned long line, unsigned long nrows,
    vb_event **ev)
{
	char err[VB_ERRMSG_MAX];
	int rv = vb_ad_ev_build(b, ev, err, sizeof(err));
	if (rv == VB_ENOMEM)
		f->fatal = rv;
	else if (rv != 0)
		vb_ad_reject_n(f, line, nrows, "%s (event %s)", err,
		    vb_ad_ev_id(b));
	vb_ad_ev_free(b);
	return rv == 0 ? 0 : -1;
}

int
vb_ad_emit(vb_ad_file *f, vb_ad_ev *b, unsigned long line)
{
	vb_event *ev;
	if (build(f, b, line, 1, &ev) != 0)
		return -1;
	if (f->nst == f->capst) {
		size_t cap = f->capst ? f->capst * 2 : 8;
		staged *s = realloc(f->st, cap * sizeof(*s));
		if (s == NULL) {
			vb_event_free(ev);
			f->fatal = VB_ENOMEM;
			return -1;
		}
		f->st = s;
		f->capst = cap;
	}
	f->st[f->nst++] = (staged){ ev, line };
	return 0;
}

int
vb_ad_emit_rows(vb_ad_file *f, vb_ad_ev *b, unsigned long line,
    unsigned long nrows)
{
	vb_event *ev;
	if (build(f, b, line, nrows, &ev) != 0)
		return -1;
	vb_pub_add(f->c->pub, ev, f->name, line, nrows);
	return 0;
}

int
vb_ad_attrs_keep(vb_ad_file *f, const vb_ad_row *row, vb_ad_attrs **out)
{
	size_t n = f->bind ? vb_ad_bind_nattrs(f->bind) : 0;
	vb_ad_attrs *a = calloc(1, sizeof(*a));
	if (a == NULL || (n && (a->v = calloc(n, sizeof(*a->v))) == NULL)) {
		free(a);
		return VB_ENOMEM;
	}
	a->n = n;
	for (size_t i = 0; i < n; i++) {
		if ((a->v[i] = strdup(row->attr[i])) == NULL) {
			vb_ad_attrs_free(a);
			return VB_ENOMEM;
		}
	}
	*out = a;
	return VB_OK;
}

int
vb_ad_attrs_apply(vb_ad_file *f, const vb_ad_attrs *a, vb_ad_ev *b)
{
	return set_attrs(f, (const char *const *)a->v, b);
}

void
vb_ad_attrs_free(vb_ad_attrs *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	free(a);
}

/* ---- a row's events ---- */

static void
drop_staged(vb_ad_file *f)
{
	for (size_t i = 0; i < f->nst; i++)
		vb_event_free(f->st[i].ev);
	f->nst = 0;
}

/* The row is over: publish what it emitted, unless it was rejected.  The
 * row is done once its last event is stored. */
static void
commit_row(vb_ad_file *f)
{
	if (f->row_rejected) {
		drop_staged(f);
		return;
	}
	if (f->nst == 0 && !f->c->silo->grouped)
		f->done_empty++;
	for (size_t i = 0; i < f->nst; i++)
		vb_pub_add(f->c->pub, f->st[i].ev, f->name, f->st[i].line,
		    i + 1 == f->nst ? 1 : 0);
	f->nst = 0;
}

/* ---- CSV ---- */

static int
import_csv(vb_ad_file *f, FILE *in)
{
	vb_ad_ctx *c = f->c;
	const vb_ad_silo *s = c->silo;
	vb_csv_opts o = { .delim = c->delimiter };
	vb_csv *csv = NULL;
	vb_csv_rec rec;
	vb_ad_row row;
	void *state = NULL;
	char err[512];
	int rv, began = 0, unreadable = 0;

	if ((rv = vb_csv_open(in, &o, &csv)) != 0)
		return rv;
	/* The header: the first record. */
	rv = vb_csv_next(csv, &rec, err, sizeof(err));
	if (rv == 0) {
		vb_reportf(c->report, f->name, 0,
		    "empty file: expected a header line naming the columns");
		unreadable = 1;
		goto out;
	}
	if (rv < 0) {
		if (rv == VB_EINVAL)
			vb_reportf(c->report, f->name, rec.line,
			    "header: %s", err);
		else if (rv != VB_EIO)
			goto out; /* out of memory: not the file's fault */
		else
			vb_reportf(c->report, f->name, 0, "%s", strerror(errno));
		/* A header that cannot be read makes the file unusable: that
		 * is said, and the import goes on to the next file. */
		unreadable = 1;
		rv = 0;
		goto out;
	}
	if ((rv = vb_ad_bind_new(c->map, &rec, c->encoding, &f->bind, err,
	         sizeof(err))) != 0) {
		if (rv != VB_EINVAL)
			goto out;
		vb_reportf(c->report, f->name, rec.line, "%s", err);
		unreadable = 1;
		rv = 0;
		goto out;
	}
	if (s->begin && (rv = s->begin(f, &state)) != 0)
		goto out;
	began = 1;
	while (!(c->stop && *c->stop)) {
		rv = vb_csv_next(csv, &rec, err, sizeof(err));
		if (rv == 0)
			break;
		if (rv == VB_EIO) {
			vb_reportf(c->report, f->name,
			    vb_csv_lines(csv) + 1, "%s", strerror(errno));
			unreadable = 1;
			rv = 0;
			break;
		}
		if (rv < 0 && rv != VB_EINVAL)
			goto out;
		f->rows++;
		f->in_row = 1;
		f->row_rejected = 0;
		if (rv == VB_EINVAL) {
			vb_ad_reject(f, rec.line, "%s", err);
		} else if ((rv = vb_ad_bind_row(f->bind, &rec, &row, err,
		                sizeof(err))) != 0) {
			if (rv != VB_EINVAL)
				goto out;
			vb_ad_reject(f, rec.line, "%s", err);
		} else if ((rv = s->row(f, state, &row)) != 0) {
			goto out;
		}
		commit_row(f);
		f->in_row = 0;
		if (f->fatal) {
			rv = f->fatal;
			goto out;
		}
	}
	rv = 0;
	if (c->stop && *c->stop)
		goto out;
	if (s->end && (rv = s->end(f, state)) != 0)
		goto out;
	if (f->fatal)
		rv = f->fatal;
out:
	f->in_row = 0;
	drop_staged(f);
	if (began && s->free)
		s->free(state);
	vb_ad_bind_free(f->bind);
	f->bind = NULL;
	vb_csv_close(csv);
	if (rv == 0 && unreadable)
		rv = 1;
	return rv;
}

/* ---- JSON lines ---- */

/* The line's event with its customer replaced by the customer map's. */
static int
remap(vb_ad_file *f, unsigned long lineno, const char *line, size_t len,
    vb_event **ev)
{
	const char *cust = vb_event_customer(*ev), *to;
	char err[VB_ERRMSG_MAX];
	json_t *j;
	char *text;
	int rv;

	if ((to = vb_ad_custmap_get(f->c->custmap, cust)) == NULL) {
		vb_ad_reject(f, lineno,
		    "customer: \"%.64s\" is not in the customer map %s", cust,
		    f->c->custmap_path);
		return -1;
	}
	if ((j = json_loadb(line, len, 0, NULL)) == NULL ||
	    json_object_set_new(j, "customer", json_string(to)) != 0 ||
	    (text = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		f->fatal = VB_ENOMEM;
		return -1;
	}
	json_decref(j);
	vb_event_free(*ev);
	*ev = NULL;
	rv = vb_event_from_json(text, strlen(text), ev, err, sizeof(err));
	free(text);
	if (rv != 0) {
		vb_ad_reject(f, lineno, "%s", err);
		return -1;
	}
	return 0;
}

static int
is_blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return 0;
	return 1;
}

static int
import_jsonl(vb_ad_file *f, FILE *in)
{
	vb_ad_ctx *c = f->c;
	char *line = NULL, err[VB_ERRMSG_MAX];
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	int rv = 0;

	while (
	    !(c->stop && *c->stop) && (len = getline(&line, &cap, in)) != -1) {
		vb_event *ev = NULL;
		lineno++;
		while (
		    len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (is_blank(line))
			continue;
		f->rows++;
		f->in_row = 1;
		f->row_rejected = 0;
		if ((size_t)len != strlen(line)) {
			vb_ad_reject(f, lineno, "json: NUL byte in line");
		} else if ((rv = vb_event_from_json(line, (size_t)len, &ev, err,
		                sizeof(err))) != 0) {
			if (rv == VB_ENOMEM)
				break;
			vb_ad_reject(f, lineno, "%s", err);
		} else if (strcmp(vb_event_source(ev), c->silo->source) != 0) {
			vb_ad_reject(f, lineno,
			    "source: \"%.32s\": %s publishes %s events only",
			    vb_event_source(ev), c->silo->prog,
			    c->silo->source);
		} else if (c->custmap &&
		    remap(f, lineno, line, (size_t)len, &ev) != 0) {
			/* rejected */
		} else if (vb_event_validate(ev, NULL, err, sizeof(err)) != 0) {
			vb_ad_reject(f, lineno, "%s", err);
		} else {
			vb_pub_add(c->pub, ev, f->name, lineno, 1);
			ev = NULL;
		}
		rv = 0;
		vb_event_free(ev);
		f->in_row = 0;
		if (f->fatal)
			break;
	}
	if (rv == 0 && f->fatal)
		rv = f->fatal;
	if (rv == 0 && ferror(in)) {
		vb_reportf(c->report, f->name, lineno + 1, "%s",
		    strerror(errno));
		rv = 1;
	}
	free(line);
	return rv;
}

int
vb_ad_import(vb_ad_ctx *c, const char *path, const char *name,
    vb_ad_import_stats *out)
{
	vb_ad_file f = { .c = c, .name = name };
	FILE *in;
	int rv;

	memset(out, 0, sizeof(*out));
	vb_pub_reset(c->pub);
	if (strcmp(path, "-") == 0) {
		in = stdin;
	} else if ((in = fopen(path, "r")) == NULL) {
		vb_reportf(c->report, name, 0, "%s", strerror(errno));
		out->unreadable = 1;
		return VB_OK;
	}
	rv = c->jsonl ? import_jsonl(&f, in) : import_csv(&f, in);
	if (in != stdin)
		fclose(in);
	if (rv == 1) {
		out->unreadable = 1;
		rv = 0;
	}
	if (rv == 0 && !(c->stop && *c->stop))
		vb_pub_flush(c->pub);
	free(f.st);
	out->rows = f.rows;
	out->done_empty = f.done_empty;
	out->interrupted = c->stop && *c->stop;
	vb_pub_get_counts(c->pub, &out->pub);
	out->rejected = f.rejected + out->pub.rejected;
	return rv;
}
