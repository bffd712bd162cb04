#!/usr/bin/env python3
"""The scripted model server of bench/studio_streams.py, in a process of its own.

  python bench/studio_fake.py --tokens 500 --tokens-per-sec 50

It is tests/llmfake.py's FakeLLM (the one fake of the test suite, speaking the real OpenAI and
Anthropic streaming protocols), not a second implementation; this module only adds what a
benchmark needs on top:

- every request whose last user message is `bench stream <i>` is answered with `--tokens`
  words `s<i>t0 s<i>t1 …` (one streamed delta each, paced at `--tokens-per-sec`), so each token
  names its stream and its sequence number;
- the wall-clock time (`time.time_ns()`) at which each token's frame was handed to the kernel
  is recorded, so the benchmark (same machine, same clock) can subtract it from the time the
  token reached its client.

It runs in its own process so that its event loop does not share a GIL with the load
generator. Protocol on stdio: one JSON line `{"url": ...}` on stdout once it listens; then
commands on stdin, one per line: `dump <path>` writes the record to <path> as JSON
(`{"sent": {"<stream>": [[seq, t_ns], ...]}, "requests", "completed", "disconnects"}`) and
answers `ok` on stdout; `quit` (or end of input) stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from typing import Any

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
if ROOT not in sys.path:  # tests/ is a package of the repository, not an installed one
    sys.path.insert(0, ROOT)

from tests.llmfake import FakeLLM, Recorded, Reply, echo, last_user_text  # noqa: E402

PROMPT = re.compile(r"bench stream (\d+)")  # studio_client.prompt()
TOKEN = re.compile(rb"s(\d+)t(\d+)")


def tokens_text(stream: int, count: int) -> str:
    return " ".join(f"s{stream}t{seq}" for seq in range(count))


class _TimedWriter:
    """The fake's StreamWriter, noting when each frame that carries tokens was written.

    `transport.write` hands the bytes to the kernel at once when its buffer is empty (always,
    at 50 tokens/s), so the time after `write` is the time the token left for the server."""

    def __init__(self, writer: asyncio.StreamWriter, sent: dict[int, list[tuple[int, int]]]):
        self._writer = writer
        self._sent = sent
        self.transport = writer.transport

    def write(self, data: bytes) -> None:
        self._writer.write(data)
        now = time.time_ns()
        for match in TOKEN.finditer(data):
            self._sent.setdefault(int(match[1]), []).append((int(match[2]), now))

    async def drain(self) -> None:
        await self._writer.drain()


class TimedFake(FakeLLM):
    def __init__(self, tokens: int, tokens_per_sec: float | None) -> None:
        super().__init__()
        self.sent: dict[int, list[tuple[int, int]]] = {}
        self.tokens_per_sec = tokens_per_sec
        self.default = self._reply
        self._tokens = tokens

    def _reply(self, request: Recorded) -> Reply:
        found = PROMPT.search(last_user_text(request))
        if found is None:
            return echo(request)
        return Reply(text=tokens_text(int(found[1]), self._tokens))

    async def _answer(
        self, request: Recorded, writer: asyncio.StreamWriter, gone: asyncio.Event
    ) -> bool:
        timed: Any = _TimedWriter(writer, self.sent)  # duck-typed: write, drain, transport
        return await super()._answer(request, timed, gone)

    def record(self) -> dict[str, Any]:
        return {
            "sent": {str(k): v for k, v in self.sent.items()},
            "requests": len(self.chat_requests),
            "completed": self.completed,
            "disconnects": self.disconnects,
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=500, help="tokens per answer")
    parser.add_argument("--tokens-per-sec", type=float, default=50.0, help="0: unpaced")
    args = parser.parse_args()
    fake = TimedFake(args.tokens, args.tokens_per_sec or None)
    fake.start()
    try:
        print(json.dumps({"url": fake.url, "pid": os.getpid()}), flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "dump":
                # Read on this thread while the fake's loop runs: the lists only grow, and a
                # dump is asked for after the streams ended.
                with open(arg, "w") as fh:
                    json.dump(fake.record(), fh)
                print("ok", flush=True)
            elif command == "quit":
                break
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
