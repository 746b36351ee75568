/* vb_ad_map: which column of an export holds what a silo's adapter needs.
 *
 * A silo declares its fields ("case", "customer", "opened", ...) and its
 * options.  A mapping says, for each field, the name of the column that
 * holds it, which further columns to carry as event attributes, and the
 * options.  Mappings are INI text, read from a built-in preset, a mapping
 * file, and command-line options, in that order (later wins):
 *
 *     [columns]
 *     case = Complaint ID
 *     [attributes]
 *     company = Company
 *     [options]
 *     id_prefix = cfpb
 *
 * A field the mapping does not name is looked for in a column of its own
 * name.  Bound to a file's header, the mapping turns each record into the
 * field values, as UTF-8 and without surrounding white space. */
#ifndef VB_AD_MAP_H
#define VB_AD_MAP_H

#include <stddef.h>

#include "vb_csv.h"
#include "vb_ad_text.h"

typedef struct vb_ad_field {
	const char *name; /* the key in [columns] and --column */
	const char *help; /* what it is, for --help and messages */
	int required;     /* the import cannot do without it */
} vb_ad_field;

typedef struct vb_ad_option {
	const char *name; /* the key in [options] and --option */
	const char *def;  /* the default; NULL: unset */
	const char *help;
} vb_ad_option;

/* The options every mapping has, besides a silo's own: id_prefix,
 * timezone, date_order, encoding, delimiter, customer_strip_suffix,
 * customer_prefix. */
extern const vb_ad_option vb_ad_common_options[];

typedef struct vb_ad_map vb_ad_map;

/* A mapping for a silo's fields and options (both arrays end with a NULL
 * name; borrowed: they must outlive the map).  *out: vb_ad_map_free. */
int vb_ad_map_new(const vb_ad_field *fields, const vb_ad_option *options,
    vb_ad_map **out);
void vb_ad_map_free(vb_ad_map *m);

/* Read INI text (name is how errors call it) or a file.  On VB_EINVAL err
 * holds "NAME:LINE: what is wrong". */
int vb_ad_map_load_string(vb_ad_map *m, const char *name, const char *text,
    char *err, size_t errlen);
int vb_ad_map_load_file(vb_ad_map *m, const char *path, char *err,
    size_t errlen);

/* Set one entry: section "columns", "attributes" or "options".  Copied.
 * On VB_EINVAL err says what is wrong (without a place). */
int vb_ad_map_set(vb_ad_map *m, const char *section, const char *key,
    const char *value, char *err, size_t errlen);

/* An option's value (the default when not set; NULL when it has none).
 * Owned by m, valid until it is set again. */
const char *vb_ad_map_option(const vb_ad_map *m, const char *name);

/* The column a field is mapped to by name, or NULL when the mapping does
 * not name one (the field's own name is then looked for).  Owned by m. */
const char *vb_ad_map_column(const vb_ad_map *m, int field);

/* The index of a field by name, or -1. */
int vb_ad_map_field(const vb_ad_map *m, const char *name);

/* Write the mapping as INI text (what --show-mapping prints). */
void vb_ad_map_print(const vb_ad_map *m, FILE *out);

/* Whether value is in list, a comma-separated list of values compared
 * without regard to case; an item ending in '*' matches every value that
 * starts with the rest ("Closed*"). */
int vb_ad_list_match(const char *list, const char *value);

/* ---- a mapping bound to one file's header ---- */

typedef struct vb_ad_bind vb_ad_bind;

/* Bind m to a header record.  Every column the mapping names must be in it
 * and every required field must have a column.  On VB_EINVAL err names the
 * column and the field: `column "Complaint ID" (case) is not in the
 * header`.  m must outlive *out (vb_ad_bind_free). */
int vb_ad_bind_new(const vb_ad_map *m, const vb_csv_rec *header,
    vb_ad_encoding enc, vb_ad_bind **out, char *err, size_t errlen);
void vb_ad_bind_free(vb_ad_bind *b);

/* One record seen through the mapping.  Owned by the bind, valid until its
 * next vb_ad_bind_row. */
typedef struct vb_ad_row {
	unsigned long line;       /* where the record starts */
	const char *const *value; /* per field; NULL: no such column */
	const char *const *attr;  /* per attribute; "" when empty */
} vb_ad_row;

/* Fill *row from rec.  VB_EINVAL when the record has another number of
 * fields than the header, or a mapped field that is not text in the
 * encoding; err says which ("Consumer complaint narrative: not valid
 * UTF-8 ..."). */
int vb_ad_bind_row(vb_ad_bind *b, const vb_csv_rec *rec, vb_ad_row *row,
    char *err, size_t errlen);

/* The header's name of field f's column (the field's own name when it has
 * none), for messages. */
const char *vb_ad_bind_column(const vb_ad_bind *b, int f);

/* Attributes: how many, and the name of the i-th. */
size_t vb_ad_bind_nattrs(const vb_ad_bind *b);
const char *vb_ad_bind_attr_name(const vb_ad_bind *b, size_t i);

#endif
