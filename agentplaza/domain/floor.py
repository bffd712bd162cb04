"""Floor control of a studio chat room: who may speak next, and when the agents must stop.

A pure state machine (no I/O): services/floor_runner.py keeps a room's `FloorState` in the
store and asks these functions before and after every agent turn. docs/studio.md, "Chat rooms
and their WebSocket", states the same rules for clients.

- `next_speakers(state, message, agents, rules)`: the agents that answer `message`, in order.
  A human message also resets the floor: counters cleared, a pause lifted.
- `admit(state, agent_id, tokens_used, rules)`: may this agent take its turn now?
- `after_agent_message(state, content)`: record an agent's turn; a loop pauses the room.

Policies (who answers a human message / an agent message):

- FREE: every agent, in room order / the agents it @mentions (not itself).
- ROUND_ROBIN: the next agent in the rotation / the agents it @mentions.
- MENTION: the agents it @mentions / the agents it @mentions.
- MODERATOR: the moderator (or the agents it @mentions, when it names any) / after the
  moderator's message, the agent it names (a `next: <name>` line, else its first @mention
  of another agent; `next: none` or no name ends the exchange); after anyone else's, the
  moderator again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Any


class FloorPolicy(StrEnum):
    FREE = "free"
    ROUND_ROBIN = "round_robin"
    MENTION = "mention"
    MODERATOR = "moderator"


class SenderType(StrEnum):
    USER = "user"
    AGENT = "agent"
    SYSTEM = "system"


class PauseReason(StrEnum):
    TURN_CAP = "turn_cap"
    """`max_consecutive_agent_turns` agent messages in a row: a human must speak."""
    LOOP = "loop"
    """Agents are repeating each other (see `is_repeat`)."""


class Admission(StrEnum):
    SPEAK = "speak"
    PAUSED = "paused"
    """The room is paused (already, or now by the turn cap): nobody speaks until a human."""
    OVER_BUDGET = "over_budget"
    """This agent spent its token budget in this room; the others may still speak."""


DEFAULT_MAX_CONSECUTIVE_AGENT_TURNS = 6
MAX_CONSECUTIVE_AGENT_TURNS_LIMIT = 100
LOOP_WINDOW = 4
"""A new agent message is compared with this many agent messages before it."""
LOOP_SIMILARITY = 0.9
"""difflib ratio at or above which two normalized messages count as the same."""
CHAR_COMPARE_MAX = 200
WORD_COMPARE_MAX = 300
LOOP_REPEATS = 2
"""Repeats within one run of agent messages (since the last human one) that pause the room:
one agent echoing another once is a conversation; twice is a loop."""
_NONE_WORDS = frozenset({"none", "nobody", "human", "humans", "user", "stop", "-"})
_NAME_CHAR = re.compile(r"[\w\-]")
_NEXT_LINE = re.compile(r"^\s*next\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RoomAgentRef:
    """An agent of the room as the floor sees it; rooms list them in the order added."""

    id: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FloorRules:
    policy: FloorPolicy = FloorPolicy.FREE
    max_consecutive_agent_turns: int = DEFAULT_MAX_CONSECUTIVE_AGENT_TURNS
    agent_token_budget: int = 0
    """Tokens (input + output) each agent may spend in the room; 0 = unlimited."""
    moderator_agent_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FloorMessage:
    sender_type: SenderType
    sender_id: str
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FloorState:
    """What the floor remembers between messages (stored as JSON with the room)."""

    consecutive_agent_turns: int = 0
    last_round_robin_id: str | None = None
    recent: tuple[str, ...] = ()
    """The last LOOP_WINDOW agent messages, normalized (`normalize`), oldest first."""
    repeats: int = 0
    paused: bool = False
    pause_reason: PauseReason | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "consecutive_agent_turns": self.consecutive_agent_turns,
            "last_round_robin_id": self.last_round_robin_id,
            "recent": list(self.recent),
            "repeats": self.repeats,
            "paused": self.paused,
            "pause_reason": self.pause_reason.value if self.pause_reason else None,
        }

    @classmethod
    def from_json(cls, data: Any) -> FloorState:
        """The state stored by `to_json`; anything unreadable becomes a fresh floor (a state
        lost is a floor reset, never a room that cannot speak again)."""
        if not isinstance(data, dict):
            return cls()
        try:
            reason = data.get("pause_reason")
            return cls(
                consecutive_agent_turns=max(0, int(data.get("consecutive_agent_turns", 0))),
                last_round_robin_id=_opt_str(data.get("last_round_robin_id")),
                recent=tuple(str(x) for x in data.get("recent", ()))[-LOOP_WINDOW:],
                repeats=max(0, int(data.get("repeats", 0))),
                paused=bool(data.get("paused", False)),
                pause_reason=PauseReason(reason) if reason else None,
            )
        except (TypeError, ValueError):
            return cls()


@dataclass(frozen=True, slots=True)
class FloorDecision:
    state: FloorState
    speakers: tuple[str, ...]
    """Agent ids, in the order they speak."""
    resumed: bool = False
    """A human message lifted a pause."""


@dataclass(frozen=True, slots=True)
class AfterTurn:
    state: FloorState
    paused: PauseReason | None
    """Set when this message paused the room."""


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def normalize(content: str) -> str:
    """Case folded, whitespace collapsed, trimmed: what loop detection compares."""
    return _SPACES.sub(" ", content).strip().casefold()


def is_repeat(candidate: str, earlier: Sequence[str]) -> bool:
    """True when the normalized `candidate` equals one of `earlier` or is at least
    LOOP_SIMILARITY alike (difflib.SequenceMatcher ratio). Empty messages never repeat.

    The ratio is quadratic: short messages (≤ CHAR_COMPARE_MAX characters) are compared by
    character, longer ones by their first WORD_COMPARE_MAX words, which bounds the time of a
    comparison (a few ms) whatever the messages' length."""
    if not candidate:
        return False
    for previous in earlier:
        if candidate == previous:
            return True
        a: Sequence[str] = candidate
        b: Sequence[str] = previous
        if max(len(candidate), len(previous)) > CHAR_COMPARE_MAX:
            a, b = candidate.split()[:WORD_COMPARE_MAX], previous.split()[:WORD_COMPARE_MAX]
        matcher = SequenceMatcher(None, a, b, autojunk=False)
        # The cheap upper bounds first: most non-repeats stop there.
        if (
            matcher.real_quick_ratio() >= LOOP_SIMILARITY
            and matcher.quick_ratio() >= LOOP_SIMILARITY
            and matcher.ratio() >= LOOP_SIMILARITY
        ):
            return True
    return False


def mentioned(content: str, agents: Sequence[RoomAgentRef]) -> list[str]:
    """Ids of the agents `content` @mentions by name (case-insensitive) or id, in the order of
    their first mention. A mention ends where a name cannot go on: `@Bob` does not mention
    `Bobby`, and `@Bobby` does not mention `Bob`."""
    folded = content.casefold()
    found: list[tuple[int, str]] = []
    for agent in agents:
        first: int | None = None
        for handle in {agent.name.casefold(), agent.id.casefold()}:
            if not handle:
                continue
            start = 0
            needle = "@" + handle
            while (at := folded.find(needle, start)) >= 0:
                end = at + len(needle)
                if end >= len(folded) or not _NAME_CHAR.match(folded[end]):
                    first = at if first is None else min(first, at)
                    break
                start = at + 1
        if first is not None:
            found.append((first, agent.id))
    found.sort()
    return [agent_id for _, agent_id in found]


def moderator_pick(content: str, agents: Sequence[RoomAgentRef], moderator_id: str) -> str | None:
    """The agent a moderator's message hands the floor to: the last `next: <name or id>` line
    (an optional @ allowed; `none`, `human`, `nobody`, `stop` hand it to nobody), else its
    first @mention of another agent. The moderator never picks itself."""
    lines = _NEXT_LINE.findall(content)
    if lines:
        wanted = lines[-1].strip().lstrip("@").strip().casefold()
        if wanted in _NONE_WORDS:
            return None
        for agent in agents:
            if agent.id != moderator_id and wanted in {agent.id.casefold(), agent.name.casefold()}:
                return agent.id
        return None
    others = [a for a in mentioned(content, agents) if a != moderator_id]
    return others[0] if others else None


def _round_robin_next(state: FloorState, agents: Sequence[RoomAgentRef]) -> str:
    ids = [a.id for a in agents]
    if state.last_round_robin_id in ids:
        return ids[(ids.index(state.last_round_robin_id) + 1) % len(ids)]
    return ids[0]


def next_speakers(
    state: FloorState, message: FloorMessage, agents: Sequence[RoomAgentRef], rules: FloorRules
) -> FloorDecision:
    """Who answers `message` (module docstring), and the state after it was posted.

    A human message resets the floor first (counters, loop memory, a pause). Nobody answers a
    system message, and nobody answers anything while the room is paused."""
    resumed = False
    if message.sender_type is SenderType.USER:
        resumed = state.paused
        state = FloorState(last_round_robin_id=state.last_round_robin_id)
    if message.sender_type is SenderType.SYSTEM or state.paused or not agents:
        return FloorDecision(state, (), resumed)
    ids = [a.id for a in agents]
    mentions = [a for a in mentioned(message.content, agents) if a != message.sender_id]
    speakers: list[str]
    if message.sender_type is SenderType.USER:
        if rules.policy is FloorPolicy.FREE:
            speakers = ids
        elif rules.policy is FloorPolicy.ROUND_ROBIN:
            speakers = [_round_robin_next(state, agents)]
            state = replace(state, last_round_robin_id=speakers[0])
        elif rules.policy is FloorPolicy.MENTION or mentions:
            # MODERATOR too: a human may still address agents directly.
            speakers = mentions
        else:
            speakers = [rules.moderator_agent_id] if rules.moderator_agent_id in ids else []
    elif rules.policy is FloorPolicy.MODERATOR and rules.moderator_agent_id in ids:
        if message.sender_id == rules.moderator_agent_id:
            pick = moderator_pick(message.content, agents, rules.moderator_agent_id)
            speakers = [pick] if pick else []
        else:
            speakers = [rules.moderator_agent_id] if rules.moderator_agent_id else []
    else:
        speakers = mentions
    return FloorDecision(state, tuple(speakers), resumed)


def admit(
    state: FloorState, agent_id: str, tokens_used: int, rules: FloorRules
) -> tuple[FloorState, Admission]:
    """May `agent_id`, having spent `tokens_used` in this room, speak now? Reaching the turn
    cap pauses the room (PAUSED, with the state now paused for TURN_CAP)."""
    if state.paused:
        return state, Admission.PAUSED
    if state.consecutive_agent_turns >= rules.max_consecutive_agent_turns:
        return replace(state, paused=True, pause_reason=PauseReason.TURN_CAP), Admission.PAUSED
    if rules.agent_token_budget > 0 and tokens_used >= rules.agent_token_budget:
        return state, Admission.OVER_BUDGET
    return state, Admission.SPEAK


def after_agent_message(state: FloorState, content: str) -> AfterTurn:
    """Record an agent's message: one more agent turn in a row, and loop detection: a
    message that `is_repeat` of the last LOOP_WINDOW agent messages counts one repeat;
    LOOP_REPEATS in one run pause the room (LOOP)."""
    text = normalize(content)
    repeats = state.repeats + (1 if is_repeat(text, state.recent) else 0)
    state = replace(
        state,
        consecutive_agent_turns=state.consecutive_agent_turns + 1,
        recent=(*state.recent, text)[-LOOP_WINDOW:],
        repeats=repeats,
    )
    if repeats >= LOOP_REPEATS and not state.paused:
        return AfterTurn(
            replace(state, paused=True, pause_reason=PauseReason.LOOP), PauseReason.LOOP
        )
    return AfterTurn(state, None)


def pause_message(reason: PauseReason, rules: FloorRules) -> str:
    """The `system` event's text for a pause."""
    if reason is PauseReason.TURN_CAP:
        return (
            f"agents paused: {rules.max_consecutive_agent_turns} agent messages in a row;"
            " a human message resumes the room"
        )
    return (
        "agents paused: they are repeating each other (loop detected);"
        " a human message resumes the room"
    )
