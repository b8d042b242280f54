#!/bin/sh
# A tour of the guide's examples in C (`make demo`): runs each example in
# the order the guide shows them, with a header naming the Python it
# reproduces and what it shows. Examples that were not built (their area's
# dependencies missing) are skipped.
#
#   sh scripts/demo.sh build/examples
dir=${1:-build/examples}
ran=0
skipped=0

show() {
    name=$1
    title=$2
    if [ ! -x "$dir/$name" ]; then
        printf '\n--- %s: skipped (not built)\n' "$name"
        skipped=$((skipped + 1))
        return
    fi
    printf '\n=== %s — %s\n' "$name" "$title"
    start=$(date +%s.%N)
    "$dir/$name"
    status=$?
    end=$(date +%s.%N)
    printf -- '--- exit %d, %ss\n' "$status" "$(awk "BEGIN { printf \"%.2f\", $end - $start }")"
    ran=$((ran + 1))
}

echo "cio: the guide's asyncio examples, in C"

# Understanding async/await
show sync_vs_async "async_fetch_data(): await asyncio.sleep(2) yields to the loop"
# Coroutines, tasks and futures
show fetch_users "fetch_all_users(): 10 tasks + asyncio.gather, 0.1 s in all"
show task_timeout "task_with_timeout(): asyncio.wait_for(task, 5.0) cancels a slow task"
show first_completed "wait_for_first(): asyncio.wait(FIRST_COMPLETED), the rest cancelled"
# Async context managers and iterators
show db_context "AsyncDatabaseConnection: async with, __aenter__/__aexit__"
show managed_resource "@asynccontextmanager managed_resource(): try/yield/finally"
show paginator "AsyncPaginator(35, page_size=10): async for over pages"
show async_range "async_range(0, 5): an async generator"
# Real-world patterns
show http_fetch "fetch_multiple_urls(): aiohttp session + gather(return_exceptions=True)"
show rate_limited_fetch "fetch_with_rate_limit(): Semaphore(10) around each request"
show db_pool "AsyncDatabase: an asyncpg pool, fetch/execute"
show producer_consumer "producer/consumer: Queue(maxsize=10), 20 items, 3 consumers"
show retry "@async_retry: exponential backoff with jitter"
# Error handling
show safe_gather "safe_gather(): gather(return_exceptions=True), first error raised"
show graceful_shutdown "GracefulShutdown: SIGTERM/SIGINT handlers cancel the tasks"
# Performance tips
show executor "good_example(): run_in_executor for blocking calls"
show batches "process_in_batches(): gather 100 at a time"

printf '\n%d example(s) run, %d skipped\n' "$ran" "$skipped"
