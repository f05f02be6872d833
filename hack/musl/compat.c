/*
 * Debian's libseccomp.a is compiled against glibc with _FORTIFY_SOURCE; the
 * only glibc-only symbol it uses is __fprintf_chk (in seccomp_export_pfc,
 * which rt never calls). musl has every other function it needs.
 */
#include <stdarg.h>
#include <stdio.h>

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	int r;

	(void)flag;
	va_start(ap, fmt);
	r = vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}
