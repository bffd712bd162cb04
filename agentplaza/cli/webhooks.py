"""Webhook commands: `webhook set|show|deliveries|delete` and `dev`, a local receiver that
checks each delivery's signature and prints it (stdlib HTTP server: no extra dependency)."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import typer

from agentplaza.cli import config
from agentplaza.cli.runtime import EXIT_USAGE, Cli, CliFailure, client_command, table
from agentplaza.integrations import render
from agentplaza.sdk import Message, WebhookVerificationError

webhook_app = typer.Typer(help="Push delivery to an HTTP endpoint of yours.", no_args_is_help=True)
MAX_BODY_BYTES = 4 * 1024 * 1024


def _save_secret(cli: Cli, answer: dict[str, Any]) -> None:
    if answer.get("webhook_secret"):
        # `agentplaza dev` verifies with it; the server shows it only this once.
        config.update_profile(cli.resolved.profile, {"webhook_secret": answer["webhook_secret"]})


@webhook_app.command("set")
@client_command
def webhook_set(
    cli: Cli,
    url: Annotated[str, typer.Argument(help="http(s) URL the server will POST to.")],
) -> None:
    """Register (or replace) your webhook; its signing secret is saved in the profile."""
    answer = cli.run(lambda c: c.set_webhook(url))
    _save_secret(cli, answer)
    cli.emit(
        answer,
        f"webhook set to {answer.get('url')}\nsecret: {answer.get('webhook_secret')}"
        f"\n(shown once; saved to profile {cli.resolved.profile!r} for `agentplaza dev`)",
    )


@webhook_app.command("show")
@client_command
def webhook_show(cli: Cli) -> None:
    """Your webhook and its delivery counters."""
    hook = cli.run(lambda c: c.webhook())
    keys = ["url", "active", "payload_format", "pending", "delivered", "failed", "last_error"]
    keys += ["last_success_at", "last_failure_at", "created_at"]
    cli.emit(hook, lambda: table(None, ["field", "value"], [[k, hook.get(k)] for k in keys]))


@webhook_app.command("deliveries")
@client_command
def webhook_deliveries(cli: Cli) -> None:
    """Delivery counters and the deliveries given up recently."""
    hook = cli.run(lambda c: c.webhook())
    failures = hook.get("recent_failures") or []
    data = {k: hook.get(k) for k in ("pending", "delivered", "failed")}
    data["recent_failures"] = failures
    cli.emit(
        data,
        lambda: table(
            f"pending {data['pending']}, delivered {data['delivered']}, failed {data['failed']}",
            ["delivery", "message", "seq", "attempts", "failed at", "status", "error"],
            [
                [
                    f.get("delivery_id"),
                    f.get("message_id"),
                    f.get("seq"),
                    f.get("attempts"),
                    f.get("failed_at"),
                    f.get("last_status"),
                    f.get("last_error"),
                ]
                for f in failures
            ],
        ),
    )


@webhook_app.command("delete")
@client_command
def webhook_delete(cli: Cli) -> None:
    """Unregister your webhook (pending deliveries are dropped; sync still has them)."""
    cli.run(lambda c: c.delete_webhook())
    cli.emit({"deleted": True}, "webhook deleted")


@client_command
def dev(
    cli: Cli,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            envvar="AGENTPLAZA_WEBHOOK_SECRET",
            help="Signing secret (default: the one `webhook set` saved in the profile).",
        ),
    ] = None,
    register: Annotated[
        bool,
        typer.Option(
            "--register",
            help="Register http://HOST:PORT/ as your webhook first (the server must allow"
            " private addresses: AGENTPLAZA_WEBHOOK_ALLOW_PRIVATE=1).",
        ),
    ] = False,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Exit after this many deliveries.")
    ] = None,
) -> None:
    """Local webhook receiver for development: verifies signatures, prints deliveries."""
    httpd = _Receiver((host, port), _Handler)
    bound_port = httpd.server_address[1]
    if register:
        answer = cli.run(lambda c: c.set_webhook(f"http://{host}:{bound_port}/"))
        _save_secret(cli, answer)
        secret = answer["webhook_secret"]
    secret = secret or cli.resolved.stored.get("webhook_secret")
    if not secret:
        httpd.server_close()
        raise CliFailure(
            "no webhook secret: pass --secret, run `agentplaza webhook set URL`, or use --register",
            EXIT_USAGE,
        )
    received = 0

    def on_delivery(ok: bool, text: str, payload: dict[str, Any] | None) -> None:
        nonlocal received
        if cli.as_json:
            print(json.dumps({"verified": ok, "error": None if ok else text, "payload": payload}))
        else:
            print(("✓ " if ok else "✗ rejected: ") + text)
        sys.stdout.flush()
        if ok:
            received += 1
            if count is not None and received >= count:
                threading.Thread(target=httpd.shutdown, daemon=True).start()

    httpd.secret = secret
    httpd.on_delivery = on_delivery
    cli.note(f"listening for webhook deliveries on http://{host}:{bound_port}/ (Ctrl-C stops)")
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()


Report = Callable[[bool, str, dict[str, Any] | None], None]


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True
    secret = ""
    on_delivery: Report = staticmethod(lambda ok, text, payload: None)


class _Handler(BaseHTTPRequestHandler):
    server_version = "agentplaza-dev"
    server: _Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413, "too large")
            return
        body = self.rfile.read(length)
        report = self.server.on_delivery
        headers = {k.lower(): v for k, v in self.headers.items()}
        from agentplaza.sdk.webhook import verify

        try:
            payload = verify(body, headers, self.server.secret)
        except WebhookVerificationError as exc:
            self._answer(401, str(exc))
            report(False, str(exc), None)
            return
        self._answer(200, "ok")
        delivery = headers.get("x-agentim-delivery", "?")
        event = headers.get("x-agentim-event", payload.get("event", "?"))
        try:
            line = render.message_line(Message.from_wire(payload))
        except (KeyError, TypeError, ValueError):
            line = json.dumps(payload, ensure_ascii=False)
        report(True, f"{event} (delivery {delivery}) {line}", payload)

    def _answer(self, status: int, text: str) -> None:
        data = json.dumps({"detail": text}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("AGENTPLAZA_DEV_ACCESS_LOG"):
            super().log_message(format, *args)
