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

# show NAME TITLE [ARGS...]: runs one example with a header and its time.
show() {
    name=$1
    title=$2
    shift 2
    if [ ! -x "$dir/$name" ]; then
        printf '\n--- %s: skipped (not built)\n' "$name"
        skipped=$((skipped + 1))
        return
    fi
    printf '\n=== %s — %s\n' "$name" "$title"
    start=$(date +%s.%N)
    if [ "$name" = graceful_shutdown ]; then
        # It runs until SIGTERM/SIGINT, as a server would: stop it after 1.5 s.
        "$dir/$name" "$@" &
        pid=$!
        sleep 1.5
        kill -TERM "$pid"
        wait "$pid"
    else
        "$dir/$name" "$@"
    fi
    status=$?
    end=$(date +%s.%N)
    printf -- '--- exit %d, %ss\n' "$status" "$(awk "BEGIN { printf \"%.2f\", $end - $start }")"
    ran=$((ran + 1))
}

echo "cio: the guide's asyncio examples, in C"

# The HTTP examples talk to a local web server serving a few JSON files
# (nothing leaves this machine).
www=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; rm -rf "$www"' EXIT
mkdir -p "$www/users"
for i in 1 2 3 4 5; do
    printf '{"id": %d, "name": "User %d", "active": true}\n' "$i" "$i" > "$www/users/$i.json"
done
/usr/bin/python3 -m http.server 0 --bind 127.0.0.1 --directory "$www" > "$www/server.log" 2>&1 &
server=$!
port=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$www/server.log" | head -n 1)
    [ -n "$port" ] && break
    sleep 0.2
done
base="http://127.0.0.1:$port"

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
show http_fetch "fetch_multiple_urls(): aiohttp session + gather(return_exceptions=True)" \
    "$base/users/1.json" "$base/users/2.json" "$base/users/3.json" "$base/missing.json"
show rate_limit "fetch_with_rate_limit(): Semaphore around each request" \
    "$base/users/1.json" "$base/users/2.json" "$base/users/3.json" "$base/users/4.json" \
    "$base/users/5.json"
show http_retry "@async_retry fetch_with_retry(): raise_for_status, backoff" "$base/users/1.json"
show db_pool "AsyncDatabase: an asyncpg pool, fetch/execute (a throwaway PostgreSQL)"
show stream_query "stream_large_query(): rows streamed from a server-side cursor"
show producer_consumer "producer/consumer: Queue(maxsize=10), 20 items, 3 consumers"
show retry "@async_retry: exponential backoff with jitter"
# Error handling
show safe_gather "safe_gather(): gather(return_exceptions=True), first error raised"
show graceful_shutdown "GracefulShutdown: SIGTERM/SIGINT cancel the tasks (stopped after 1.5 s)"
# Performance tips
show blocking_offload "good_example(): run_in_executor for blocking calls"
show batches "process_in_batches(): gather 100 at a time"
# Beyond the guide
show subprocess "create_subprocess_exec: three commands at once, then a pipe through sort"

printf '\n%d example(s) run, %d skipped\n' "$ran" "$skipped"
