/* Shared by the fuzz targets: a failed check names itself and aborts, which
 * libFuzzer (and driver.c's caller, CTest) reports with the input. */
#ifndef CIO_TESTS_FUZZ_H
#define CIO_TESTS_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
