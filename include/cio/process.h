/* cio — subprocesses: asyncio's create_subprocess_exec for C.
 *
 *     cio_process *p;
 *     const char *argv[] = {"sort", NULL};
 *     cio_process_options o = {.stdin_mode = CIO_PROCESS_PIPE,
 *                              .stdout_mode = CIO_PROCESS_PIPE};
 *     if (cio_process_exec(&p, argv, &o) == 0) {
 *         cio_process_output r;
 *         if (cio_process_communicate(p, "b\na\n", 4, &r) == 0)
 *             ...r.out is "a\nb\n", r.returncode 0...
 *         cio_process_output_free(&r);
 *         cio_process_free(p);
 *     }
 *
 * A piped stdin, stdout or stderr is a cio_stream (<cio/net.h>): write,
 * drain and write_eof the first, read the others with every reader call.
 * The child gets fds 0-2 and no others (asyncio's close_fds=True). The
 * process is watched through a pidfd, so cio installs no SIGCHLD handler
 * and a pid reused by another process is never signalled.
 *
 * Link with cio_net (pkg-config cio-net). See docs/net.md.
 */
#ifndef CIO_PROCESS_H
#define CIO_PROCESS_H

#include <stddef.h>

#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a child's stdin, stdout or stderr is. */
enum {
    CIO_PROCESS_INHERIT = 0, /* this process's own (the default) */
    CIO_PROCESS_PIPE,        /* a stream to this process: cio_process_stdin()... */
    CIO_PROCESS_DEVNULL,     /* /dev/null */
    CIO_PROCESS_STDOUT,      /* stderr only: wherever stdout goes */
};

typedef struct cio_process_options {
    int stdin_mode, stdout_mode, stderr_mode; /* CIO_PROCESS_... */
    const char *cwd;                          /* the child's working directory; NULL: this one's */
    char *const *env;                         /* NULL-terminated "NAME=value"; NULL: this environ */
} cio_process_options;

typedef struct cio_process cio_process;

/* Starts argv[0] with the arguments
 * argv (NULL-terminated) and gives the caller the process in *out, to free
 * with cio_process_free(). A name without '/' is searched in PATH: the
 * PATH of opts->env when one is given (the system's default path if it
 * has none), as Python's subprocess does, else this process's. opts may
 * be NULL (everything inherited). The
 * child starts with default signal dispositions and no signal blocked,
 * whatever this process set. Never suspends. Errors: -EINVAL (out, argv or
 * argv[0] NULL, a bad mode), -ENOENT (no such program), -EACCES (not
 * executable), and those of socketpair(), posix_spawn() and pidfd_open()
 * (-EMFILE, -ENOMEM, -EAGAIN...); nothing is left behind on failure. */
int cio_process_exec(cio_process **out, const char *const argv[], const cio_process_options *opts);

/* The streams of the piped stdin, stdout and stderr (NULL when not piped).
 * They belong to the process: do not close them (cio_stream_write_eof()
 * ends the child's input); cio_process_free() releases them. */
cio_stream *cio_process_stdin(cio_process *p);
cio_stream *cio_process_stdout(cio_process *p);
cio_stream *cio_process_stderr(cio_process *p);

/* The child's process id (for logs; signal it with the calls below); -1
 * if p is NULL. */
int cio_process_pid(const cio_process *p);

/* Waits until the process has exited and stores its returncode as asyncio
 * has it: the exit status (>= 0), or -N when signal N ended it; 255 (with
 * a report on stderr) when something else reaped the child first
 * (SIGCHLD set to SIG_IGN, a waitpid(-1) elsewhere), as asyncio's child
 * watchers say. Any number of tasks may wait; once it has exited, returns
 * at once every time.
 * Returns 0, or -ECANCELED, -ETIMEDOUT (an enclosing scope: the process
 * runs on), -EINVAL, CIO_ENOTTASK. */
int cio_process_wait(cio_process *p, int *returncode);

/* The returncode if the process has been waited for, else -EAGAIN: stored
 * in *returncode, 0 returned (asyncio's returncode attribute). */
int cio_process_returncode(const cio_process *p, int *returncode);

/* Sends signal signo (asyncio's send_signal; terminate() is SIGTERM,
 * kill() is SIGKILL). Returns 0, -ESRCH once the process has been waited
 * for (as asyncio's ProcessLookupError), -EINVAL. */
int cio_process_send_signal(cio_process *p, int signo);

/* What cio_process_communicate() collected: out and err malloc'd and
 * NUL-terminated (NULL when that stream is not piped), and the returncode.
 * Free with cio_process_output_free(). */
typedef struct cio_process_output {
    char *out, *err;
    size_t out_len, err_len;
    int returncode;
} cio_process_output;

/* asyncio's communicate(): writes input (len bytes; none when NULL) to a
 * piped stdin and ends it, reads a piped stdout and stderr to their end at
 * the same time, then waits for the process to exit. Returns 0, or
 * CIO_ELIMIT (more than 1 GiB on one stream), -ECANCELED, -ETIMEDOUT,
 * -ENOMEM, -EINVAL (input for a stdin that is not piped), CIO_ENOTTASK, or
 * a stream's error; on error *r holds nothing (the process may still run:
 * cio_process_free() ends it). */
int cio_process_communicate(cio_process *p, const void *input, size_t len, cio_process_output *r);

/* Frees what cio_process_communicate() collected and zeroes *r. NULL is
 * ignored. */
void cio_process_output_free(cio_process_output *r);

/* Releases the process and its streams; no task may still be waiting on
 * it or using its streams. A child still running is killed (SIGKILL) and
 * reaped first, so that it leaves no zombie; wait for it beforehand to let
 * it finish. Never suspends. NULL is ignored. */
void cio_process_free(cio_process *p);

#ifdef __cplusplus
}
#endif

#endif
