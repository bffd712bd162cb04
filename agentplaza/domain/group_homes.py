"""A group's home: the one node of a cluster that stores the group's messages.

Sends to one group contend for the same rows (the group, its members' seq counters). On one
node they queue and share statements (store/postgres_group_batching.py); spread over nodes
they queued in the database instead, one statement each, and two nodes delivered less than
one (bench/README.md, cluster efficiency). So each node hands a group's sends to the group's
home, chosen by rendezvous hashing over the live nodes: every node computes the same home
from the same live set, and a node joining or leaving moves only the groups it wins or held.

A send goes to the home only while the group is contended: while some node has stored, within
CONTENDED_SECS, a send of the group that arrived at another node than this one. Each node
reports every REPORT_INTERVAL_SECS the groups it stored and where their sends arrived. A
group with one sender (or senders on one node) is stored where its sends arrive, with no hop
through the bus; a group with senders on several nodes converges on its home within a report
interval, and leaves it when all its sends arrive at one node again.

Routing is a speed-up, never a rule: any node may store any group's message correctly, so
nodes that briefly disagree about the live set (a node starting, stopping or dying) only
lose batching for a moment. Live nodes announce themselves on the bus every
ALIVE_INTERVAL_SECS; one not heard for ALIVE_TIMEOUT_SECS is gone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

HOMES_TOPIC_PREFIX = "homes."
NODES_TOPIC = "homes.nodes"
"""Every node's announcements: `up` periodically, `down` when it stops, and its reports of the
groups it stored."""
ALIVE_INTERVAL_SECS = 1.0
ALIVE_TIMEOUT_SECS = 3.5
"""Three announcements missed (and a half interval of slack for a busy loop)."""
REPORT_INTERVAL_SECS = 0.25
CONTENDED_SECS = 1.0
"""How long a group counts as contended after a report showed a send of it from elsewhere:
four reports, so a busy loop's late report does not send it back to being stored here."""


def node_topic(node: str) -> str:
    """The topic of `node`'s requests and replies."""
    return f"{HOMES_TOPIC_PREFIX}node.{node}"


def contended_for(me: str, report: dict[str, list[str]]) -> list[str]:
    """The groups of a node's report (group -> the nodes their sends arrived at) that count as
    contended on node `me`: some send of theirs arrived elsewhere."""
    return [group for group, origins in report.items() if any(o != me for o in origins)]


def home_of(group_id: str, nodes: Iterable[str]) -> str:
    """The node among `nodes` (not empty) with the highest hash of (node, group)."""
    return max(nodes, key=lambda node: _weight(node, group_id))


def _weight(node: str, group_id: str) -> bytes:
    return hashlib.blake2b(f"{node}\0{group_id}".encode(), digest_size=8).digest()


class LiveNodes:
    """The nodes heard from recently, this one always among them. Times are seconds of a
    monotonic clock, passed in."""

    def __init__(self, me: str) -> None:
        self.me = me
        self._heard: dict[str, float] = {}  # the other nodes: when each was last heard
        self._homes: dict[str, str] = {}  # group -> home, for the current live set

    def nodes(self) -> list[str]:
        return [self.me, *self._heard]

    def heard(self, node: str, now: float) -> None:
        if node != self.me:
            if node not in self._heard:
                self._homes.clear()
            self._heard[node] = now

    def left(self, node: str) -> bool:
        """Forget `node` (it said it stops); True if it was live."""
        if self._heard.pop(node, None) is None:
            return False
        self._homes.clear()
        return True

    def expire(self, now: float) -> list[str]:
        """Forget the nodes not heard for ALIVE_TIMEOUT_SECS; the ones forgotten."""
        gone = [n for n, at in self._heard.items() if now - at > ALIVE_TIMEOUT_SECS]
        for node in gone:
            self.left(node)
        return gone

    def home_of(self, group_id: str) -> str:
        if not self._heard:
            return self.me
        home = self._homes.get(group_id)
        if home is None:
            if len(self._homes) >= MEMO_MAX:
                self._homes.clear()
            home = self._homes[group_id] = home_of(group_id, self.nodes())
        return home


MEMO_MAX = 100_000
"""Groups whose home LiveNodes remembers (about 200 bytes each); past it, it starts over."""
