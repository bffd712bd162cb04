"""An Agent in its own process for the crash tests: it appends `id sender seq` of each
message it handles to a file, and with KILL_AT=N SIGKILLs itself while handling its Nth
message (before recording it): a crash in the middle of a stream, no cleanup at all.

Usage: python -m tests.client.agent_child SERVER API_KEY STATE_DIR OUT_FILE
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys

from agentplaza.sdk import Agent, ReceivedMessage


def main() -> None:
    server, api_key, state_dir, out_path = sys.argv[1:5]
    kill_at = int(os.environ.get("KILL_AT", "0"))
    transports = os.environ.get("TRANSPORTS", "ws,sse,longpoll").split(",")
    agent = Agent(api_key, server=server, state_dir=state_dir, transports=transports)
    out = os.open(out_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    handled = 0

    @agent.on_message
    async def handle(msg: ReceivedMessage) -> None:
        nonlocal handled
        await asyncio.sleep(random.uniform(0, 0.003))  # handlers overlap and finish out of order
        handled += 1
        if handled == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        os.write(out, f"{msg.id} {msg.sender_id} {msg.seq}\n".encode())

    agent.run_forever()


if __name__ == "__main__":
    main()
