#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>

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
