/* The nginx fixture: see fixture.h. Plain POSIX, no cio: it runs before and
 * after the loop. */

#include "fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef CIO_HTTP_HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef CIO_HTTP_HAVE_BROTLI
#include <brotli/encode.h>
#endif

#ifndef CIO_HTTP_NGINX_CONF
#error "CIO_HTTP_NGINX_CONF must name tests/http/nginx.conf.in"
#endif

const char nginx_user_json[] =
    "{\"id\": 42, \"name\": \"Ada Lovelace\", \"email\": \"ada@example.com\", "
    "\"roles\": [\"admin\", \"author\"], \"active\": true, \"score\": 97.5, "
    "\"address\": {\"city\": \"London\", \"zip\": \"W1\"}, \"tags\": [1, 2, 3]}\n";

int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    int n0 = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n0 < 0 || (size_t)n0 >= sizeof path)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

char nginx_text_at(size_t i)
{
    return "the quick brown fox jumps over the lazy dog\n"[i % 44];
}

/* text.txt compressed, served with a fixed Content-Encoding (nginx-light
 * makes only gzip itself): deflate/text.txt (zlib format, RFC 1950, as
 * HTTP's "deflate") and br/text.txt. Without the library, not made. */
static int make_encoded(const char *root, const char *t, size_t n)
{
    char dir[512];
    int rc = 0;
    (void)root, (void)dir, (void)t, (void)n;
#ifdef CIO_HTTP_HAVE_ZLIB
    {
        uLongf zl = compressBound((uLong)n);
        unsigned char *z = malloc(zl);
        snprintf(dir, sizeof dir, "%s/deflate", root);
        if (!z || compress2(z, &zl, (const Bytef *)t, (uLong)n, 9) != Z_OK || mkdir(dir, 0755))
            rc = -1;
        else
            rc |= write_file(dir, "text.txt", z, zl);
        free(z);
    }
#endif
#ifdef CIO_HTTP_HAVE_BROTLI
    {
        size_t bl = BrotliEncoderMaxCompressedSize(n);
        uint8_t *b = malloc(bl);
        snprintf(dir, sizeof dir, "%s/br", root);
        if (!b ||
            !BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT,
                                   n, (const uint8_t *)t, &bl, b) ||
            mkdir(dir, 0755))
            rc = -1;
        else
            rc |= write_file(dir, "text.txt", b, bl);
        free(b);
    }
#endif
    return rc;
}

static int make_docroot(const char *root)
{
    if (mkdir(root, 0755) < 0)
        return -1;
    if (write_file(root, "user.json", nginx_user_json, strlen(nginx_user_json)))
        return -1;
    /* 4 MiB with a checkable pattern: byte i is (i * 7 + i / 4096) & 255. */
    size_t big = 4u << 20;
    unsigned char *b = malloc(big);
    if (!b)
        return -1;
    for (size_t i = 0; i < big; i++)
        b[i] = (unsigned char)((i * 7 + i / 4096) & 255);
    int rc = write_file(root, "big.bin", b, big);
    rc |= write_file(root, "quarter.bin", b, NGINX_QUARTER_LEN); /* its first 256 KiB */
    free(b);
    /* Text that compresses well. */
    char *t = malloc(NGINX_TEXT_LEN);
    if (!t)
        return -1;
    for (size_t i = 0; i < NGINX_TEXT_LEN; i++)
        t[i] = nginx_text_at(i);
    rc |= write_file(root, "text.txt", t, NGINX_TEXT_LEN);
    rc |= make_encoded(root, t, NGINX_TEXT_LEN);
    free(t);
    rc |= write_file(root, "hello.txt", "hello, world\n", 13);
    return rc;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *q = realloc(p, cap);
            if (!q) {
                free(p);
                fclose(f);
                return NULL;
            }
            p = q;
        }
        size_t k = fread(p + n, 1, 4096, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    p[n] = 0;
    *len = n;
    return p;
}

/* Appends `s` to out, replacing @NAME@ placeholders. */
static int render(const char *tpl, FILE *out, const struct nginx *n, bool access_log)
{
    char port[16], port2[16], port3[16], root[300], log[300];
    snprintf(port, sizeof port, "%d", n->port);
    snprintf(port3, sizeof port3, "%d", n->port3);
    snprintf(port2, sizeof port2, "%d", n->port2);
    snprintf(root, sizeof root, "%s/www", n->dir);
    if (access_log)
        snprintf(log, sizeof log, "%s/access.log", n->dir);
    else
        snprintf(log, sizeof log, "off");
    const struct {
        const char *key, *val;
    } vars[] = {{"@PREFIX@", n->dir}, {"@ROOT@", root},   {"@PORT@", port},
                {"@PORT2@", port2},   {"@PORT3@", port3}, {"@ACCESS_LOG@", log}};
    for (const char *p = tpl; *p;) {
        bool done = false;
        for (size_t i = 0; i < sizeof vars / sizeof vars[0] && !done; i++) {
            size_t kl = strlen(vars[i].key);
            if (!strncmp(p, vars[i].key, kl)) {
                fputs(vars[i].val, out);
                p += kl;
                done = true;
            }
        }
        if (!done)
            fputc(*p++, out);
    }
    return ferror(out) ? -1 : 0;
}

/* A self-signed P-256 certificate for localhost (not 127.0.0.1, so that a
 * request by address fails the host name check). */
static int make_cert(const struct nginx *n)
{
    char key[300];
    snprintf(key, sizeof key, "%s/key.pem", n->dir);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        execlp("openssl", "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", n->cert, "-days",
               "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
               (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static bool accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int nginx_start(struct nginx *n, bool access_log)
{
    memset(n, 0, sizeof *n);
    n->pid = -1;
    snprintf(n->dir, sizeof n->dir, "/tmp/cio-nginx-XXXXXX");
    if (!mkdtemp(n->dir)) {
        perror("nginx fixture: mkdtemp");
        return -1;
    }
    n->port = free_port();
    n->port2 = free_port();
    while (n->port2 == n->port)
        n->port2 = free_port();
    n->port3 = free_port();
    while (n->port3 == n->port || n->port3 == n->port2)
        n->port3 = free_port();
    snprintf(n->base, sizeof n->base, "http://127.0.0.1:%d", n->port);
    snprintf(n->base2, sizeof n->base2, "http://127.0.0.1:%d", n->port2);
    snprintf(n->base3, sizeof n->base3, "https://localhost:%d", n->port3);
    snprintf(n->cert, sizeof n->cert, "%s/cert.pem", n->dir);
    char path[300], conf[300];
    snprintf(path, sizeof path, "%s/www", n->dir);
    if (make_docroot(path)) {
        fprintf(stderr, "nginx fixture: cannot write the document root\n");
        nginx_stop(n);
        return -1;
    }
    if (make_cert(n)) {
        fprintf(stderr, "nginx fixture: openssl could not make a certificate\n");
        nginx_stop(n);
        return -1;
    }
    size_t len;
    char *tpl = read_all(CIO_HTTP_NGINX_CONF, &len);
    snprintf(conf, sizeof conf, "%s/nginx.conf", n->dir);
    FILE *f = fopen(conf, "w");
    int rc = tpl && f ? render(tpl, f, n, access_log) : -1;
    if (f && fclose(f))
        rc = -1;
    free(tpl);
    if (rc) {
        fprintf(stderr, "nginx fixture: cannot write %s\n", conf);
        nginx_stop(n);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* nginx must not outlive the test, nor hold its output open. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        char err[300];
        snprintf(err, sizeof err, "%s/error.log", n->dir);
        execlp("nginx", "nginx", "-p", n->dir, "-c", conf, "-e", err, (char *)NULL);
        execl("/usr/sbin/nginx", "nginx", "-p", n->dir, "-c", conf, "-e", err, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        perror("nginx fixture: fork");
        nginx_stop(n);
        return -1;
    }
    n->pid = pid;
    for (int i = 0; i < 500; i++) {
        if (accepts(n->port) && accepts(n->port2) && accepts(n->port3))
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            n->pid = -1;
            fprintf(stderr, "nginx fixture: nginx exited (status %d); see %s/error.log\n", status,
                    n->dir);
            return -1;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    fprintf(stderr, "nginx fixture: nginx did not start listening\n");
    nginx_stop(n);
    return -1;
}

static void remove_tree(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

void nginx_stop(struct nginx *n)
{
    if (n->pid > 0) {
        kill(n->pid, SIGTERM);
        waitpid(n->pid, NULL, 0);
        n->pid = -1;
    }
    if (n->dir[0] && !getenv("CIO_KEEP_NGINX"))
        remove_tree(n->dir);
    n->dir[0] = 0;
}
