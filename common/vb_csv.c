#include "vb_csv.h"

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_error.h"

#define MAX_RECORD_DEFAULT (1u << 20)

typedef struct qrec {
	unsigned long line;
	size_t first, n; /* fields [first, first + n) */
} qrec;

struct vb_csv {
	FILE *in;
	struct csv_parser p;
	int p_open;
	unsigned char delim;
	size_t max_record;

	/* Input: lines to read again after a resynchronisation come first. */
	char *line;
	size_t line_cap;
	vb_buf pending;
	size_t pending_off;
	unsigned long next_line; /* the number of the next line read */
	unsigned long lines;     /* lines read from in */
	int eof;                 /* in is exhausted and the parser finished */

	/* The record in progress. */
	int between;             /* 1: none in progress */
	unsigned long start;     /* its first line */
	vb_buf raw;              /* its bytes so far */
	size_t raw_first;        /* the length of its first line in raw */
	size_t cur_first;        /* its first field */

	/* Fields of the records parsed and not yet handed out. */
	vb_buf fbuf;             /* field bytes, each followed by a NUL */
	size_t *foff, *flen, nf, capf;
	qrec *q;
	size_t nq, qhead, capq;
	const char **fptr;
	size_t capptr;
	int cb_error;            /* a callback ran out of memory */

	/* A malformed record found while earlier records of the same line
	 * were still queued: reported after them, in line order. */
	int pend;
	unsigned long pend_line;
	char pend_err[256];
};

static int
parser_init(vb_csv *r)
{
	if (r->p_open)
		csv_free(&r->p);
	r->p_open = 0;
	if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return VB_ENOMEM;
	csv_set_delim(&r->p, r->delim);
	r->p_open = 1;
	return VB_OK;
}

int
vb_csv_open(FILE *in, const vb_csv_opts *opts, vb_csv **out)
{
	vb_csv *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return VB_ENOMEM;
	r->in = in;
	r->delim = opts && opts->delim ? opts->delim : ',';
	r->max_record = opts && opts->max_record ? opts->max_record : MAX_RECORD_DEFAULT;
	r->next_line = 1;
	r->between = 1;
	if (parser_init(r) != 0) {
		vb_csv_close(r);
		return VB_ENOMEM;
	}
	*out = r;
	return VB_OK;
}

void
vb_csv_close(vb_csv *r)
{
	if (r == NULL)
		return;
	if (r->p_open)
		csv_free(&r->p);
	free(r->line);
	vb_buf_free(&r->pending);
	vb_buf_free(&r->raw);
	vb_buf_free(&r->fbuf);
	free(r->foff);
	free(r->flen);
	free(r->q);
	free(r->fptr);
	free(r);
}

unsigned long
vb_csv_lines(const vb_csv *r)
{
	return r->lines;
}

/* libcsv's field callback. */
static void
on_field(void *s, size_t len, void *arg)
{
	vb_csv *r = arg;
	if (r->cb_error)
		return;
	if (r->nf == r->capf) {
		size_t cap = r->capf ? r->capf * 2 : 64;
		size_t *a = realloc(r->foff, cap * sizeof(*a));
		if (a)
			r->foff = a;
		size_t *b = realloc(r->flen, cap * sizeof(*b));
		if (b)
			r->flen = b;
		if (!a || !b) {
			r->cb_error = 1;
			return;
		}
		r->capf = cap;
	}
	r->foff[r->nf] = r->fbuf.len;
	r->flen[r->nf] = len;
	if ((len && vb_buf_append(&r->fbuf, s, len) != 0) ||
	    vb_buf_append_byte(&r->fbuf, 0) != 0) {
		r->cb_error = 1;
		return;
	}
	r->nf++;
	/* A record that begins after a bare CR on the same line. */
	if (r->between) {
		r->between = 0;
		r->start = r->next_line - 1;
		r->cur_first = r->nf - 1;
		vb_buf_reset(&r->raw);
		r->raw_first = 0;
	}
}

/* libcsv's end-of-record callback. */
static void
on_record(int c, void *arg)
{
	vb_csv *r = arg;
	(void)c;
	if (r->cb_error)
		return;
	if (r->nq == r->capq) {
		size_t cap = r->capq ? r->capq * 2 : 8;
		qrec *q = realloc(r->q, cap * sizeof(*q));
		if (q == NULL) {
			r->cb_error = 1;
			return;
		}
		r->q = q;
		r->capq = cap;
	}
	r->q[r->nq++] = (qrec){ r->start, r->cur_first, r->nf - r->cur_first };
	r->between = 1;
	r->cur_first = r->nf;
}

/* Drop what was handed out; keep the fields of a record in progress. */
static void
compact(vb_csv *r)
{
	r->nq = r->qhead = 0;
	if (r->cur_first >= r->nf) {
		r->nf = r->cur_first = 0;
		vb_buf_reset(&r->fbuf);
		return;
	}
	size_t base = r->foff[r->cur_first];
	memmove(r->fbuf.data, r->fbuf.data + base, r->fbuf.len - base);
	r->fbuf.len -= base;
	for (size_t i = r->cur_first; i < r->nf; i++) {
		r->foff[i - r->cur_first] = r->foff[i] - base;
		r->flen[i - r->cur_first] = r->flen[i];
	}
	r->nf -= r->cur_first;
	r->cur_first = 0;
}

static int
hand_out(vb_csv *r, vb_csv_rec *rec)
{
	qrec *q = &r->q[r->qhead++];
	if (q->n > r->capptr) {
		const char **p = realloc(r->fptr, q->n * sizeof(*p));
		if (p == NULL)
			return VB_ENOMEM;
		r->fptr = p;
		r->capptr = q->n;
	}
	for (size_t i = 0; i < q->n; i++)
		r->fptr[i] = (const char *)r->fbuf.data + r->foff[q->first + i];
	rec->line = q->line;
	rec->n = q->n;
	rec->field = r->fptr;
	rec->len = r->flen + q->first;
	/* A record ends at a line end, and reading stops there: raw holds
	 * exactly its lines (shared when a bare CR put two on one line). */
	rec->raw = (const char *)r->raw.data;
	rec->raw_len = r->raw.len;
	return 1;
}

/* The next physical line, with its newline.  0: none left. */
static int
get_line(vb_csv *r, const char **p, size_t *len)
{
	if (r->pending_off < r->pending.len) {
		const char *s = (const char *)r->pending.data + r->pending_off;
		size_t left = r->pending.len - r->pending_off;
		const char *nl = memchr(s, '\n', left);
		*p = s;
		*len = nl ? (size_t)(nl - s) + 1 : left;
		r->pending_off += *len;
		if (r->pending_off == r->pending.len) {
			vb_buf_reset(&r->pending);
			r->pending_off = 0;
		}
		return 1;
	}
	ssize_t n = getline(&r->line, &r->line_cap, r->in);
	if (n < 0)
		return ferror(r->in) ? VB_EIO : 0;
	if (r->lines == 0 && n >= 3 && memcmp(r->line, "\xef\xbb\xbf", 3) == 0) {
		memmove(r->line, r->line + 3, (size_t)n - 2);
		n -= 3;
	}
	r->lines++;
	*p = r->line;
	*len = (size_t)n;
	return 1;
}

/* The record in progress is malformed: forget it and read again from the
 * line after its first. */
static int
resync(vb_csv *r, vb_csv_rec *rec, char *err, size_t errlen,
    const char *why)
{
	vb_buf rest = { 0 };
	int rv;

	snprintf(err, errlen, "csv: %s", why);
	rec->line = r->start;
	rec->n = 0;
	if (r->raw.len > r->raw_first &&
	    vb_buf_append(&rest, r->raw.data + r->raw_first, r->raw.len - r->raw_first) != 0)
		return VB_ENOMEM;
	if (r->pending_off < r->pending.len &&
	    vb_buf_append(&rest, r->pending.data + r->pending_off,
	    r->pending.len - r->pending_off) != 0) {
		vb_buf_free(&rest);
		return VB_ENOMEM;
	}
	vb_buf_free(&r->pending);
	r->pending = rest;
	r->pending_off = 0;
	r->next_line = r->start + 1;
	r->between = 1;
	vb_buf_reset(&r->raw);
	/* The fields parsed so far belong to the bad record. */
	if (r->cur_first < r->nf) {
		r->fbuf.len = r->foff[r->cur_first];
		r->nf = r->cur_first;
	}
	if (r->pending.len > 0)
		r->eof = 0;
	if ((rv = parser_init(r)) != 0)
		return rv;
	return VB_EINVAL;
}

/* A malformed record: resynchronise, and report it -- after the records
 * the same parse completed before it, which come first in the file. */
static int
fail_record(vb_csv *r, vb_csv_rec *rec, char *err, size_t errlen,
    const char *why)
{
	int rv = resync(r, rec, err, errlen, why);
	if (rv != VB_EINVAL || r->qhead >= r->nq)
		return rv;
	r->pend = 1;
	r->pend_line = rec->line;
	snprintf(r->pend_err, sizeof(r->pend_err), "%s", err);
	return hand_out(r, rec);
}

static int
is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

int
vb_csv_next(vb_csv *r, vb_csv_rec *rec, char *err, size_t errlen)
{
	const char *s;
	size_t len;
	int rv;

	if (r->qhead < r->nq)
		return hand_out(r, rec);
	if (r->pend) {
		r->pend = 0;
		snprintf(err, errlen, "%s", r->pend_err);
		rec->line = r->pend_line;
		rec->n = 0;
		return VB_EINVAL;
	}
	compact(r);
	for (;;) {
		if (r->eof)
			return 0;
		if ((rv = get_line(r, &s, &len)) < 0)
			return rv;
		if (rv == 0) {
			/* The end: finish a last record without a newline,
			 * or find a quote never closed. */
			r->eof = 1;
			if (r->between)
				return 0;
			if (csv_fini(&r->p, on_field, on_record, r) != 0)
				return fail_record(r, rec, err, errlen,
				    "a quoted field is never closed (missing \")");
			if (r->cb_error)
				return VB_ENOMEM;
			if (parser_init(r) != 0)
				return VB_ENOMEM;
			r->between = 1;
			if (r->qhead < r->nq)
				return hand_out(r, rec);
			return 0;
		}
		if (r->between) {
			if (is_blank(s, len)) {
				r->next_line++;
				continue;
			}
			r->between = 0;
			r->start = r->next_line;
			r->cur_first = r->nf;
			vb_buf_reset(&r->raw);
			r->raw_first = len;
		}
		r->next_line++;
		if (vb_buf_append(&r->raw, s, len) != 0)
			return VB_ENOMEM;
		if (r->raw.len > r->max_record) {
			char why[128];
			snprintf(why, sizeof(why),
			    "record longer than %zu bytes (a quote that is never closed?)",
			    r->max_record);
			return fail_record(r, rec, err, errlen, why);
		}
		if (csv_parse(&r->p, s, len, on_field, on_record, r) != len) {
			if (csv_error(&r->p) == CSV_ENOMEM)
				return VB_ENOMEM;
			return fail_record(r, rec, err, errlen,
			    "malformed quoting (a \" inside an unquoted field, or text after a closing \")");
		}
		if (r->cb_error)
			return VB_ENOMEM;
		if (r->qhead < r->nq)
			return hand_out(r, rec);
	}
}
