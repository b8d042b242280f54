/* Reading a streamed body: cio_http_response_next() hands out what has
 * arrived since the last call and resumes a transfer the write callback
 * paused; cio_http_response_read() copies into the caller's buffer. The
 * request's total timeout still applies, through a scope at its deadline. */
#include <errno.h>
#include <string.h>

#include "http/http.h"

int cio_http_response_next(cio_http_response *r, const void **data, size_t *len)
{
    if (!r || !data || !len)
        return -EINVAL;
    *data = NULL;
    *len = 0;
    if (r->chunk_len) {
        r->body_pos += r->chunk_len;
        r->chunk_len = 0;
    }
    if (r->stream && r->body_pos == r->body.len) {
        cio__http_buf_clear(&r->body);
        r->body_pos = 0;
    }
    if (r->paused && !r->done) {
        r->paused = false;
        curl_easy_pause(r->easy, CURLPAUSE_CONT);
        cio__http_kick(r->s);
    }
    if (r->body.len > r->body_pos) {
        *data = r->body.p + r->body_pos;
        *len = r->chunk_len = r->body.len - r->body_pos;
        return 1;
    }
    if (r->done)
        return r->result;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc == CIO_ENOTTASK || rc == CIO_ENOLOOP)
        return rc;
    cio_scope total = {0}, none = {0};
    if (!rc && r->deadline != CIO__NEVER)
        rc = cio_timeout_enter_at(&total, (double)r->deadline / 1e9);
    cio__http_enter(r->s);
    /* The upload may still be going (a server that answers before it has
     * the whole request): this task feeds it while it waits. */
    while (!rc && !r->done && r->body.len == r->body_pos)
        rc = r->need_upload ? cio__http_upload_fill(r) : cio__http_wait(r, t);
    if (rc)
        cio__http_abort(r, rc, &total, &none);
    if (total.entered_)
        cio_scope_exit(&total);
    cio__http_leave(r->s);
    if (r->body.len > r->body_pos) {
        *data = r->body.p + r->body_pos;
        *len = r->chunk_len = r->body.len - r->body_pos;
        return 1;
    }
    return r->result;
}

int64_t cio_http_response_read(cio_http_response *r, void *buf, size_t cap)
{
    if (!r || (!buf && cap))
        return -EINVAL;
    if (!cap)
        return 0;
    if (r->chunk_len) {
        r->body_pos += r->chunk_len;
        r->chunk_len = 0;
    }
    if (r->body.len == r->body_pos) {
        const void *d;
        size_t n;
        int rc = cio_http_response_next(r, &d, &n);
        if (rc <= 0)
            return rc;
        r->chunk_len = 0; /* not handed out: copied below */
    }
    size_t k = r->body.len - r->body_pos < cap ? r->body.len - r->body_pos : cap;
    memcpy(buf, r->body.p + r->body_pos, k);
    r->body_pos += k;
    return (int64_t)k;
}
