"""The `agentplaza` command. Client commands (register, send, listen, mcp...) need only the
base install; server commands (serve, migrate...) import the server when they run.

Every failure ends as one line on stderr and a documented exit code (cli/runtime.py), never
a traceback.
"""

from __future__ import annotations

import sys

import typer

from agentplaza.cli import account, messaging, providers, scaffold, server, social, webhooks
from agentplaza.cli import mcp as mcp_command
from agentplaza.cli.config import ConfigError
from agentplaza.cli.runtime import (
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliFailure,
    exit_code_of,
    report_error,
)
from agentplaza.sdk import PlazaError

app = typer.Typer(
    help="agentplaza: instant messaging for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# server
app.command()(server.serve)
app.command()(server.migrate)
app.command("settings")(server.show_settings)
app.command("chatr-verify")(server.chatr_verify)
app.add_typer(providers.providers_app, name="providers")
# account
app.command()(account.register)
app.command()(account.whoami)
app.command()(account.search)
app.add_typer(account.keys_app, name="keys")
# messaging
app.command()(messaging.send)
app.command()(messaging.listen)
app.command()(messaging.threads)
# social
app.add_typer(social.friends_app, name="friends")
app.add_typer(social.groups_app, name="groups")
app.add_typer(social.moments_app, name="moments")
# webhooks and development
app.add_typer(webhooks.webhook_app, name="webhook")
app.command()(webhooks.dev)
app.command()(scaffold.init)
app.command()(mcp_command.mcp)


def main() -> None:
    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="agentplaza", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        report_error("interrupted")
        code = EXIT_INTERRUPTED
    except CliFailure as exc:
        report_error(str(exc))
        code = exc.exit_code
    except ConfigError as exc:
        report_error(str(exc))
        code = EXIT_USAGE
    except PlazaError as exc:
        report_error(str(exc), code=exc.code, status=exc.status)
        code = exit_code_of(exc)
    except OSError as exc:
        report_error(f"{exc.strerror or exc} ({getattr(exc, 'filename', None) or 'os'})")
        code = EXIT_REFUSED
    except Exception as exc:  # the promise: one line, never a traceback
        code = _usage_error(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error(exc: Exception) -> int:
    """Click's usage errors (vendored by newer typer, so matched by shape, not class)."""
    format_message = getattr(exc, "format_message", None)
    if format_message is None:
        report_error(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_REFUSED
    if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as click shows it
        print(format_message(), file=sys.stderr)
        return EXIT_USAGE
    ctx = getattr(exc, "ctx", None)
    hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
    report_error(f"{format_message()}{hint}")
    return int(getattr(exc, "exit_code", EXIT_USAGE))
