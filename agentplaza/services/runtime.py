"""Runtime: what every service needs (store, bus, cluster state, settings, time, randomness)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agentplaza.bus.base import Bus
from agentplaza.cluster.base import ClusterState
from agentplaza.settings import Settings
from agentplaza.store.base import Store


def wall_clock_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True, kw_only=True)
class Runtime:
    """What every service needs: the store, the bus, cluster-wide state, settings, time and
    randomness."""

    store: Store
    bus: Bus
    cluster: ClusterState
    settings: Settings
    clock_us: Callable[[], int] = wall_clock_us
    monotonic: Callable[[], float] = time.monotonic
    random_bytes: Callable[[int], bytes] = field(default=os.urandom)
