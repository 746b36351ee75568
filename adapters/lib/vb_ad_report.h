/* vb_ad_report: how an adapter says what went wrong, in the contract's
 * form: "vb-sales: FILE:LINE: field: what is wrong" on stderr, and the same
 * lines copied to a second stream when one is set (the errors file that
 * --watch leaves beside a failed import). */
#ifndef VB_AD_REPORT_H
#define VB_AD_REPORT_H

#include <stdio.h>

typedef struct vb_ad_report {
	const char *prog; /* borrowed; outlives the report */
	FILE *out;        /* borrowed; stderr in the programs */
	FILE *copy;       /* borrowed; NULL: no copy */
} vb_ad_report;

/* Nothing to free. */
void vb_ad_report_init(vb_ad_report *r, const char *prog, FILE *out);

/* "prog: file:line: message" (line 0: "prog: file: message"). */
void vb_ad_reportf(const vb_ad_report *r, const char *file, unsigned long line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "prog: message". */
void vb_ad_report_msg(const vb_ad_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
