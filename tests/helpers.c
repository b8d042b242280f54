#include "helpers.h"

#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void (*test_lookup_hook)(const char *node);

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

/* A test run on io_uring (its CTest twin sets CIO_BACKEND) where the kernel
 * or a sandbox refuses io_uring is skipped (exit 77, the twins'
 * SKIP_RETURN_CODE), not failed: the epoll run still covers the code. */
__attribute__((constructor)) static void skip_without_io_uring(void)
{
    const char *b = getenv("CIO_BACKEND");
    if (!b || strcmp(b, "io_uring") != 0)
        return;
    cio_run_options o = {.backend = CIO_BACKEND_IO_URING, .no_signal_handling = true};
    int rc = cio_run_with(&o, nothing, NULL);
    if (rc == -ENOSYS || rc == -EPERM) {
        fprintf(stderr, "io_uring is not available here (%s): test skipped\n", cio_err_name(rc));
        exit(77);
    }
}

/* Every getaddrinfo() of a test program, libpq's and libcurl's included,
 * comes here first (exported, so that the libraries' calls find it).
 * Names under .invalid (RFC 6761: they never resolve) fail at once: a test
 * of a failed lookup sends no query to the machine's DNS server, since the
 * tests talk to nothing but loopback. */
__attribute__((visibility("default"))) int getaddrinfo(const char *node, const char *service,
                                                       const struct addrinfo *hints,
                                                       struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    if (test_lookup_hook)
        test_lookup_hook(node);
    size_t n = node ? strlen(node) : 0;
    if (n >= 8 && strcmp(node + n - 8, ".invalid") == 0)
        return EAI_NONAME;
    return real(node, service, hints, res);
}

int run_virtual(cio_task_fn fn, void *arg)
{
    cio_run_options o = {.virtual_clock = true};
    return cio_run_with(&o, fn, arg);
}

int run_real(cio_task_fn fn, void *arg)
{
    return cio_run(fn, arg);
}

int run_capture(cio_task_fn fn, void *arg, char **report)
{
    size_t len = 0;
    FILE *f = open_memstream(report, &len);
    cio_run_options o = {.virtual_clock = true, .report = f};
    int rc = cio_run_with(&o, fn, arg);
    fclose(f);
    return rc;
}
