"""Run the shared harness (../shared/bench) across cluster nodes: send to one, receive on another.

The harness's agentplaza adapter sends and receives through one URL. For a cluster the
interesting path crosses nodes (send → node A → PostgreSQL + bus → node B → WebSocket), so
this registers a subclass whose WebSockets go to `--receive-url` and runs the harness's own
CLI with every other flag unchanged. Run one process per direction, e.g. (see bench/README.md):

    python bench/cluster_bench.py --receive-url http://127.0.0.1:8001 --url http://127.0.0.1:8000 \\
        --server-pid PID_A,PID_B --adapter agentplaza-cross --workload dm --levels 25 ...
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

SHARED_BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
sys.path.insert(0, str(SHARED_BENCH))

from adapters.agentplaza import AgentPlazaAdapter  # type: ignore[import-not-found]  # noqa: E402

import bench  # type: ignore[import-not-found]  # noqa: E402


class CrossNodeAdapter(AgentPlazaAdapter):  # type: ignore[misc]
    """Sends through `--url`; opens WebSockets on RECEIVE_URL (set from `--receive-url`)."""

    name = "agentplaza-cross"

    def __init__(self, opts: dict[str, Any]) -> None:
        super().__init__(opts)
        self.receive_base = os.environ["AGENTPLAZA_BENCH_RECEIVE_URL"].rstrip("/")

    async def _ws_open(self, a: Any) -> Any:
        ws_url = self.receive_base.replace("http://", "ws://") + "/v1/ws"
        return await self.http.ws_connect(
            ws_url,
            headers={"Authorization": f"Bearer {a.token}"},
            heartbeat=None,
            max_msg_size=16 * 2**20,
        )


def main() -> None:
    args = sys.argv[1:]
    if "--receive-url" in args:
        at = args.index("--receive-url")
        os.environ["AGENTPLAZA_BENCH_RECEIVE_URL"] = args[at + 1]
        del args[at : at + 2]
    if "AGENTPLAZA_BENCH_RECEIVE_URL" not in os.environ:
        sys.exit("--receive-url http://host:port is required (the node the WebSockets go to)")
    bench.ADAPTERS["agentplaza-cross"] = "__main__:CrossNodeAdapter"  # run as a script
    sys.argv = [sys.argv[0], *args]
    bench.main()


if __name__ == "__main__":
    main()
