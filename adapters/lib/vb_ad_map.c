#include "vb_ad_map.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vb_buf.h"
#include "vb_error.h"

const vb_ad_option vb_ad_common_options[] = {
	{ "id_prefix", NULL,
	    "first part of every event id: <id_prefix>:<record>:<what>" },
	{ "timezone", "UTC", "zone of times written without an offset" },
	{ "date_order", "ymd",
	    "ymd (2010-12-01), dmy (01/12/2010) or mdy (12/01/2010)" },
	{ "encoding", "utf-8", "utf-8, latin1 or cp1252" },
	{ "delimiter", ",", "field separator: one character, or \"tab\"" },
	{ "customer_strip_suffix", NULL,
	    "removed from the end of customer ids (\".0\")" },
	{ "customer_prefix", NULL,
	    "put before customer ids, to keep one silo's ids apart (not with --customer-map)" },
	{ NULL, NULL, NULL },
};

typedef struct attr {
	char *name, *column;
} attr;

struct vb_ad_map {
	const vb_ad_field *fields;
	const vb_ad_option *options;
	size_t nfields, nopts;
	char **column; /* per field; NULL: not named */
	char **value;  /* per option (silo's, then common); NULL: default */
	attr *attrs;
	size_t nattrs;
};

static size_t
count_fields(const vb_ad_field *f)
{
	size_t n = 0;
	while (f[n].name)
		n++;
	return n;
}

static size_t
count_options(const vb_ad_option *o)
{
	size_t n = 0;
	while (o && o[n].name)
		n++;
	return n;
}

int
vb_ad_map_new(const vb_ad_field *fields, const vb_ad_option *options,
    vb_ad_map **out)
{
	vb_ad_map *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return VB_ENOMEM;
	m->fields = fields;
	m->options = options;
	m->nfields = count_fields(fields);
	m->nopts = count_options(options) + count_options(vb_ad_common_options);
	m->column = calloc(m->nfields + 1, sizeof(*m->column));
	m->value = calloc(m->nopts + 1, sizeof(*m->value));
	if (m->column == NULL || m->value == NULL) {
		vb_ad_map_free(m);
		return VB_ENOMEM;
	}
	*out = m;
	return VB_OK;
}

void
vb_ad_map_free(vb_ad_map *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; m->column && i < m->nfields; i++)
		free(m->column[i]);
	for (size_t i = 0; m->value && i < m->nopts; i++)
		free(m->value[i]);
	for (size_t i = 0; i < m->nattrs; i++) {
		free(m->attrs[i].name);
		free(m->attrs[i].column);
	}
	free(m->column);
	free(m->value);
	free(m->attrs);
	free(m);
}

const char *
vb_ad_map_column(const vb_ad_map *m, int field)
{
	return m->column[field];
}

int
vb_ad_map_field(const vb_ad_map *m, const char *name)
{
	for (size_t i = 0; i < m->nfields; i++)
		if (strcmp(m->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Option i: the silo's first, then the common ones. */
static const vb_ad_option *
option_at(const vb_ad_map *m, size_t i)
{
	size_t own = count_options(m->options);
	return i < own ? &m->options[i] : &vb_ad_common_options[i - own];
}

static long
option_index(const vb_ad_map *m, const char *name)
{
	for (size_t i = 0; i < m->nopts; i++)
		if (strcmp(option_at(m, i)->name, name) == 0)
			return (long)i;
	return -1;
}

const char *
vb_ad_map_option(const vb_ad_map *m, const char *name)
{
	long i = option_index(m, name);
	if (i < 0)
		return NULL;
	return m->value[i] ? m->value[i] : option_at(m, (size_t)i)->def;
}

static int
replace(char **slot, const char *value)
{
	char *v = strdup(value);
	if (v == NULL)
		return VB_ENOMEM;
	free(*slot);
	*slot = v;
	return VB_OK;
}

static int
attr_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return 0;
	return 1;
}

int
vb_ad_map_set(vb_ad_map *m, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	if (strcmp(section, "columns") == 0) {
		int f = vb_ad_map_field(m, key);
		if (f < 0) {
			char known[512] = "";
			for (size_t i = 0; i < m->nfields; i++) {
				size_t n = strlen(known);
				snprintf(known + n, sizeof(known) - n, "%s%s",
				    i ? ", " : "", m->fields[i].name);
			}
			snprintf(err, errlen, "%s: unknown field (fields: %s)",
			    key, known);
			return VB_EINVAL;
		}
		if (value[0] == '\0') {
			snprintf(err, errlen, "%s: empty column name", key);
			return VB_EINVAL;
		}
		return replace(&m->column[f], value);
	}
	if (strcmp(section, "attributes") == 0) {
		if (!attr_name_ok(key)) {
			snprintf(err, errlen,
			    "%s: an attribute name is letters, digits, '_', '-' or '.'",
			    key);
			return VB_EINVAL;
		}
		if (value[0] == '\0') {
			snprintf(err, errlen, "%s: empty column name", key);
			return VB_EINVAL;
		}
		for (size_t i = 0; i < m->nattrs; i++)
			if (strcmp(m->attrs[i].name, key) == 0)
				return replace(&m->attrs[i].column, value);
		attr *a = realloc(m->attrs, (m->nattrs + 1) * sizeof(*a));
		if (a == NULL)
			return VB_ENOMEM;
		m->attrs = a;
		a[m->nattrs].name = strdup(key);
		a[m->nattrs].column = strdup(value);
		if (a[m->nattrs].name == NULL || a[m->nattrs].column == NULL) {
			free(a[m->nattrs].name);
			free(a[m->nattrs].column);
			return VB_ENOMEM;
		}
		m->nattrs++;
		return VB_OK;
	}
	if (strcmp(section, "options") == 0) {
		long i = option_index(m, key);
		if (i < 0) {
			char known[768] = "";
			for (size_t k = 0; k < m->nopts; k++) {
				size_t n = strlen(known);
				snprintf(known + n, sizeof(known) - n, "%s%s",
				    k ? ", " : "", option_at(m, k)->name);
			}
			snprintf(err, errlen,
			    "%s: unknown option (options: %s)", key, known);
			return VB_EINVAL;
		}
		return replace(&m->value[i], value);
	}
	snprintf(err, errlen,
	    "[%s]: unknown section (columns, attributes or options)", section);
	return VB_EINVAL;
}

/* ---- INI text ---- */

typedef struct load_ctx {
	vb_ad_map *m;
	FILE *f;          /* a file, or */
	const char *text; /* text */
	size_t off;
	int line;
	int err_line;
	char why[256];
	int oom;
} load_ctx;

/* inih's reader: counts lines (Debian's inih does not tell the handler)
 * and refuses a line too long for inih's buffer, which it would split. */
static char *
read_line(char *str, int num, void *stream)
{
	load_ctx *lc = stream;
	size_t n = 0;

	if (lc->f) {
		if (fgets(str, num, lc->f) == NULL)
			return NULL;
		n = strlen(str);
	} else {
		const char *s = lc->text + lc->off;
		if (*s == '\0')
			return NULL;
		while (s[n] && s[n] != '\n' && n + 1 < (size_t)num - 1)
			n++;
		if (s[n] == '\n')
			n++;
		memcpy(str, s, n);
		str[n] = '\0';
		lc->off += n;
	}
	lc->line++;
	if (n == (size_t)num - 1 && str[n - 1] != '\n') {
		if (lc->err_line == 0) {
			lc->err_line = lc->line;
			snprintf(lc->why, sizeof(lc->why),
			    "line longer than %d characters", num - 2);
		}
		if (lc->f) {
			int ch;
			while ((ch = fgetc(lc->f)) != EOF && ch != '\n')
				;
		} else {
			while (lc->text[lc->off] && lc->text[lc->off++] != '\n')
				;
		}
		str[0] = '\0';
	}
	return str;
}

static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
	load_ctx *lc = user;
	char why[sizeof(lc->why)];
	int rv = vb_ad_map_set(lc->m, section, name, value, why, sizeof(why));
	if (rv == 0)
		return 1;
	if (lc->err_line == 0) {
		lc->err_line = lc->line;
		snprintf(lc->why, sizeof(lc->why), "%s",
		    rv == VB_ENOMEM ? "out of memory" : why);
		lc->oom = rv == VB_ENOMEM;
	}
	return 0;
}

static int
load(load_ctx *lc, const char *name, char *err, size_t errlen)
{
	int rv = ini_parse_stream(read_line, lc, on_ini, lc);
	if (rv < 0) {
		snprintf(err, errlen, "%s: cannot read it", name);
		return VB_EIO;
	}
	if (lc->err_line != 0 && (rv == 0 || lc->err_line <= rv)) {
		snprintf(err, errlen, "%s:%d: %s", name, lc->err_line, lc->why);
		return lc->oom ? VB_ENOMEM : VB_EINVAL;
	}
	if (rv > 0) {
		snprintf(err, errlen,
		    "%s:%d: syntax error (expected [section] or name = value)",
		    name, rv);
		return VB_EINVAL;
	}
	return VB_OK;
}

int
vb_ad_map_load_string(vb_ad_map *m, const char *name, const char *text,
    char *err, size_t errlen)
{
	load_ctx lc = { .m = m, .text = text };
	return load(&lc, name, err, errlen);
}

int
vb_ad_map_load_file(vb_ad_map *m, const char *path, char *err, size_t errlen)
{
	load_ctx lc = { .m = m };
	int rv;
	if ((lc.f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VB_EINVAL;
	}
	rv = load(&lc, path, err, errlen);
	fclose(lc.f);
	return rv;
}

void
vb_ad_map_print(const vb_ad_map *m, FILE *out)
{
	fprintf(out, "[columns]\n");
	for (size_t i = 0; i < m->nfields; i++) {
		if (m->column[i])
			fprintf(out, "%s = %s\n", m->fields[i].name,
			    m->column[i]);
		else
			fprintf(out, "; %s = %s%s\n", m->fields[i].name,
			    m->fields[i].name,
			    m->fields[i].required
			        ? "    (required: a column of this name)"
			        : "    (optional)");
	}
	if (m->nattrs) {
		fprintf(out, "[attributes]\n");
		for (size_t i = 0; i < m->nattrs; i++)
			fprintf(out, "%s = %s\n", m->attrs[i].name,
			    m->attrs[i].column);
	}
	fprintf(out, "[options]\n");
	for (size_t i = 0; i < m->nopts; i++) {
		const char *v =
		    m->value[i] ? m->value[i] : option_at(m, i)->def;
		if (v)
			fprintf(out, "%s = %s\n", option_at(m, i)->name, v);
		else
			fprintf(out, "; %s =\n", option_at(m, i)->name);
	}
}

int
vb_ad_list_match(const char *list, const char *value)
{
	size_t vlen = strlen(value);
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *item = vb_ad_trim(p, &n);
		if (n == 0) {
			/* an empty item matches nothing */
		} else if (item[n - 1] == '*') {
			if (vlen >= n - 1 &&
			    strncasecmp(item, value, n - 1) == 0)
				return 1;
		} else if (n == vlen && strncasecmp(item, value, n) == 0) {
			return 1;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

/* ---- binding ---- */

struct vb_ad_bind {
	const vb_ad_map *m;
	vb_ad_encoding enc;
	size_t ncols;
	char **header; /* the header's names, UTF-8 */
	long *fcol;    /* per field: column index or -1 */
	long *acol;    /* per attribute */
	vb_buf arena;  /* the current row's values */
	size_t *off;   /* per field, then per attribute: offset in arena */
	const char **value, **attr;
};

void
vb_ad_bind_free(vb_ad_bind *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; b->header && i < b->ncols; i++)
		free(b->header[i]);
	free(b->header);
	free(b->fcol);
	free(b->acol);
	free(b->off);
	free(b->value);
	free(b->attr);
	vb_buf_free(&b->arena);
	free(b);
}

/* The column named name: exact first, then ignoring case. */
static long
find_column(const vb_ad_bind *b, const char *name, int *twice)
{
	long found = -1;
	*twice = 0;
	for (int pass = 0; pass < 2 && found < 0; pass++) {
		for (size_t i = 0; i < b->ncols; i++) {
			int eq = pass == 0
			    ? strcmp(b->header[i], name) == 0
			    : strcasecmp(b->header[i], name) == 0;
			if (!eq)
				continue;
			if (found >= 0)
				*twice = 1;
			else
				found = (long)i;
		}
	}
	return found;
}

int
vb_ad_bind_new(const vb_ad_map *m, const vb_csv_rec *header,
    vb_ad_encoding enc, vb_ad_bind **out, char *err, size_t errlen)
{
	vb_ad_bind *b = calloc(1, sizeof(*b));
	size_t nvals = m->nfields + m->nattrs;
	int rv = VB_ENOMEM, twice;

	if (b == NULL)
		return VB_ENOMEM;
	b->m = m;
	b->enc = enc;
	b->ncols = header->n;
	b->header = calloc(header->n, sizeof(*b->header));
	b->fcol = calloc(m->nfields + 1, sizeof(*b->fcol));
	b->acol = calloc(m->nattrs + 1, sizeof(*b->acol));
	b->off = calloc(nvals + 1, sizeof(*b->off));
	b->value = calloc(m->nfields + 1, sizeof(*b->value));
	b->attr = calloc(m->nattrs + 1, sizeof(*b->attr));
	if (!b->header || !b->fcol || !b->acol || !b->off || !b->value ||
	    !b->attr)
		goto fail;
	for (size_t i = 0; i < header->n; i++) {
		vb_buf t = { 0 };
		size_t bad, n = header->len[i];
		const char *s = vb_ad_trim(header->field[i], &n);
		rv = vb_ad_text_utf8(s, n, enc, &t, &bad);
		if (rv == VB_EINVAL) {
			snprintf(err, errlen,
			    "header: column %zu: not valid %s (byte 0x%02x at offset %zu)",
			    i + 1, enc == VB_AD_UTF8 ? "UTF-8" : "text",
			    (unsigned char)s[bad], bad);
			goto fail;
		}
		if (rv != 0)
			goto fail;
		b->header[i] = t.data ? (char *)t.data : strdup("");
		if (b->header[i] == NULL) {
			rv = VB_ENOMEM;
			goto fail;
		}
	}
	for (size_t f = 0; f < m->nfields; f++) {
		const char *name =
		    m->column[f] ? m->column[f] : m->fields[f].name;
		long c = find_column(b, name, &twice);
		b->fcol[f] = c;
		if (c >= 0 && twice) {
			snprintf(err, errlen,
			    "column \"%s\" (%s) appears more than once in the header",
			    name, m->fields[f].name);
			rv = VB_EINVAL;
			goto fail;
		}
		if (c >= 0 || (!m->column[f] && !m->fields[f].required))
			continue;
		if (m->column[f])
			snprintf(err, errlen,
			    "column \"%s\" (%s) is not in the header", name,
			    m->fields[f].name);
		else
			snprintf(err, errlen,
			    "no column for %s (%s): the header has no \"%s\"; "
			    "name its column with --column %s=COLUMN or a mapping",
			    m->fields[f].name, m->fields[f].help, name,
			    m->fields[f].name);
		rv = VB_EINVAL;
		goto fail;
	}
	for (size_t a = 0; a < m->nattrs; a++) {
		long c = find_column(b, m->attrs[a].column, &twice);
		if (c < 0) {
			snprintf(err, errlen,
			    "column \"%s\" (attribute %s) is not in the header",
			    m->attrs[a].column, m->attrs[a].name);
			rv = VB_EINVAL;
			goto fail;
		}
		b->acol[a] = c;
	}
	*out = b;
	return VB_OK;
fail:
	vb_ad_bind_free(b);
	return rv;
}

static int
convert(vb_ad_bind *b, const vb_csv_rec *rec, long col, size_t *off,
    char *err, size_t errlen)
{
	size_t n = rec->len[col], bad = 0;
	const char *s = vb_ad_trim(rec->field[col], &n);
	int rv;

	*off = b->arena.len;
	rv = vb_ad_text_utf8(s, n, b->enc, &b->arena, &bad);
	if (rv == VB_EINVAL) {
		if (s[bad] == '\0')
			snprintf(err, errlen, "%s: NUL byte at offset %zu",
			    b->header[col], bad);
		else if (b->enc == VB_AD_UTF8)
			snprintf(err, errlen,
			    "%s: not valid UTF-8 (byte 0x%02x at offset %zu; "
			    "--option encoding=latin1 or cp1252 reads other exports)",
			    b->header[col], (unsigned char)s[bad], bad);
		else
			snprintf(err, errlen,
			    "%s: byte 0x%02x at offset %zu is no character in %s",
			    b->header[col], (unsigned char)s[bad], bad,
			    b->enc == VB_AD_CP1252 ? "cp1252" : "latin1");
		return rv;
	}
	if (rv != 0)
		return rv;
	return vb_buf_append_byte(&b->arena, 0);
}

int
vb_ad_bind_row(vb_ad_bind *b, const vb_csv_rec *rec, vb_ad_row *row,
    char *err, size_t errlen)
{
	const vb_ad_map *m = b->m;
	int rv;

	if (rec->n != b->ncols) {
		snprintf(err, errlen, "csv: %zu field%s; the header has %zu",
		    rec->n, rec->n == 1 ? "" : "s", b->ncols);
		return VB_EINVAL;
	}
	vb_buf_reset(&b->arena);
	for (size_t f = 0; f < m->nfields; f++)
		if (b->fcol[f] >= 0 &&
		    (rv = convert(b, rec, b->fcol[f], &b->off[f], err,
		         errlen)) != 0)
			return rv;
	for (size_t a = 0; a < m->nattrs; a++)
		if ((rv = convert(b, rec, b->acol[a], &b->off[m->nfields + a],
		         err, errlen)) != 0)
			return rv;
	/* Pointers only now: the arena may have moved while it grew. */
	for (size_t f = 0; f < m->nfields; f++)
		b->value[f] = b->fcol[f] >= 0
		    ? (const char *)b->arena.data + b->off[f]
		    : NULL;
	for (size_t a = 0; a < m->nattrs; a++)
		b->attr[a] =
		    (const char *)b->arena.data + b->off[m->nfields + a];
	row->line = rec->line;
	row->value = b->value;
	row->attr = b->attr;
	return VB_OK;
}

const char *
vb_ad_bind_column(const vb_ad_bind *b, int f)
{
	if (b->fcol[f] >= 0)
		return b->header[b->fcol[f]];
	return b->m->column[f] ? b->m->column[f] : b->m->fields[f].name;
}

size_t
vb_ad_bind_nattrs(const vb_ad_bind *b)
{
	return b->m->nattrs;
}

const char *
vb_ad_bind_attr_name(const vb_ad_bind *b, size_t i)
{
	return b->m->attrs[i].name;
}
