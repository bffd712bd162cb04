"""The Store is declared once: each method is one `store/queries/*_txn` function (its signature
and docstring), and an engine only says how a function runs (store/base.py)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, InboxItem, Scene
from agentplaza.store.base import Store
from agentplaza.store.engine import TxnMethod
from agentplaza.store.postgres import PostgresStore
from agentplaza.store.queries.messages import new_inbox_items
from agentplaza.store.sqlite import SqliteStore
from tests.contract.storedata import group_message

QUERIES = Path(__file__).parents[2] / "agentplaza" / "store" / "queries"
# PostgreSQL's faster statements for the two hot paths (store/queries/postgres_*.py).
FAST_PATHS = {"append_direct_message", "append_group_message", "ack_up_to"}
# What PostgresStore._remembering passes them besides the caller's arguments.
RUNNER_SUPPLIED = {"known", "autocommit"}


def public_methods() -> dict[str, object]:
    return {
        name: value
        for name, value in vars(Store).items()
        if not name.startswith("_") and (isinstance(value, TxnMethod) or callable(value))
    }


def test_every_method_states_its_guarantee() -> None:
    methods = public_methods()
    assert len(methods) > 90
    undocumented = [name for name, value in methods.items() if not inspect.getdoc(value)]
    assert undocumented == []


@pytest.mark.parametrize(
    ("engine", "allowed"),
    [(SqliteStore, {"start", "close"}), (PostgresStore, {"start", "close"} | FAST_PATHS)],
)
def test_engines_override_only_how_a_txn_runs(engine: type[Store], allowed: set[str]) -> None:
    overridden = {name for name in vars(engine) if name in public_methods()}
    assert overridden <= allowed, overridden - allowed


@pytest.mark.parametrize("name", sorted(FAST_PATHS))
def test_fast_paths_take_the_portable_signature(name: str) -> None:
    portable, fast = vars(Store)[name], vars(PostgresStore)[name]
    assert isinstance(portable, TxnMethod) and isinstance(fast, TxnMethod)
    signature = inspect.signature(fast.fn, eval_str=True)
    supplied = [p for p in signature.parameters.values() if p.name in RUNNER_SUPPLIED]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in supplied)
    callers_see = signature.replace(
        parameters=[p for p in signature.parameters.values() if p.name not in RUNNER_SUPPLIED]
    )
    assert callers_see == inspect.signature(portable.fn, eval_str=True)


def test_methods_bind_once_per_store(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "shape.db"))
    assert store.read_inbox is store.read_inbox
    assert store.append_message.func == store._write  # type: ignore[attr-defined]


def test_queries_ask_for_capabilities_not_engine_names() -> None:
    offenders = [p.name for p in QUERIES.glob("*.py") if ".dialect" in p.read_text()]
    assert offenders == []


async def test_an_ack_by_message_id_reads_no_whole_inbox(tmp_path: Path) -> None:
    """Every statement an ack by message id runs finds inbox rows by an index on both of its
    keys: one that searched the primary key by account alone walked the whole inbox."""
    store = SqliteStore(str(tmp_path / "plan.db"))
    await store.start()
    try:
        statements: list[str] = []
        writer = store._writer
        assert writer is not None
        writer.set_trace_callback(statements.append)
        assert await store.ack(AccountId("acct_nobody"), "msg_unknown", now_us=1) is False
        writer.set_trace_callback(None)
        on_inbox = [s for s in statements if " inbox " in s]
        assert len(on_inbox) == 2  # the UPDATE, then the SELECT that tells "unknown" apart
        for statement in on_inbox:
            plan = [row[3] for row in writer.execute("EXPLAIN QUERY PLAN " + statement)]
            account_only = [step for step in plan if step.endswith("PRIMARY KEY (account_id=?)")]
            assert account_only == [], plan
    finally:
        await store.close()


async def test_statement_journals_stay_in_memory(tmp_path: Path) -> None:
    """A multi-row statement journals the pages it changes; on disk (temp_store=FILE, the
    default) a 50-member fan-out's journal spilled to a temporary file created and deleted
    per send, which tripled the INSERT's cost (bench/README.md, issue 17)."""
    store = SqliteStore(str(tmp_path / "temp.db"))
    await store.start()
    try:
        assert store._writer is not None
        assert store._writer.execute("PRAGMA temp_store").fetchone() == (2,)  # 2 = MEMORY
        assert store._reader_conn().execute("PRAGMA temp_store").fetchone() == (2,)
    finally:
        await store.close()


def test_new_inbox_items_are_the_items_the_constructor_builds() -> None:
    """store/queries/messages.py::new_inbox_items fills InboxItem's slots itself: a field
    added to InboxItem (even with a default) makes this fail until it is filled there too."""
    message = group_message(AccountId("10001"), "grp_shape", "m")
    contexts = [
        DeliveryContext(
            recipient_id=AccountId(f"1000{n}"),
            scene=Scene.GROUP,
            sender_relation="stranger",
            trust_level="minimal",
            intent="mentioned" if n == 2 else None,
        )
        for n in (2, 3)
    ]
    seqs = {AccountId("10002"): 7, AccountId("10003"): 1}
    built = new_inbox_items(message, contexts, seqs)
    assert built == tuple(
        InboxItem(message=message, context=ctx, seq=seqs[ctx.recipient_id], acked=False)
        for ctx in contexts
    )
