/* The process-wide signal relay: the self-pipe trick, for any number of
 * loops.
 *
 * A signal's disposition is the whole process's, so one handler serves
 * every loop: it writes the signal's number, one byte, to the pipe of each
 * slot that watches it. That write is all that runs in async-signal
 * context; the loops read their pipe like any other fd. Signals are not
 * blocked anywhere, so threads made by the program and child processes
 * (which get default dispositions back at exec) are unaffected.
 *
 * A handler may run on any thread at any time, concurrently with a slot
 * being released. Pipes are therefore never closed: a released slot keeps
 * its pipe for the next user (which drains it first), so a late write can
 * never land in a reused fd number. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "threads/threads.h"

#define SLOTS 64

struct slot {
    atomic_uint_least64_t mask; /* bit signo-1: watched */
    int rfd, wfd;               /* valid once piped; never closed */
    bool piped, used;           /* under mu */
};

static struct slot slots[SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction saved[_NSIG];
static int watchers[_NSIG]; /* slots watching each signal, under mu */

static uint64_t bit(int signo)
{
    return (uint64_t)1 << (signo - 1);
}

#ifdef CIO__TSAN
/* ThreadSanitizer wraps every handler and runs it only when the interrupted
 * thread next calls a function it intercepts. On a fiber, that call can be
 * a long time coming: a task that switched out to the loop, which waits in
 * io_uring_enter() (not intercepted), or one that only yields, would keep
 * the signal from the loop until its next timeout. The relay does nothing
 * TSan needs to see (one atomic load, one write per slot), so under TSan it
 * is installed with libc's own sigaction and writes through the raw system
 * call, and it is built with no instrumentation at all: TSan's hooks for
 * atomics take locks, which a signal may have interrupted the holder of. */
#define RELAY_ATTRS __attribute__((disable_sanitizer_instrumentation))
static int install(int signo, const struct sigaction *sa, struct sigaction *old)
{
    static int (*libc_sigaction)(int, const struct sigaction *, struct sigaction *);
    if (!libc_sigaction)
        libc_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(
            RTLD_NEXT, "sigaction");
    return libc_sigaction ? libc_sigaction(signo, sa, old) : sigaction(signo, sa, old);
}
#else
#define RELAY_ATTRS
static int install(int signo, const struct sigaction *sa, struct sigaction *old)
{
    return sigaction(signo, sa, old);
}
#endif

/* ---- a loop that can no longer hear signals ---------------------------------
 * The loop hears a signal only when it polls. A task that never suspends (a
 * busy loop, or a cancelled task that ignores -ECANCELED in a loop of calls
 * that return at once) keeps it from ever polling, and then the second
 * SIGINT or SIGTERM that should force the exit is never heard. So the
 * shutdown loop counts its polls here, and the handler itself forces the
 * exit when a shutdown signal comes 100 ms or more after the previous one
 * and the loop has not polled since that one arrived, or since it took
 * the last one. A loop that polls handles the signal itself (and names
 * the tasks still alive). */
static atomic_bool shutdown_armed;
static atomic_uint_least64_t shutdown_polls;
static atomic_uint_least64_t polls_at_last;  /* shutdown_polls at the last signal */
static atomic_uint_least64_t polls_at_taken; /* ...when the loop took the last one */
static atomic_int_least64_t last_at;         /* CLOCK_MONOTONIC ns of it; 0: none yet */

atomic_uint_least64_t *cio__sigrelay_arm_shutdown(bool on)
{
    atomic_store(&last_at, 0);
    atomic_store(&polls_at_taken, UINT64_MAX);
    atomic_store(&shutdown_armed, on);
    return &shutdown_polls;
}

void cio__sigrelay_shutdown_taken(void)
{
    atomic_store(&polls_at_taken, atomic_load(&shutdown_polls));
}

static RELAY_ATTRS void check_stuck(int signo)
{
    if ((signo != SIGINT && signo != SIGTERM) || !atomic_load(&shutdown_armed))
        return;
    struct timespec ts;
    if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) < 0)
        return;
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    uint64_t polls = atomic_load(&shutdown_polls);
    int64_t prev = atomic_exchange(&last_at, now);
    uint64_t prev_polls = atomic_exchange(&polls_at_last, polls);
    if (prev && now - prev >= 100000000 &&
        (polls == prev_polls || polls == atomic_load(&polls_at_taken))) {
        static const char msg[] =
            "cio: shutdown signal again, and the loop has not polled since the last one "
            "came (a task that never suspends?): forcing exit\n";
        long n = syscall(SYS_write, 2, msg, sizeof msg - 1);
        (void)n;
        _exit(128 + signo);
    }
}

static RELAY_ATTRS void relay(int signo)
{
    int saved_errno = errno;
    check_stuck(signo);
    unsigned char b = (unsigned char)signo;
    for (int i = 0; i < SLOTS; i++) {
        if (atomic_load_explicit(&slots[i].mask, memory_order_acquire) & bit(signo)) {
            long n = syscall(SYS_write, slots[i].wfd, &b, 1);
            (void)n; /* a full pipe already holds a wake-up */
        }
    }
    errno = saved_errno;
}

static void drain(int fd)
{
    unsigned char buf[256];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

int cio__sigrelay_open(int *rfd)
{
    pthread_mutex_lock(&mu);
    int s = -1;
    for (int i = 0; i < SLOTS && s < 0; i++)
        if (!slots[i].used)
            s = i;
    int rc = s < 0 ? -EMFILE : 0;
    if (rc == 0 && !slots[s].piped) {
        int p[2];
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
            rc = -errno;
        } else {
            slots[s].rfd = p[0];
            slots[s].wfd = p[1];
            slots[s].piped = true;
        }
    }
    if (rc == 0) {
        slots[s].used = true;
        drain(slots[s].rfd); /* what a racing handler left for the last user */
        *rfd = slots[s].rfd;
    }
    pthread_mutex_unlock(&mu);
    return rc < 0 ? rc : s;
}

int cio__sigrelay_watch(int slot, int signo)
{
    pthread_mutex_lock(&mu);
    int rc = 0;
    uint64_t m = atomic_load(&slots[slot].mask);
    if (!(m & bit(signo))) {
        if (watchers[signo] == 0) {
            struct sigaction sa = {.sa_handler = relay, .sa_flags = SA_RESTART};
            sigfillset(&sa.sa_mask);
            if (install(signo, &sa, &saved[signo]) < 0)
                rc = -errno;
        }
        if (rc == 0) {
            watchers[signo]++;
            atomic_store(&slots[slot].mask, m | bit(signo));
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void cio__sigrelay_close(int slot)
{
    pthread_mutex_lock(&mu);
    uint64_t m = atomic_exchange(&slots[slot].mask, 0);
    for (int signo = 1; signo < _NSIG && signo <= 64; signo++)
        if ((m & bit(signo)) && --watchers[signo] == 0)
            install(signo, &saved[signo], NULL);
    slots[slot].used = false;
    pthread_mutex_unlock(&mu);
}

bool cio__sigrelay_default(int signo)
{
    pthread_mutex_lock(&mu);
    struct sigaction sa;
    bool dfl = watchers[signo] > 0
                   ? saved[signo].sa_handler == SIG_DFL && !(saved[signo].sa_flags & SA_SIGINFO)
                   : sigaction(signo, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
                         !(sa.sa_flags & SA_SIGINFO);
    pthread_mutex_unlock(&mu);
    return dfl;
}
