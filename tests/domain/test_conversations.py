"""Pure rules of studio conversations: history within a token budget, turn transcripts."""

from __future__ import annotations

from agentplaza.domain.conversations import (
    MessageRole,
    MessageStatus,
    StoredToolCall,
    StudioMessage,
    TurnTranscript,
    estimate_tokens,
    history_for_model,
    message_tokens,
)

USER, ASSISTANT, TOOL = MessageRole.USER, MessageRole.ASSISTANT, MessageRole.TOOL


def msg(
    n: int,
    role: MessageRole,
    content: str = "",
    *,
    calls: tuple[StoredToolCall, ...] = (),
    answers: str | None = None,
    status: MessageStatus = MessageStatus.COMPLETE,
) -> StudioMessage:
    return StudioMessage(
        id=f"m{n}",
        conversation_id="c",
        role=role,
        content=content,
        tool_calls=calls,
        tool_call_id=answers,
        status=status,
    )


def ids(messages: list[StudioMessage]) -> list[str]:
    return [m.id for m in messages]


def test_estimate_is_ceil_of_a_quarter() -> None:
    assert [estimate_tokens("x" * n) for n in (0, 1, 4, 5, 8)] == [0, 1, 1, 2, 2]


def test_everything_fits_a_large_budget() -> None:
    history = [msg(1, USER, "a"), msg(2, ASSISTANT, "b"), msg(3, USER, "c")]
    assert ids(history_for_model(history, 10_000)) == ["m1", "m2", "m3"]


def test_the_newest_messages_within_the_budget() -> None:
    history = [msg(i, USER if i % 2 else ASSISTANT, "x" * 40) for i in range(1, 8)]
    each = message_tokens(history[0])  # 10 + 4
    kept = history_for_model(history, each * 3)
    assert ids(kept) == ["m5", "m6", "m7"]


def test_the_last_message_is_kept_even_over_budget() -> None:
    history = [msg(1, USER, "short"), msg(2, USER, "x" * 4000)]
    assert ids(history_for_model(history, 10)) == ["m2"]


def test_history_starts_with_a_user_message() -> None:
    history = [msg(1, USER, "x" * 400), msg(2, ASSISTANT, "y"), msg(3, USER, "z")]
    kept = history_for_model(history, message_tokens(history[1]) + message_tokens(history[2]))
    assert ids(kept) == ["m3"]


def test_a_tool_result_never_leads_without_its_call() -> None:
    call = StoredToolCall("k1", "calculator", '{"expression": "1+1"}')
    history = [
        msg(1, USER, "q"),
        msg(2, ASSISTANT, "", calls=(call,)),
        msg(3, TOOL, "2", answers="k1"),
        msg(4, ASSISTANT, "two"),
        msg(5, USER, "thanks"),
    ]
    budget = sum(message_tokens(m) for m in history[2:])  # cuts between the call and result
    kept = history_for_model(history, budget)
    assert ids(kept) == ["m5"]
    assert ids(history_for_model(history, 10_000)) == ["m1", "m2", "m3", "m4", "m5"]


def test_calls_without_results_are_dropped() -> None:
    answered = StoredToolCall("k1", "calculator", "{}")
    unanswered = StoredToolCall("k2", "current_time", "{}")
    history = [
        msg(1, USER, "q"),
        msg(2, ASSISTANT, "partial", calls=(answered, unanswered), status=MessageStatus.CANCELLED),
        msg(3, TOOL, "1", answers="k1"),
        msg(4, ASSISTANT, "", calls=(unanswered,), status=MessageStatus.CANCELLED),
        msg(5, TOOL, "orphan", answers="k9"),
        msg(6, ASSISTANT, "", status=MessageStatus.ERROR),
        msg(7, USER, "again"),
    ]
    kept = history_for_model(history, 10_000)
    assert ids(kept) == ["m1", "m2", "m3", "m7"]
    assert kept[1].tool_calls == (answered,) and kept[1].content == "partial"


def test_transcript_of_a_plain_answer() -> None:
    t = TurnTranscript()
    t.add_text("Hel")
    t.add_text("lo")
    assert t.row_count() == 1 and t.all_text() == "Hello"
    [row] = t.rows(["a"], status=MessageStatus.COMPLETE, input_tokens=3, output_tokens=2)
    assert (row.role, row.content, row.input_tokens, row.output_tokens) == (
        ASSISTANT,
        "Hello",
        3,
        2,
    )


def test_transcript_of_tool_rounds() -> None:
    t = TurnTranscript()
    t.add_text("Let me see. ")
    t.add_call(StoredToolCall("k1", "calculator", "{}"))
    t.add_call(StoredToolCall("k2", "current_time", "{}"))
    t.add_result("k1", "calculator", "2", False)
    t.add_result("k2", "current_time", "boom", True)
    t.add_call(StoredToolCall("k3", "calculator", "{}"))  # a second round, no text
    t.add_result("k3", "calculator", "4", False)
    t.add_text("Done.")
    assert t.row_count() == 6 and t.all_text() == "Let me see. Done."
    rows = t.rows(list("abcdef"), status=MessageStatus.COMPLETE, input_tokens=9, output_tokens=8)
    assert [(r.id, r.role, r.content) for r in rows] == [
        ("a", ASSISTANT, "Let me see. "),
        ("b", TOOL, "2"),
        ("c", TOOL, "boom"),
        ("d", ASSISTANT, ""),
        ("e", TOOL, "4"),
        ("f", ASSISTANT, "Done."),
    ]
    assert [c.id for c in rows[0].tool_calls] == ["k1", "k2"]
    assert rows[2].status is MessageStatus.ERROR and rows[2].tool_call_id == "k2"
    assert rows[5].input_tokens == 9 and rows[0].input_tokens == 0


def test_transcript_cancelled_while_a_tool_runs() -> None:
    t = TurnTranscript()
    t.add_text("Checking")
    t.add_call(StoredToolCall("k1", "calculator", "{}"))
    [row] = t.rows(["a"], status=MessageStatus.CANCELLED, input_tokens=0, output_tokens=2)
    assert row.content == "Checking" and [c.id for c in row.tool_calls] == ["k1"]
    assert row.status is MessageStatus.CANCELLED
