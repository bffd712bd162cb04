"""A group's home (domain/group_homes.py): every node computes the same one from the same live
set, a node leaving moves only the groups it held, and a node not heard in time is gone."""

from __future__ import annotations

from agentplaza.domain.group_homes import ALIVE_TIMEOUT_SECS, LiveNodes, home_of

GROUPS = [f"g_{n}" for n in range(600)]


def test_the_home_is_the_same_whatever_order_the_nodes_are_listed_in() -> None:
    nodes = ["a:1", "b:2", "c:3"]
    for group in GROUPS[:50]:
        assert home_of(group, nodes) == home_of(group, reversed(nodes)) in nodes


def test_groups_spread_over_the_nodes() -> None:
    homes = [home_of(group, ["a:1", "b:2", "c:3"]) for group in GROUPS]
    assert {node: homes.count(node) for node in set(homes)}.keys() == {"a:1", "b:2", "c:3"}
    assert min(homes.count(n) for n in ("a:1", "b:2", "c:3")) > 150  # about 200 each


def test_a_node_leaving_moves_only_the_groups_it_held() -> None:
    before = {group: home_of(group, ["a:1", "b:2", "c:3"]) for group in GROUPS}
    after = {group: home_of(group, ["a:1", "c:3"]) for group in GROUPS}
    moved = {group for group in GROUPS if before[group] != after[group]}
    assert moved == {group for group in GROUPS if before[group] == "b:2"}


def test_live_nodes_hear_expire_and_leave() -> None:
    live = LiveNodes("a:1")
    assert live.nodes() == ["a:1"] and live.home_of("g_1") == "a:1"
    live.heard("b:2", now=10.0)
    live.heard("a:1", now=10.0)  # itself: always there, never expires
    assert sorted(live.nodes()) == ["a:1", "b:2"]
    homes = {group: live.home_of(group) for group in GROUPS[:40]}
    assert set(homes.values()) == {"a:1", "b:2"}
    assert live.expire(now=10.0 + ALIVE_TIMEOUT_SECS) == []
    live.heard("b:2", now=12.0)  # heard again: its timeout starts over
    assert live.expire(now=12.0 + ALIVE_TIMEOUT_SECS + 0.1) == ["b:2"]
    assert live.nodes() == ["a:1"]
    assert all(live.home_of(group) == "a:1" for group in homes)  # the memo was dropped
    live.heard("b:2", now=20.0)
    assert {group: live.home_of(group) for group in homes} == homes
    assert live.left("b:2") is True and live.left("b:2") is False
    assert live.home_of(GROUPS[0]) == "a:1"
