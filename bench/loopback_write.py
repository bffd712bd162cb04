"""The kernel's CPU for one small write on a loopback TCP socket, reader awake or asleep.

Every delivery to a WebSocket is one such write (one per connection per loop turn), and every
HTTP response another; what the kernel takes for it differs from VM to VM, and with it the
share of the server's CPU our code can do anything about (bench/README.md, issue 17's twelfth
round). "awake": writes back to back, so the reader is mostly running when the data arrives.
"asleep": a pause between writes (a busy wait, user time, so that the writer's system time is
the write's own) in which the reader blocks in recv() again, so that every write wakes it.
The figure is the writer's system CPU per write (getrusage), and its wall time per write.

    .venv/bin/python bench/loopback_write.py                # 100,000 writes of 300 bytes each way
    .venv/bin/python bench/loopback_write.py --writes 20000 --bytes 1000 --pause-us 50
Prints a line per case, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import time


def reader(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        while conn.recv(1 << 20):
            pass


def measure(writes: int, size: int, pause_s: float) -> dict[str, float]:
    """System CPU and wall time per write of `size` bytes, `pause_s` between writes."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        child = os.fork()
        if child == 0:
            try:
                reader(server.getsockname()[1])
            finally:
                os._exit(0)
        conn, _ = server.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvloop's transports
    payload = b"x" * size
    wall = 0.0
    before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    with conn:
        for _ in range(writes):
            start = time.perf_counter()
            conn.sendall(payload)
            done = time.perf_counter()
            wall += done - start
            while time.perf_counter() - done < pause_s:
                pass
        system = resource.getrusage(resource.RUSAGE_SELF).ru_stime - before
    os.waitpid(child, 0)
    return {"sys_us": round(system / writes * 1e6, 2), "wall_us": round(wall / writes * 1e6, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=100_000)
    parser.add_argument("--bytes", type=int, default=300, help="per write (a delivery's frame)")
    parser.add_argument("--pause-us", type=float, default=20.0, help="between writes, asleep")
    args = parser.parse_args()
    result: dict[str, object] = {"writes": args.writes, "bytes": args.bytes}
    for case, pause_us in (("awake", 0.0), ("asleep", args.pause_us)):
        figures = measure(args.writes, args.bytes, pause_us / 1e6)
        result[case] = figures
        print(
            f"{case:>7}: {figures['sys_us']:6.2f} µs of system CPU per write,"
            f" {figures['wall_us']:6.2f} µs wall"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
