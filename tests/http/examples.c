/* The HTTP examples, run against the test nginx: their output is what the
 * guide's code would print. */
#include <sys/wait.h>

#include "common.h"

#ifndef CIO_EXAMPLES_DIR
#error "CIO_EXAMPLES_DIR must name build/examples"
#endif

/* Runs a shell command, returns its exit status and its stdout (malloc'd). */
static int run_cmd(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    size_t k;
    while (b && (k = fread(b + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                break;
            b = nb;
        }
    }
    if (b)
        b[n] = 0;
    int st = pclose(p);
    *out = b;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *run_example(int expect_status, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s/%s", CIO_EXAMPLES_DIR, args);
    char *out = NULL;
    int st = run_cmd(cmd, &out);
    if (st != expect_status)
        fail_msg("%s exited %d, expected %d; output:\n%s", cmd, st, expect_status, out);
    return out;
}

/* Fails with the whole output when `want` is not in it. */
#define expect_in(out, want)                                                                       \
    do {                                                                                           \
        if (!strstr((out), (want)))                                                                \
            fail_msg("expected \"%s\" in:\n%s", (want),                                            \
                     (out) + (strlen(out) > 600 ? strlen(out) - 600 : 0));                         \
    } while (0)

static void test_http_fetch(void **state)
{
    (void)state;
    char *out = run_example(1, "http_fetch %s %s %s 2>&1", url("/user.json"), url("/status/404"),
                            url("/r3"));
    /* user.json, sorted and compact, twice (directly and through redirects) */
    const char *line = strstr(out, "/user.json: {\"active\":true,");
    assert_non_null(line);
    expect_in(out, "/r3: {\"active\":true,");
    expect_in(out, "/status/404: error: ");
    expect_in(out, "Fetched 3 URLs (1 failed) in ");
    free(out);
    out = run_example(0, "http_fetch %s", url("/user.json"));
    expect_in(out, "Fetched 1 URLs (0 failed)");
    free(out);
}

static void test_rate_limit(void **state)
{
    (void)state;
    char urls[8192] = "";
    for (int i = 0; i < 30; i++) {
        char u[128];
        snprintf(u, sizeof u, " %s?i=%d", url("/slow/user.json"), i);
        strcat(urls, u);
    }
    char *out = run_example(0, "rate_limit -n 4%s", urls);
    expect_in(out, "Fetched 30/30 URLs in ");
    expect_in(out, "at most 4 at once (limit 4)");
    free(out);
}

static void test_http_retry(void **state)
{
    (void)state;
    char *out = run_example(0, "http_retry -d 0.01 %s", url("/user.json"));
    expect_in(out, "\"name\":\"Ada Lovelace\"");
    assert_null(strstr(out, "Attempt"));
    free(out);
    out = run_example(1, "http_retry -d 0.01 %s", url("/status/503"));
    expect_in(out, "Attempt 1 failed (CIO_EHTTP_STATUS: HTTP 503");
    expect_in(out, "Attempt 2 failed");
    assert_null(strstr(out, "Attempt 3 failed"));
    expect_in(out, "Giving up: CIO_EHTTP_STATUS: HTTP 503");
    free(out);
}

static void test_fetch_tool(void **state)
{
    (void)state;
    char path[] = "/tmp/cio-fetch-urls-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# a comment, then a blank line\n\n");
    for (int i = 0; i < 40; i++)
        fprintf(f, "%s?n=%d\n", url("/user.json"), i);
    fprintf(f, "%s\n%s\n", url("/status/404"), url("/status/503"));
    fclose(f);
    char *out = run_example(1, "fetch -c 8 -r 2 -p %s 2>/dev/null", path);
    expect_in(out, "42 URLs: 40 ok, 2 failed");
    expect_in(out, ", 2 retries)"); /* the 503, not the 404 */
    expect_in(out, "ERR 404");
    expect_in(out, "ERR 503");
    free(out);
    /* the progress line goes to stderr */
    out = run_example(1, "fetch -c 8 -r 0 -p %s 2>&1 >/dev/null", path);
    expect_in(out, "[ 42/42] 2 failed");
    free(out);
    /* -o DIR: each body saved under its line number */
    char dir[] = "/tmp/cio-fetch-out-XXXXXX";
    assert_non_null(mkdtemp(dir));
    out = run_example(1, "fetch -c 4 -r 0 -o %s %s", dir, path);
    free(out);
    char saved[256];
    snprintf(saved, sizeof saved, "%s/3", dir); /* line 3: the first URL */
    FILE *g = fopen(saved, "r");
    assert_non_null(g);
    char body[512] = "";
    size_t n = fread(body, 1, sizeof body - 1, g);
    fclose(g);
    assert_int_equal(n, strlen(nginx_user_json));
    assert_string_equal(body, nginx_user_json);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_fetch),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_http_retry),
        cmocka_unit_test(test_fetch_tool),
    };
    return cmocka_run_group_tests(tests, nginx_setup, nginx_teardown);
}
