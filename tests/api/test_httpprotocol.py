"""One write per response (agentplaza/httpprotocol.py): a head waits for its body, never longer
than a turn of the loop, and nothing is reordered, lost or sent after a close.

Every other test's server runs this protocol too (`agentplaza serve`); here its edges: the
transport calls on a recording transport, and over a real socket a head whose body comes late.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import uvicorn

from agentplaza.httpprotocol import HeadHoldingTransport, OneWriteHttpToolsProtocol, unwrap
from tests.server import TEST_HOST, free_port

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, chunks: Any) -> None:
        self.calls.append(("writelines", [bytes(c) for c in chunks]))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def abort(self) -> None:
        self.calls.append(("abort", None))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return f"info:{name}"


async def test_head_and_body_leave_in_one_call() -> None:
    raw = Recording()
    transport = HeadHoldingTransport(raw, asyncio.get_running_loop())
    transport.write(HEAD)
    assert raw.calls == []
    transport.write(b"hello")
    assert raw.calls == [("writelines", [HEAD, b"hello"])]
    await asyncio.sleep(0)  # the end-of-turn flush finds nothing held
    assert raw.calls == [("writelines", [HEAD, b"hello"])]


async def test_a_head_alone_leaves_at_the_end_of_the_turn() -> None:
    raw = Recording()
    transport = HeadHoldingTransport(raw, asyncio.get_running_loop())
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert raw.calls == [("write", HEAD)]
    transport.write(b"hello")  # a late body goes alone
    assert raw.calls == [("write", HEAD), ("write", b"hello")]


async def test_other_writes_pass_through_and_order_is_kept() -> None:
    raw = Recording()
    transport = HeadHoldingTransport(raw, asyncio.get_running_loop())
    transport.write(b"\x81\x02hi")  # a WebSocket frame, a chunk: not a head
    assert raw.calls == [("write", b"\x81\x02hi")]
    transport.write(HEAD)
    transport.writelines([b"a", b"b"])
    assert raw.calls[1:] == [("write", HEAD), ("writelines", [b"a", b"b"])]


async def test_close_sends_the_held_head_first_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    raw = Recording()
    transport = HeadHoldingTransport(raw, loop)
    transport.write(HEAD)
    transport.close()
    assert raw.calls == [("write", HEAD), ("close", None)]
    await asyncio.sleep(0)
    assert raw.calls == [("write", HEAD), ("close", None)]  # nothing after the close

    raw = Recording()
    transport = HeadHoldingTransport(raw, loop)
    transport.write(HEAD)
    transport.abort()
    await asyncio.sleep(0)
    assert raw.calls == [("abort", None)]


async def test_everything_else_is_the_raw_transports() -> None:
    raw = Recording()
    transport = HeadHoldingTransport(raw, asyncio.get_running_loop())
    assert transport.get_extra_info("peername") == "info:peername"
    transport.write(HEAD)
    assert unwrap(transport) is raw  # a WebSocket upgrade takes the socket's own transport
    assert raw.calls == [("write", HEAD)]  # …after what was held
    assert unwrap(raw) is raw


BODY_MAY_GO: asyncio.Event | None = None


async def late_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A response whose body waits for the client to have seen its head, as a stream's first
    event may: a head held for its body would never arrive."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-late", b"1")]})
    if scope["query_string"] == b"late":
        assert BODY_MAY_GO is not None
        await BODY_MAY_GO.wait()
    await send({"type": "http.response.body", "body": b"body"})


@pytest.fixture
async def late_server() -> Any:
    global BODY_MAY_GO
    BODY_MAY_GO = asyncio.Event()
    port = free_port()
    config = uvicorn.Config(
        late_body, host=TEST_HOST, port=port, http=OneWriteHttpToolsProtocol, log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    yield f"http://{TEST_HOST}:{port}"
    BODY_MAY_GO.set()  # a failed test must not leave the response, and the server, waiting
    server.should_exit = True
    await task


async def test_a_head_does_not_wait_for_a_late_body(late_server: str) -> None:
    assert BODY_MAY_GO is not None
    async with httpx.AsyncClient() as client:
        opened = client.stream("GET", late_server + "/?late")
        response = await asyncio.wait_for(opened.__aenter__(), timeout=5)
        assert (response.status_code, response.headers["x-late"]) == (200, "1")
        BODY_MAY_GO.set()
        assert await response.aread() == b"body"
        await opened.__aexit__(None, None, None)
        quick = await client.get(late_server + "/")  # and the same connection goes on
        assert (quick.status_code, quick.content) == (200, b"body")
