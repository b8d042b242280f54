/* Shared by the HTTP test files: the nginx started once per test program,
 * and small helpers. */
#ifndef CIO_TESTS_HTTP_COMMON_H
#define CIO_TESTS_HTTP_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cio/http.h>

#include "fixture.h"
#include "helpers.h"
#include "peer.h"

static struct nginx ng;

static int nginx_setup(void **state)
{
    (void)state;
    return nginx_start(&ng, true);
}

static int nginx_teardown(void **state)
{
    (void)state;
    nginx_stop(&ng);
    return 0;
}

/* A URL on the HTTP/1.1 nginx. */
static inline const char *url(const char *path)
{
    static char buf[8][256];
    static int i;
    char *b = buf[i++ & 7];
    snprintf(b, sizeof buf[0], "%s%s", ng.base, path);
    return b;
}

#endif
