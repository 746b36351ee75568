/* vb_report: how a program says what went wrong with its input, in the
 * contract's form: "vb-sales: FILE:LINE: field: what is wrong" on stderr, and the same
 * lines copied to a second stream when one is set (the errors file that
 * --watch leaves beside a failed import). */
#ifndef VB_REPORT_H
#define VB_REPORT_H

#include <stdio.h>

typedef struct vb_report {
	const char *prog; /* borrowed; outlives the report */
	FILE *out;        /* borrowed; stderr in the programs */
	FILE *copy;       /* borrowed; NULL: no copy */
} vb_report;

/* Nothing to free. */
void vb_report_init(vb_report *r, const char *prog, FILE *out);

/* "prog: file:line: message" (line 0: "prog: file: message"). */
void vb_reportf(const vb_report *r, const char *file, unsigned long line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "prog: message". */
void vb_report_msg(const vb_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
