/* A real nginx for the HTTP tests and benchmarks: started on 127.0.0.1 on
 * free ports with tests/http/nginx.conf.in, everything it writes inside a
 * temporary directory, stopped and removed afterwards. */
#ifndef CIO_TESTS_HTTP_FIXTURE_H
#define CIO_TESTS_HTTP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct nginx {
    pid_t pid;
    int port;  /* HTTP/1.1 */
    int port2; /* HTTP/2, prior knowledge */
    int port3; /* HTTPS (HTTP/2 by ALPN) */
    char dir[256];
    char base[64];  /* "http://127.0.0.1:<port>" */
    char base2[64]; /* the HTTP/2 one */
    char base3[64]; /* "https://localhost:<port3>" */
    char cert[300]; /* the self-signed certificate of localhost (PEM) */
};

/* The ~200-byte JSON document served as /user.json. */
extern const char nginx_user_json[];

/* /text.txt: NGINX_TEXT_LEN bytes of text, byte i being nginx_text_at(i).
 * The same text is served gzip-encoded by nginx under /gzip/, and
 * pre-compressed with a fixed Content-Encoding as /deflate/text.txt
 * (if CIO_HTTP_HAVE_ZLIB) and /br/text.txt (if CIO_HTTP_HAVE_BROTLI). */
#define NGINX_TEXT_LEN 200000

/* /big.bin: 4 MiB, byte i being (i * 7 + i / 4096) & 255; /quarter.bin:
 * its first NGINX_QUARTER_LEN bytes. /rate/ serves them at 1 MiB/s. */
#define NGINX_QUARTER_LEN (256u << 10)
#define NGINX_RATE (1u << 20)
char nginx_text_at(size_t i);

/* Starts nginx and waits until it accepts connections. Returns 0, or -1
 * with a message on stderr. access_log: keep nginx's access log (tests) or
 * not (benchmarks). */
int nginx_start(struct nginx *n, bool access_log);

/* Stops nginx and removes its directory. */
void nginx_stop(struct nginx *n);

/* A free TCP port on 127.0.0.1, or -1. */
int free_port(void);

#endif
