/* Subprocesses (asyncio's create_subprocess_exec).
 *
 * posix_spawn starts the child (a vfork-like clone in glibc: cheap even
 * from a large process, and safe beside other threads). A piped stdio is
 * one end of a Unix socket pair, the child's end dup'ed onto its fd 0, 1
 * or 2, so the parent's end is an ordinary cio_stream, with write_eof as
 * shutdown(). The child is watched through a pidfd: readable once it has
 * exited, reaped with waitid(P_PIDFD), signalled with pidfd_send_signal,
 * so no SIGCHLD handler is needed and a reused pid is never hit. */
#include "cio/process.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cio/group.h"
#include "cio/sync.h"
#include "loop/loop.h"

struct cio_process {
    pid_t pid;
    int pidfd;
    bool reaped;
    bool watched; /* a reader callback on pidfd reaps it and sets `exited` */
    int waiting;  /* tasks in cio_process_wait(): the watch is for them */
    int returncode;
    cio_event exited;  /* what waiting tasks wait for, any number of them */
    cio_stream *io[3]; /* stdin, stdout, stderr when piped */
};

static int pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_send_signal(int pidfd, int signo)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signo, NULL, 0);
}

/* The child's end of each piped stdio, and what to do for the others. */
static int plan(posix_spawn_file_actions_t *fa, const int mode[3], int child_end[3],
                const char *cwd)
{
    int rc = 0;
    for (int fd = 0; fd < 3 && rc == 0; fd++) {
        switch (mode[fd]) {
        case CIO_PROCESS_PIPE:
            rc = posix_spawn_file_actions_adddup2(fa, child_end[fd], fd);
            break;
        case CIO_PROCESS_DEVNULL:
            rc = posix_spawn_file_actions_addopen(fa, fd, "/dev/null", O_RDWR, 0);
            break;
        case CIO_PROCESS_STDOUT: /* stderr only; after stdout is in place */
            rc = posix_spawn_file_actions_adddup2(fa, 1, 2);
            break;
        }
    }
    /* asyncio's close_fds=True: the child gets fds 0-2 and no others. */
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
    if (rc == 0 && cwd)
        rc = posix_spawn_file_actions_addchdir_np(fa, cwd);
    return -rc;
}

/* Where argv[0] is when the child gets an environment of its own: found
 * through that environment's PATH, as Python's subprocess does (or the
 * system's default path if it has none); posix_spawnp() would search this
 * process's PATH. Returns 0 with the path in out, -ENOENT, -EACCES (found,
 * not executable), -ENAMETOOLONG. */
static int find_program(const char *name, char *const *env, char *out, size_t cap)
{
    const char *path = NULL;
    for (char *const *e = env; *e && !path; e++)
        if (!strncmp(*e, "PATH=", 5))
            path = *e + 5;
    char fallback[256];
    if (!path) {
        size_t n = confstr(_CS_PATH, fallback, sizeof fallback);
        path = n > 0 && n <= sizeof fallback ? fallback : "/bin:/usr/bin";
    }
    int rc = -ENOENT;
    for (const char *p = path;; p++) {
        size_t dlen = strcspn(p, ":");
        /* An empty entry is the working directory, as in execvp(). */
        int n = dlen ? snprintf(out, cap, "%.*s/%s", (int)dlen, p, name)
                     : snprintf(out, cap, "%s", name);
        if (n < 0 || (size_t)n >= cap) {
            rc = -ENAMETOOLONG;
        } else if (access(out, X_OK) == 0) {
            return 0;
        } else if (errno == EACCES) {
            rc = -EACCES;
        }
        p += dlen;
        if (!*p)
            return rc;
    }
}

static int start(pid_t *pid, const char *const argv[], const cio_process_options *o,
                 const int mode[3], int child_end[3])
{
    char found[PATH_MAX];
    const char *program = argv[0];
    if (o && o->env && !strchr(program, '/')) {
        int rc = find_program(program, o->env, found, sizeof found);
        if (rc)
            return rc;
        program = found;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = -posix_spawn_file_actions_init(&fa);
    if (rc)
        return rc;
    if ((rc = -posix_spawnattr_init(&attr)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    /* Whatever this process ignores or blocks (a loop watching signals),
     * the child starts clean. */
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    rc = plan(&fa, mode, child_end, o ? o->cwd : NULL);
    if (rc == 0 && program == found)
        rc = -posix_spawn(pid, program, &fa, &attr, (char *const *)argv, o->env);
    else if (rc == 0)
        rc = -posix_spawnp(pid, program, &fa, &attr, (char *const *)argv,
                           o && o->env ? o->env : environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

int cio_process_exec(cio_process **out, const char *const argv[], const cio_process_options *o)
{
    if (out)
        *out = NULL;
    int mode[3] = {o ? o->stdin_mode : 0, o ? o->stdout_mode : 0, o ? o->stderr_mode : 0};
    if (!out || !argv || !argv[0])
        return -EINVAL;
    for (int fd = 0; fd < 3; fd++)
        if (mode[fd] < CIO_PROCESS_INHERIT || mode[fd] > CIO_PROCESS_STDOUT ||
            (mode[fd] == CIO_PROCESS_STDOUT && fd != 2))
            return -EINVAL;
    cio_process *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->pidfd = -1;
    cio_event_init(&p->exited);
    int parent_end[3] = {-1, -1, -1}, child_end[3] = {-1, -1, -1}, rc = 0;
    for (int fd = 0; fd < 3 && rc == 0; fd++) {
        int sv[2];
        if (mode[fd] != CIO_PROCESS_PIPE)
            continue;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            rc = -errno;
        } else {
            parent_end[fd] = sv[0];
            child_end[fd] = sv[1];
        }
    }
    if (rc == 0)
        rc = start(&p->pid, argv, o, mode, child_end);
    for (int fd = 0; fd < 3; fd++)
        if (child_end[fd] >= 0)
            close(child_end[fd]);
    if (rc == 0 && (p->pidfd = pidfd_open(p->pid)) < 0) {
        rc = -errno;
        kill(p->pid, SIGKILL); /* not yet reaped: the pid is still its own */
        waitpid(p->pid, NULL, 0);
    }
    for (int fd = 0; fd < 3; fd++) {
        if (parent_end[fd] < 0)
            continue;
        if (rc) {
            close(parent_end[fd]);
            continue;
        }
        int src = cio_stream_from_fd(&p->io[fd], parent_end[fd]); /* takes the fd */
        if (src && !rc)
            rc = src;
    }
    if (rc) {
        cio_process_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

cio_stream *cio_process_stdin(cio_process *p)
{
    return p ? p->io[0] : NULL;
}

cio_stream *cio_process_stdout(cio_process *p)
{
    return p ? p->io[1] : NULL;
}

cio_stream *cio_process_stderr(cio_process *p)
{
    return p ? p->io[2] : NULL;
}

int cio_process_pid(const cio_process *p)
{
    return p ? p->pid : -1;
}

/* Reaps the child if it has exited: true then. */
static bool reap(cio_process *p, int options)
{
    if (p->reaped)
        return true;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | options) < 0) {
        if (errno == ECHILD) {
            /* Reaped by someone else (SIGCHLD set to SIG_IGN, a
             * waitpid(-1) elsewhere): it has exited, its status is lost.
             * asyncio's child watchers say 255 too. */
            cio__report(cio__tls_loop,
                        "process %d was reaped elsewhere (SIGCHLD ignored, or waitpid(-1)); "
                        "its exit status is lost: returncode 255",
                        (int)p->pid);
            p->reaped = true;
            p->returncode = 255;
            return true;
        }
        if (errno != EINTR)
            return false;
    }
    if (si.si_pid == 0)
        return false; /* still running */
    p->reaped = true;
    p->returncode = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    return true;
}

static void unwatch(cio_process *p)
{
    cio_remove_reader(p->pidfd);
    p->watched = false;
}

static void on_exit_readable(void *arg)
{
    cio_process *p = arg;
    if (reap(p, WNOHANG)) {
        unwatch(p);
        cio_event_set(&p->exited);
    }
}

int cio_process_wait(cio_process *p, int *returncode)
{
    if (!p || !returncode)
        return -EINVAL;
    if (!p->reaped && !reap(p, WNOHANG)) {
        if (!p->watched) {
            int rc = cio_add_reader(p->pidfd, on_exit_readable, p);
            if (rc < 0)
                return rc;
            p->watched = true;
        }
        p->waiting++;
        int rc = cio_event_wait(&p->exited);
        p->waiting--;
        if (rc < 0) {
            /* The last waiter gave up (cancelled, timed out): nobody wants
             * the exit now, and a watched fd would keep the loop from
             * seeing that nothing else can happen. */
            if (p->waiting == 0 && p->watched)
                unwatch(p);
            return rc;
        }
    }
    *returncode = p->returncode;
    return 0;
}

int cio_process_returncode(const cio_process *p, int *returncode)
{
    if (!p || !returncode)
        return -EINVAL;
    if (!p->reaped)
        return -EAGAIN;
    *returncode = p->returncode;
    return 0;
}

int cio_process_send_signal(cio_process *p, int signo)
{
    if (!p || signo < 0 || signo >= NSIG)
        return -EINVAL;
    if (p->reaped)
        return -ESRCH;
    return pidfd_send_signal(p->pidfd, signo) < 0 ? -errno : 0;
}

/* ---- communicate ---------------------------------------------------------- */

#define MAX_OUTPUT ((size_t)1 << 30)

struct collect {
    cio_stream *s;
    char *data;
    size_t len;
};

static int collect(void *arg)
{
    struct collect *c = arg;
    ssize_t n = cio_stream_read_all(c->s, &c->data, MAX_OUTPUT);
    if (n < 0)
        return (int)n;
    c->len = (size_t)n;
    return 0;
}

struct feed {
    cio_stream *s;
    const void *input;
    size_t len;
};

static int feed(void *arg)
{
    struct feed *f = arg;
    int rc = f->len ? cio_stream_write(f->s, f->input, f->len) : 0;
    if (rc == 0)
        rc = cio_stream_drain(f->s);
    /* A child that exits without reading all of it is no error. */
    if (rc == -EPIPE || rc == -ECONNRESET)
        return 0;
    if (rc == 0 && cio_stream_write_eof(f->s) == -EPIPE)
        return 0;
    return rc;
}

int cio_process_communicate(cio_process *p, const void *input, size_t len, cio_process_output *r)
{
    if (r)
        memset(r, 0, sizeof *r);
    if (!p || !r || (input && len && !p->io[0]))
        return -EINVAL;
    struct feed f = {p->io[0], input, input ? len : 0};
    struct collect out = {p->io[1], NULL, 0}, err = {p->io[2], NULL, 0};
    int rc;
    {
        CIO_GROUP(g);
        if (f.s)
            cio_group_spawn(&g, feed, &f);
        if (out.s)
            cio_group_spawn(&g, collect, &out);
        if (err.s)
            cio_group_spawn(&g, collect, &err);
        rc = cio_group_wait(&g);
    }
    if (rc == 0)
        rc = cio_process_wait(p, &r->returncode);
    if (rc) {
        free(out.data);
        free(err.data);
        return rc;
    }
    r->out = out.data;
    r->out_len = out.len;
    r->err = err.data;
    r->err_len = err.len;
    return 0;
}

void cio_process_output_free(cio_process_output *r)
{
    if (!r)
        return;
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

void cio_process_free(cio_process *p)
{
    if (!p)
        return;
    for (int fd = 0; fd < 3; fd++)
        cio_stream_abort(p->io[fd]);
    if (p->pidfd >= 0) {
        if (!reap(p, WNOHANG)) {
            pidfd_send_signal(p->pidfd, SIGKILL);
            reap(p, 0);
        }
        cio_forget_fd(p->pidfd);
        close(p->pidfd);
    }
    free(p);
}
