#include "vb_report.h"

#include <stdarg.h>

void
vb_report_init(vb_report *r, const char *prog, FILE *out)
{
	r->prog = prog;
	r->out = out;
	r->copy = NULL;
}

static void
emit(FILE *f, const char *prog, const char *file, unsigned long line,
    const char *fmt, va_list ap)
{
	if (f == NULL)
		return;
	if (file && line)
		fprintf(f, "%s: %s:%lu: ", prog, file, line);
	else if (file)
		fprintf(f, "%s: %s: ", prog, file);
	else
		fprintf(f, "%s: ", prog);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
}

void
vb_reportf(const vb_report *r, const char *file, unsigned long line,
    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(r->out, r->prog, file, line, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	emit(r->copy, r->prog, file, line, fmt, ap);
	va_end(ap);
}

void
vb_report_msg(const vb_report *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(r->out, r->prog, NULL, 0, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	emit(r->copy, r->prog, NULL, 0, fmt, ap);
	va_end(ap);
}
