/* The guide's fetch_user / fetch_all_users: ten "API calls" of 0.1 s each,
 * run concurrently, take 0.1 s in all.
 *
 *     tasks = [asyncio.create_task(fetch_user(uid)) for uid in user_ids]
 *     results = await asyncio.gather(*tasks)
 *
 * Runs in real time on purpose: the point is the timing. */
#include <stdio.h>

#include <cio.h>

struct user {
    int id;
    char name[32];
};

static int fetch_user(void *arg)
{
    struct user *u = arg;
    int rc = cio_sleep(0.1); /* simulate I/O: suspends this task only */
    if (rc < 0)
        return rc;
    snprintf(u->name, sizeof u->name, "User %d", u->id);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    struct user users[10];
    cio_task tasks[10];
    double start = cio_time();
    for (int i = 0; i < 10; i++) {
        users[i].id = i;
        tasks[i] = cio_spawn(fetch_user, &users[i]);
    }
    int rc = cio_gather(tasks, 10); /* results are in users[] */
    if (rc < 0)
        return rc;
    printf("Fetched %d users in %.2fs\n", 10, cio_time() - start);
    return 0;
}

int main(void)
{
    return cio_run(main_task, NULL) < 0;
}
