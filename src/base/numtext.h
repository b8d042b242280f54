/* Floating-point numbers to and from text in the C locale.
 *
 * printf's %g and strtod() follow the program's LC_NUMERIC: after a
 * setlocale(LC_ALL, "") in a German or French locale they write and read
 * "2,5". Wire formats (PostgreSQL's text forms, COPY) want "2.5" whatever
 * the locale, so cio converts through these, which use a C locale object
 * of their own and never touch the program's or the thread's setting. */
#ifndef CIO_BASE_NUMTEXT_H
#define CIO_BASE_NUMTEXT_H

#include <stddef.h>

/* snprintf(buf, size, "%.*g", prec, v) with '.' as the decimal point.
 * Returns snprintf's result, or -ENOMEM when the C locale object could not
 * be made. */
int cio__fmt_g(char *buf, size_t size, int prec, double v);

/* strtod() and strtof() reading '.' as the decimal point. When the C locale
 * object could not be made, nothing is read: *end = s and 0 is returned. */
double cio__strtod_c(const char *s, char **end);
float cio__strtof_c(const char *s, char **end);

#endif
