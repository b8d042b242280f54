"""Echo servers for bench_net_echo (not a peer of its own: the C load
generator in echo.c starts it and measures it side by side with cio).

  --loop asyncio|uvloop   the event loop
  --mode streams          asyncio streams: StreamReader.read + write + drain
  --mode protocol         an asyncio.Protocol that writes back in data_received

Listens on 127.0.0.1, an ephemeral port, printed on stdout as one line.
"""
import argparse
import asyncio
import sys


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(mode):
    loop = asyncio.get_running_loop()
    if mode == "streams":
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    else:
        server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=1024)
    sys.stdout.write(f"{server.sockets[0].getsockname()[1]}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def run():
    p = argparse.ArgumentParser()
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    p.add_argument("--mode", choices=("streams", "protocol"), default="streams")
    a = p.parse_args()
    if a.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(main(a.mode))
    except KeyboardInterrupt:
        sys.exit(0)


run()
