#include "numtext.h"

#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    /* glibc hands out its static C locale for this request: no allocation,
     * nothing to free at exit. */
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t get_c_locale(void)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale;
}

int cio__fmt_g(char *buf, size_t size, int prec, double v)
{
    locale_t c = get_c_locale();
    if (!c)
        return -ENOMEM;
    /* There is no snprintf_l: switch this thread's locale around the call. */
    locale_t saved = uselocale(c);
    int n = snprintf(buf, size, "%.*g", prec, v);
    uselocale(saved);
    return n;
}

double cio__strtod_c(const char *s, char **end)
{
    locale_t c = get_c_locale();
    if (!c) {
        *end = (char *)s;
        return 0;
    }
    return strtod_l(s, end, c);
}

float cio__strtof_c(const char *s, char **end)
{
    locale_t c = get_c_locale();
    if (!c) {
        *end = (char *)s;
        return 0;
    }
    return strtof_l(s, end, c);
}
