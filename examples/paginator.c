/* The guide's AsyncPaginator: an async iterator over pages of results.
 *
 *     async for page in AsyncPaginator(35, page_size=10):
 *         print(f"Got page with items: {page}")
 *
 * In cio an async iterator is a generator task: it yields each page with
 * cio_gen_yield(), and the consumer loops on cio_gen_next(). */
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

struct paginator {
    int total_items;
    int page_size;
};

struct page {
    int n;
    int items[64];
};

static int paginate(cio_gen *g, void *arg)
{
    struct paginator *p = arg;
    for (int start = 0; start < p->total_items; start += p->page_size) {
        int rc = cio_sleep(0.1); /* simulate async fetch */
        if (rc < 0)
            return rc;
        struct page page = {0};
        for (int i = start; i < start + p->page_size && i < p->total_items; i++)
            page.items[page.n++] = i;
        rc = cio_gen_yield(g, &page);
        if (rc < 0)
            return rc;
    }
    return 0; /* StopAsyncIteration */
}

static int main_task(void *arg)
{
    (void)arg;
    struct paginator p = {.total_items = 35, .page_size = 10};
    CIO_GENERATOR(pages, paginate, &p, sizeof(struct page));
    struct page page;
    int rc;
    while ((rc = cio_gen_next(&pages, &page)) > 0) {
        printf("Got page with items: [");
        for (int i = 0; i < page.n; i++)
            printf(i ? ", %d" : "%d", page.items[i]);
        printf("]\n");
    }
    return rc;
}

int main(void)
{
    cio_run_options opts = {.virtual_clock = getenv("CIO_VIRTUAL_CLOCK") != NULL};
    return cio_run_with(&opts, main_task, NULL) < 0;
}
