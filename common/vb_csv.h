/* vb_csv: CSV records from an export or an audience file, through libcsv,
 * each with the physical line it starts on and the bytes it was read from.
 *
 * Real exports put commas, quotes and line breaks inside quoted fields, mix
 * CRLF and LF, and now and then break the quoting.  Parsing is strict (a
 * quote inside an unquoted field, text after a closing quote, a quote never
 * closed): a malformed record is reported with the line it starts on, and
 * reading resumes at the line after that start, so one bad quote costs one
 * record, not the rest of the file.  Lines of white space between records
 * are skipped; a UTF-8 byte order mark before the first record is dropped.
 * Fields are returned as bytes: the character set is vb_ad_text's job. */
#ifndef VB_CSV_H
#define VB_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct vb_csv vb_csv;

typedef struct vb_csv_opts {
	unsigned char delim; /* field separator; 0: ',' */
	size_t max_record;   /* bytes; 0: 1 MiB.  Longer is malformed. */
} vb_csv_opts;

/* One record.  Everything it points to is owned by the reader and valid
 * until the next vb_csv_next or vb_csv_close. */
typedef struct vb_csv_rec {
	unsigned long line;        /* the physical line (from 1) it starts on */
	size_t n;                  /* fields, at least 1 */
	const char *const *field;  /* field[i]: len[i] bytes and a NUL */
	const size_t *len;
	const char *raw;           /* the physical lines the record was read */
	size_t raw_len;            /* from, with their line ends, unchanged */
} vb_csv_rec;

/* A reader of in, which is borrowed: it must stay open until
 * vb_csv_close, which does not close it.  opts may be NULL.
 * *out: vb_csv_close.  0 or VB_ENOMEM. */
int vb_csv_open(FILE *in, const vb_csv_opts *opts, vb_csv **out);

/* Read the next record into *rec.  Returns
 *   1          a record;
 *   0          the end of the input;
 *   VB_EINVAL  a malformed record starting at rec->line, with the reason in
 *              err ("csv: ..."); call again for the records after it;
 *   VB_EIO     a read error (errno is set), VB_ENOMEM. */
int vb_csv_next(vb_csv *r, vb_csv_rec *rec, char *err, size_t errlen);

/* The number of physical lines read so far. */
unsigned long vb_csv_lines(const vb_csv *r);

/* Accepts NULL. */
void vb_csv_close(vb_csv *r);

#endif
