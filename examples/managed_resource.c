/* The guide's @asynccontextmanager managed_resource.
 *
 *     @asynccontextmanager
 *     async def managed_resource(name: str):
 *         print(f"Acquiring {name}")
 *         await asyncio.sleep(0.1)
 *         resource = {"name": name, "acquired": True}
 *         try:
 *             yield resource
 *         finally:
 *             print(f"Releasing {name}")
 *             await asyncio.sleep(0.05)
 *
 *     async with managed_resource("database") as db:
 *         print(f"Using {db['name']}")
 *
 * The part before `yield` is the acquire function, the `finally` is the
 * release function; CIO_WITH ties them to the block. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

struct resource {
    const char *name;
    bool acquired;
};

static int acquire_resource(struct resource *r, const char *name)
{
    printf("Acquiring %s\n", name);
    int rc = cio_sleep(0.1);
    if (rc < 0)
        return rc;
    *r = (struct resource){name, true};
    return 0;
}

static void release_resource(void *arg)
{
    struct resource *r = arg;
    printf("Releasing %s\n", r->name);
    CIO_SHIELD(finally); /* runs even if we are being cancelled */
    cio_sleep(0.05);
    r->acquired = false;
}

static int main_task(void *arg)
{
    (void)arg;
    struct resource db;
    int rc;
    CIO_WITH(rc, acquire_resource(&db, "database"), release_resource, &db)
    {
        printf("Using %s\n", db.name);
    }
    return rc;
}

int main(void)
{
    cio_run_options opts = {.virtual_clock = getenv("CIO_VIRTUAL_CLOCK") != NULL};
    return cio_run_with(&opts, main_task, NULL) < 0;
}
