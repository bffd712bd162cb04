"""Floor control of studio chat rooms (domain/floor.py): policies, turn cap, budgets, loops."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agentplaza.domain.floor import (
    LOOP_WINDOW,
    Admission,
    FloorDecision,
    FloorMessage,
    FloorPolicy,
    FloorRules,
    FloorState,
    PauseReason,
    RoomAgentRef,
    SenderType,
    admit,
    after_agent_message,
    is_repeat,
    mentioned,
    moderator_pick,
    next_speakers,
    normalize,
)

AGENTS = (RoomAgentRef("a1", "Alice"), RoomAgentRef("a2", "Bob"), RoomAgentRef("a3", "Bobby"))


def human(content: str) -> FloorMessage:
    return FloorMessage(sender_type=SenderType.USER, sender_id="u1", content=content)


def agent(agent_id: str, content: str) -> FloorMessage:
    return FloorMessage(sender_type=SenderType.AGENT, sender_id=agent_id, content=content)


def decide(
    message: FloorMessage,
    policy: FloorPolicy,
    state: FloorState | None = None,
    moderator_agent_id: str | None = None,
) -> FloorDecision:
    rules = FloorRules(policy=policy, moderator_agent_id=moderator_agent_id)
    return next_speakers(state or FloorState(), message, AGENTS, rules)


def test_free_every_agent_answers_a_human_in_room_order() -> None:
    assert decide(human("hi all"), FloorPolicy.FREE).speakers == ("a1", "a2", "a3")


def test_agents_answer_an_agent_only_when_it_mentions_them() -> None:
    for policy in (FloorPolicy.FREE, FloorPolicy.ROUND_ROBIN, FloorPolicy.MENTION):
        assert decide(agent("a1", "done here"), policy).speakers == ()
        assert decide(agent("a1", "@bob, @Alice what now?"), policy).speakers == ("a2",)


def test_round_robin_rotates_one_agent_per_human_message() -> None:
    state = FloorState()
    order = []
    for _ in range(5):
        decision = decide(human("next"), FloorPolicy.ROUND_ROBIN, state)
        assert len(decision.speakers) == 1
        order.append(decision.speakers[0])
        state = decision.state
    assert order == ["a1", "a2", "a3", "a1", "a2"]


def test_round_robin_survives_the_last_speaker_leaving() -> None:
    state = FloorState(last_round_robin_id="gone")
    assert decide(human("x"), FloorPolicy.ROUND_ROBIN, state).speakers == ("a1",)


def test_mention_by_name_or_id_and_nobody_unmentioned() -> None:
    assert decide(human("hello"), FloorPolicy.MENTION).speakers == ()
    assert decide(human("@Bobby then @a1"), FloorPolicy.MENTION).speakers == ("a3", "a1")
    assert decide(human("@BOB?"), FloorPolicy.MENTION).speakers == ("a2",)


def test_mentions_need_a_name_boundary() -> None:
    assert mentioned("@Bobby", AGENTS) == ["a3"]
    assert mentioned("@Bob.", AGENTS) == ["a2"]
    assert mentioned("@Bobbie and bob@Alice", AGENTS) == ["a1"]
    assert mentioned("mail alice@example", AGENTS) == []


def test_moderator_speaks_first_and_hands_the_floor_on() -> None:
    assert decide(human("topic?"), FloorPolicy.MODERATOR, moderator_agent_id="a1").speakers == (
        "a1",
    )
    # A human may still address an agent directly.
    assert decide(human("@Bob you"), FloorPolicy.MODERATOR, moderator_agent_id="a1").speakers == (
        "a2",
    )
    assert decide(
        agent("a1", "thanks.\nnext: Bobby"), FloorPolicy.MODERATOR, moderator_agent_id="a1"
    ).speakers == ("a3",)
    assert decide(
        agent("a1", "over to @Bob"), FloorPolicy.MODERATOR, moderator_agent_id="a1"
    ).speakers == ("a2",)
    assert (
        decide(
            agent("a1", "next: none @Bob"), FloorPolicy.MODERATOR, moderator_agent_id="a1"
        ).speakers
        == ()
    )
    assert (
        decide(agent("a1", "that is all"), FloorPolicy.MODERATOR, moderator_agent_id="a1").speakers
        == ()
    )
    # Anyone else's message goes back to the moderator.
    assert decide(
        agent("a3", "my view"), FloorPolicy.MODERATOR, moderator_agent_id="a1"
    ).speakers == ("a1",)


def test_moderator_pick_rules() -> None:
    assert moderator_pick("next: @a2", AGENTS, "a1") == "a2"
    assert moderator_pick("next: a1", AGENTS, "a1") is None  # never itself
    assert moderator_pick("next: Carol", AGENTS, "a1") is None
    assert moderator_pick("Next : bob\nnext: bobby", AGENTS, "a1") == "a3"  # the last line
    assert moderator_pick("@Alice @Bobby", AGENTS, "a1") == "a3"


def test_moderator_missing_from_the_room_means_nobody_unmentioned() -> None:
    decision = decide(human("hi"), FloorPolicy.MODERATOR, moderator_agent_id="gone")
    assert decision.speakers == ()


def test_turn_cap_pauses_and_a_human_resumes() -> None:
    rules = FloorRules(max_consecutive_agent_turns=2)
    state = FloorState()
    for text in ("one", "two"):
        state, verdict = admit(state, "a1", 0, rules)
        assert verdict is Admission.SPEAK
        state = after_agent_message(state, text).state
    state, verdict = admit(state, "a2", 0, rules)
    assert verdict is Admission.PAUSED
    assert state.paused and state.pause_reason is PauseReason.TURN_CAP
    assert next_speakers(state, agent("a1", "@Bob"), AGENTS, rules).speakers == ()
    decision = next_speakers(state, human("go on"), AGENTS, rules)
    assert decision.resumed and not decision.state.paused
    assert decision.state.consecutive_agent_turns == 0
    assert admit(decision.state, "a1", 0, rules)[1] is Admission.SPEAK


def test_token_budget_stops_only_that_agent() -> None:
    rules = FloorRules(agent_token_budget=100)
    assert admit(FloorState(), "a1", 99, rules)[1] is Admission.SPEAK
    state, verdict = admit(FloorState(), "a1", 100, rules)
    assert verdict is Admission.OVER_BUDGET and not state.paused
    assert admit(FloorState(), "a1", 10**9, FloorRules())[1] is Admission.SPEAK  # 0: unlimited


def test_two_agents_bouncing_the_same_content_pause() -> None:
    state = FloorState()
    state = after_agent_message(state, "@Bob let us talk about loops").state
    assert after_agent_message(state, "something else").paused is None
    state = after_agent_message(state, "@bob  LET us talk about loops").state  # one repeat
    assert not state.paused
    outcome = after_agent_message(state, "@Bob let us talk about loops!")
    assert outcome.paused is PauseReason.LOOP and outcome.state.paused


def test_a_human_message_clears_the_loop_memory() -> None:
    state = after_agent_message(FloorState(), "same").state
    state = after_agent_message(state, "same").state
    state = next_speakers(state, human("new topic"), AGENTS, FloorRules()).state
    assert state.repeats == 0 and state.recent == ()
    assert after_agent_message(state, "same").paused is None


def test_loop_memory_is_a_window() -> None:
    state = after_agent_message(FloorState(), "the old thing").state
    for i in range(LOOP_WINDOW):
        state = after_agent_message(
            state, f"entirely different message number {i} " * (i + 1)
        ).state
    assert after_agent_message(state, "the old thing").state.repeats == 0


def test_similarity_threshold() -> None:
    base = normalize("The quick brown fox jumps over the lazy dog near the river bank")
    assert is_repeat(
        normalize("the quick brown fox jumps over the lazy dog near the river bank."), [base]
    )
    assert not is_repeat(normalize("a completely different reply about cats"), [base])
    assert not is_repeat("", [""])


def test_state_round_trips_through_json_and_garbage_resets() -> None:
    state = FloorState(
        consecutive_agent_turns=3,
        last_round_robin_id="a2",
        recent=("x", "y"),
        repeats=1,
        paused=True,
        pause_reason=PauseReason.LOOP,
    )
    assert FloorState.from_json(state.to_json()) == state
    assert FloorState.from_json(None) == FloorState()
    assert FloorState.from_json({"pause_reason": "bogus"}) == FloorState()
    assert FloorState.from_json({"consecutive_agent_turns": "nan?"}) == FloorState()


def test_nobody_answers_system_messages_or_an_empty_room() -> None:
    system = FloorMessage(sender_type=SenderType.SYSTEM, sender_id="", content="@Bob joined")
    assert decide(system, FloorPolicy.MENTION).speakers == ()
    assert next_speakers(FloorState(), human("hi"), (), FloorRules()).speakers == ()


texts = st.text(alphabet=st.sampled_from("ab @\n"), max_size=12)


@given(st.lists(texts, max_size=30), st.integers(min_value=1, max_value=8))
def test_agents_never_exceed_the_cap_between_humans(replies: list[str], cap: int) -> None:
    """Whatever agents say, at most `cap` of them speak before a human does, and after a
    pause nobody is admitted."""
    rules = FloorRules(max_consecutive_agent_turns=cap)
    state = FloorState()
    spoken = 0
    for text in replies:
        state, verdict = admit(state, "a1", 0, rules)
        if verdict is not Admission.SPEAK:
            assert state.paused
            break
        spoken += 1
        state = after_agent_message(state, text).state
        if state.paused:
            assert admit(state, "a2", 0, rules)[1] is Admission.PAUSED
            break
    assert spoken <= cap


@given(st.lists(st.sampled_from(["same thing", "Same  thing", "SAME THING "]), min_size=3))
def test_any_bounce_of_one_content_pauses_by_the_third(replies: list[str]) -> None:
    state = FloorState()
    for i, text in enumerate(replies):
        outcome = after_agent_message(state, text)
        state = outcome.state
        if i >= 2:
            assert state.paused and state.pause_reason is PauseReason.LOOP
            break


@given(st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=7))
def test_round_robin_visits_every_agent_once_per_cycle(n: int, start: int) -> None:
    agents = [RoomAgentRef(f"id{i}", f"name{i}") for i in range(n)]
    state = FloorState(last_round_robin_id=f"id{start}")  # id{start} may not be in the room
    rules = FloorRules(policy=FloorPolicy.ROUND_ROBIN)
    seen: list[str] = []
    for _ in range(n):
        decision = next_speakers(state, human("x"), agents, rules)
        state = decision.state
        seen.extend(decision.speakers)
    assert sorted(seen) == sorted(a.id for a in agents)


def test_long_messages_compare_by_words_in_bounded_time() -> None:
    """A quadratic ratio over 20,000 characters would stall the server for seconds."""
    words = [f"w{i % 37}" for i in range(4000)]
    long = normalize(" ".join(words))
    other = normalize(" ".join(reversed(words)))
    assert is_repeat(long + " tail", [long])  # near-equal long messages still repeat
    assert not is_repeat(other, [long] * LOOP_WINDOW)
