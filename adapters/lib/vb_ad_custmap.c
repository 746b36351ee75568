#include "vb_ad_custmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_csv.h"
#include "vb_ad_dict.h"
#include "vb_ad_text.h"
#include "vb_error.h"
#include "vb_event.h"

struct vb_ad_custmap {
	vb_ad_dict *ids; /* silo id -> index in customer */
	char **customer;
	size_t n, cap;
};

void
vb_ad_custmap_free(vb_ad_custmap *m)
{
	if (m == NULL)
		return;
	vb_ad_dict_free(m->ids);
	for (size_t i = 0; i < m->n; i++)
		free(m->customer[i]);
	free(m->customer);
	free(m);
}

size_t
vb_ad_custmap_count(const vb_ad_custmap *m)
{
	return m->n;
}

const char *
vb_ad_custmap_get(const vb_ad_custmap *m, const char *silo_id)
{
	size_t i;
	return vb_ad_dict_get(m->ids, silo_id, &i) ? m->customer[i] : NULL;
}

/* Field i of rec, trimmed, checked as UTF-8, into t (reset first). */
static int
field(const vb_csv_rec *rec, size_t i, vb_buf *t)
{
	size_t n = rec->len[i];
	const char *s = vb_ad_trim(rec->field[i], &n);
	vb_buf_reset(t);
	return vb_ad_text_utf8(s, n, VB_AD_UTF8, t, NULL);
}

static int
add(vb_ad_custmap *m, const vb_buf *key, const vb_buf *cust, char *why,
    size_t whylen)
{
	size_t old;
	int rv = vb_ad_dict_put(m->ids, (const char *)key->data, m->n, &old);
	if (rv < 0)
		return rv;
	if (rv == 0) {
		if (strcmp(m->customer[old], (const char *)cust->data) == 0)
			return VB_OK;
		snprintf(why, whylen,
		    "\"%.64s\" is mapped to \"%.64s\" and to \"%.64s\"",
		    (const char *)key->data, m->customer[old],
		    (const char *)cust->data);
		return VB_EINVAL;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		char **c = realloc(m->customer, cap * sizeof(*c));
		if (c == NULL)
			return VB_ENOMEM;
		m->customer = c;
		m->cap = cap;
	}
	if ((m->customer[m->n] = strdup((const char *)cust->data)) == NULL)
		return VB_ENOMEM;
	m->n++;
	return VB_OK;
}

int
vb_ad_custmap_load(const char *path, vb_ad_custmap **out, char *err,
    size_t errlen)
{
	vb_ad_custmap *m = NULL;
	vb_csv *csv = NULL;
	vb_csv_rec rec;
	vb_buf key = { 0 }, cust = { 0 };
	char why[256];
	FILE *f;
	int rv, header = 1;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VB_EIO;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    vb_ad_dict_new(&m->ids) != 0 ||
	    vb_csv_open(f, NULL, &csv) != 0) {
		rv = VB_ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while ((rv = vb_csv_next(csv, &rec, why, sizeof(why))) != 0) {
		if (rv == VB_EINVAL)
			goto bad;
		if (rv < 0) {
			snprintf(err, errlen, "%s: %s", path,
			    rv == VB_EIO ? strerror(errno) : vb_strerror(rv));
			goto fail;
		}
		if (header) {
			header = 0;
			continue;
		}
		if (rec.n != 2) {
			snprintf(why, sizeof(why),
			    "%zu fields; expected 2: silo id, customer id",
			    rec.n);
			rv = VB_EINVAL;
			goto bad;
		}
		if (field(&rec, 0, &key) != 0 || field(&rec, 1, &cust) != 0) {
			snprintf(why, sizeof(why), "not valid UTF-8");
			rv = VB_EINVAL;
			goto bad;
		}
		if (key.len == 0 || cust.len == 0) {
			snprintf(why, sizeof(why), "%s is empty",
			    key.len == 0 ? "the silo id" : "the customer id");
			rv = VB_EINVAL;
			goto bad;
		}
		if (cust.len > VB_CUSTOMER_MAX) {
			snprintf(why, sizeof(why),
			    "customer id of %zu bytes; at most %d", cust.len,
			    VB_CUSTOMER_MAX);
			rv = VB_EINVAL;
			goto bad;
		}
		if ((rv = add(m, &key, &cust, why, sizeof(why))) == VB_EINVAL)
			goto bad;
		if (rv != 0) {
			snprintf(err, errlen, "%s: %s", path, vb_strerror(rv));
			goto fail;
		}
	}
	if (header) {
		snprintf(err, errlen,
		    "%s: empty: expected a header line, then silo id,customer id lines",
		    path);
		rv = VB_EINVAL;
		goto fail;
	}
	vb_csv_close(csv);
	fclose(f);
	vb_buf_free(&key);
	vb_buf_free(&cust);
	*out = m;
	return VB_OK;
bad:
	snprintf(err, errlen, "%s:%lu: %s", path, rec.line, why);
fail:
	vb_csv_close(csv);
	fclose(f);
	vb_buf_free(&key);
	vb_buf_free(&cust);
	vb_ad_custmap_free(m);
	return rv;
}
