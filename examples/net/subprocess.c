/* Subprocesses, asyncio's create_subprocess_exec: three commands run at
 * once (each sleeps 0.1 s, so together they take 0.1 s, not 0.3 s), and a
 * pipe through sort.
 *
 *     async def run(cmd):
 *         proc = await asyncio.create_subprocess_exec(
 *             "sh", "-c", cmd, stdout=asyncio.subprocess.PIPE)
 *         out, _ = await proc.communicate()
 *         return out.decode().strip(), proc.returncode
 *
 *     results = await asyncio.gather(*(run(f"sleep 0.1; echo {w}") for w in words))
 */
#include <cio.h>
#include <cio/process.h>
#include <stdio.h>
#include <string.h>

struct job {
    const char *word;
    char out[32];
    int returncode;
};

static int run(void *arg)
{
    struct job *j = arg;
    char script[64];
    snprintf(script, sizeof script, "sleep 0.1; echo %s", j->word);
    const char *argv[] = {"sh", "-c", script, NULL};
    cio_process *p;
    int rc = cio_process_exec(&p, argv, &(cio_process_options){.stdout_mode = CIO_PROCESS_PIPE});
    if (rc < 0)
        return rc;
    cio_process_output r;
    rc = cio_process_communicate(p, NULL, 0, &r);
    if (rc == 0) {
        snprintf(j->out, sizeof j->out, "%.*s", (int)strcspn(r.out, "\n"), r.out);
        j->returncode = r.returncode;
    }
    cio_process_output_free(&r);
    cio_process_free(p);
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    struct job jobs[] = {{.word = "alpha"}, {.word = "beta"}, {.word = "gamma"}};
    double start = cio_time();
    {
        CIO_GROUP(g);
        for (int i = 0; i < 3; i++)
            cio_group_spawn(&g, run, &jobs[i]);
        int rc = cio_group_wait(&g);
        if (rc < 0)
            return rc;
    }
    for (int i = 0; i < 3; i++)
        printf("%s (exit %d)\n", jobs[i].out, jobs[i].returncode);
    printf("3 commands in %.2fs\n", cio_time() - start);

    /* stdin and stdout both piped: sort reads all, then writes. */
    const char *argv[] = {"sort", NULL};
    cio_process_options o = {.stdin_mode = CIO_PROCESS_PIPE, .stdout_mode = CIO_PROCESS_PIPE};
    cio_process *p;
    int rc = cio_process_exec(&p, argv, &o);
    if (rc < 0)
        return rc;
    cio_process_output r;
    const char input[] = "pear\napple\nfig\n";
    rc = cio_process_communicate(p, input, sizeof input - 1, &r);
    if (rc == 0)
        printf("sorted:\n%s", r.out);
    cio_process_output_free(&r);
    cio_process_free(p);
    return rc;
}

int main(void)
{
    int rc = cio_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "error: %s\n", cio_strerror(rc));
    return rc < 0 ? 1 : 0;
}
