"""LLM providers: an owner's model endpoints, their sealed keys, one client per provider.

Owners create, list, change, delete and `test` their providers; the hosted agents,
conversations and chat rooms get a ready client with `client_for` and the prices with
`get_for_owner`. Another owner's provider is never found (404 provider_not_found): nobody
reads, tests or spends with someone else's key. Keys are sealed at rest (llm/sealing.py)
and never leave the server after creation (views show `api_key_set` and the last four
characters). docs/studio.md, "Providers".
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass, replace
from typing import Any

import httpx

from agentplaza.domain import providers as rules
from agentplaza.domain import webhooks as url_rules
from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.ids import AccountId
from agentplaza.domain.providers import ModelPrice, Provider, ProviderChanges
from agentplaza.llm.base import (
    ChatMessage,
    Finished,
    ModelClient,
    ModelRequest,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    Role,
)
from agentplaza.llm.sealing import Sealer, SealError
from agentplaza.logs import redact
from agentplaza.services.runtime import Runtime
from agentplaza.services.webhooks import resolve_host

log = logging.getLogger(__name__)
OpenClient = Callable[[ProviderConfig], ModelClient]
PAGE_SIZE_MAX = 100
BASE_URL_MAX_CHARS = 2048
TEST_ERROR_MAX_CHARS = 500
# A client replaced by an update may still be streaming replies that started before it: it is
# closed this much later (a reply takes seconds to minutes), or when the process stops.
RETIRED_CLIENT_GRACE_SECS = 900.0


@dataclass(frozen=True, slots=True)
class TestResult:
    ok: bool
    latency_ms: float | None
    models: tuple[str, ...]
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "latency_ms": self.latency_ms,
            "models": list(self.models),
            "error": self.error,
        }


class Providers:
    def __init__(self, runtime: Runtime, *, sealer: Sealer, open_client: OpenClient) -> None:
        """`open_client` builds a client for a config (llm/clients.py::open_client); the
        concurrency cap and retries live in the client, so there is one per provider."""
        self._rt = runtime
        self._store = runtime.store
        self._sealer = sealer
        self._open_client = open_client
        self._clients: dict[str, tuple[tuple[Any, ...], ModelClient]] = {}
        # Replaced clients still finishing their streams, each with the task that closes it.
        self._retired: dict[asyncio.Task[None], ModelClient] = {}

    # --- the interface other services use ---------------------------------------------------
    async def get_for_owner(self, owner_id: AccountId, provider_id: str) -> Provider:
        """`owner_id`'s provider (its prices: `rules.cost_usd(p.price_of(model), …)`);
        NotFound (provider_not_found) for any other."""
        found = None
        if rules.is_provider_id(provider_id):
            found = await self._store.get_provider(owner_id, provider_id)
        if found is None:
            raise NotFound(
                f"you have no provider {provider_id[:48]!r}", ErrorCode.PROVIDER_NOT_FOUND
            )
        return found

    async def client_for(self, owner_id: AccountId, provider_id: str) -> ModelClient:
        """The client of `owner_id`'s provider: one per provider per process, rebuilt when the
        provider's connection settings change (on any node: the row is read each time).
        NotFound for another owner's provider; ProviderError when its key cannot be opened
        here (the server secret changed: docs/studio.md, "Providers")."""
        return self._client(await self.get_for_owner(owner_id, provider_id))

    def _client(self, provider: Provider) -> ModelClient:
        # No await between the look-up and the insert: concurrent callers share one client.
        fingerprint = (
            provider.kind,
            provider.base_url,
            provider.api_key_sealed,
            provider.timeout_secs,
            provider.max_retries,
            provider.max_concurrency,
        )
        cached = self._clients.get(provider.id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        config = ProviderConfig(
            kind=ProviderKind(provider.kind),
            base_url=provider.base_url,
            api_key=self._open_key(provider),
            timeout_secs=provider.timeout_secs,
            max_retries=provider.max_retries,
            max_concurrency=provider.max_concurrency,
        )
        client = self._open_client(config)
        self._clients[provider.id] = (fingerprint, client)
        if cached is not None:
            self._retire(cached[1], RETIRED_CLIENT_GRACE_SECS)
        return client

    def _open_key(self, provider: Provider) -> str:
        try:
            return self._sealer.open(provider.api_key_sealed, context=provider.id)
        except SealError as exc:
            log.error("provider %s: its API key cannot be opened: %s", provider.id, exc)
            raise ProviderError(
                "this provider's API key cannot be decrypted by the server (its secret"
                " changed); set the key again with PUT /studio/api/providers/{id}"
            ) from None

    def _retire(self, client: ModelClient, after_secs: float) -> None:
        async def close_later() -> None:
            await asyncio.sleep(after_secs)
            self._retired.pop(task, None)
            with suppress(Exception):
                await client.aclose()

        task = asyncio.get_running_loop().create_task(close_later())
        self._retired[task] = client

    async def close(self) -> None:
        """Close every client, retired ones too (at shutdown, after the work that used them
        has stopped)."""
        clients = [c for _, c in self._clients.values()]
        self._clients.clear()
        for task, client in list(self._retired.items()):
            task.cancel()
            clients.append(client)
        self._retired.clear()
        for client in clients:
            with suppress(Exception):
                await client.aclose()

    # --- owners' CRUD -----------------------------------------------------------------------
    async def create(
        self,
        owner: Account,
        *,
        name: str,
        kind: str,
        base_url: str | None,
        api_key: str,
        models: Sequence[str] = (),
        default_model: str | None = None,
        prices: Mapping[str, Any] | None = None,
        timeout_secs: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
    ) -> Provider:
        checked_kind = rules.parse_kind(kind)
        default = None if not default_model else rules.validate_model_id(default_model)
        provider_id = rules.new_provider_id(
            base64.urlsafe_b64encode(self._rt.random_bytes(15)).decode()
        )
        now = self._rt.clock_us()
        provider = Provider(
            id=provider_id,
            owner_id=owner.id,
            name=rules.validate_name(name),
            kind=checked_kind,
            base_url=await self.check_base_url(base_url),
            api_key_sealed=self._sealer.seal(
                rules.validate_api_key(api_key, kind=checked_kind), context=provider_id
            ),
            models=rules.with_default_model(rules.validate_models(list(models)), default),
            default_model=default,
            prices=rules.validate_prices(prices or {}),
            timeout_secs=rules.validate_timeout(
                rules.TIMEOUT_SECS_DEFAULT if timeout_secs is None else timeout_secs
            ),
            max_retries=rules.validate_retries(
                rules.RETRIES_DEFAULT if max_retries is None else max_retries
            ),
            max_concurrency=rules.validate_concurrency(
                rules.CONCURRENCY_DEFAULT if max_concurrency is None else max_concurrency
            ),
            created_at_us=now,
            updated_at_us=now,
        )
        return await self._store.insert_provider(provider)

    async def page(
        self, owner: Account, *, page: int, page_size: int
    ) -> tuple[list[Provider], int]:
        """One page (1-based) of the owner's providers, oldest first, and the total."""
        if page < 1 or not 1 <= page_size <= PAGE_SIZE_MAX:
            raise Invalid(f"page must be at least 1 and page_size 1-{PAGE_SIZE_MAX}")
        return await self._store.list_providers(
            owner.id, limit=page_size, offset=(page - 1) * page_size
        )

    async def get(self, owner: Account, provider_id: str) -> Provider:
        return await self.get_for_owner(owner.id, provider_id)

    async def update(self, owner: Account, provider_id: str, changes: ProviderChanges) -> Provider:
        """Apply `changes`; a new key or connection setting takes effect for the next request
        (the client is rebuilt), streams already running finish on the old client."""
        current = await self.get_for_owner(owner.id, provider_id)
        kind = current.kind if changes.kind is None else rules.parse_kind(changes.kind)
        base_url = current.base_url
        if changes.clear_base_url:
            base_url = None
        elif changes.base_url is not None:
            base_url = await self.check_base_url(changes.base_url)
        sealed = current.api_key_sealed
        if changes.api_key is not None:
            sealed = self._sealer.seal(
                rules.validate_api_key(changes.api_key, kind=kind), context=current.id
            )
        elif kind != current.kind and kind == rules.KIND_ANTHROPIC:
            rules.validate_api_key(self._key_or_empty(current), kind=kind)
        default = current.default_model
        if changes.default_model is not None:  # "" clears it
            default = (
                rules.validate_model_id(changes.default_model) if changes.default_model else None
            )
        models = current.models
        if changes.models is not None:
            models = rules.validate_models(list(changes.models))
        updated = replace(
            current,
            name=current.name if changes.name is None else rules.validate_name(changes.name),
            kind=kind,
            base_url=base_url,
            api_key_sealed=sealed,
            models=rules.with_default_model(models, default),
            default_model=default,
            prices=current.prices
            if changes.prices is None
            else rules.validate_prices(changes.prices),
            timeout_secs=current.timeout_secs
            if changes.timeout_secs is None
            else rules.validate_timeout(changes.timeout_secs),
            max_retries=current.max_retries
            if changes.max_retries is None
            else rules.validate_retries(changes.max_retries),
            max_concurrency=current.max_concurrency
            if changes.max_concurrency is None
            else rules.validate_concurrency(changes.max_concurrency),
            updated_at_us=max(self._rt.clock_us(), current.updated_at_us + 1),
        )
        if not await self._store.replace_provider(updated):
            raise NotFound(
                f"you have no provider {provider_id[:48]!r}", ErrorCode.PROVIDER_NOT_FOUND
            )
        return updated

    async def delete(self, owner: Account, provider_id: str) -> None:
        if not rules.is_provider_id(provider_id) or not await self._store.delete_provider(
            owner.id, provider_id
        ):
            raise NotFound(
                f"you have no provider {provider_id[:48]!r}", ErrorCode.PROVIDER_NOT_FOUND
            )
        cached = self._clients.pop(provider_id, None)
        if cached is not None:
            self._retire(cached[1], RETIRED_CLIENT_GRACE_SECS)

    def key_hint(self, provider: Provider) -> str | None:
        """The key's last four characters (None when short, or when it cannot be opened)."""
        return rules.key_hint(self._key_or_empty(provider))

    def _key_or_empty(self, provider: Provider) -> str:
        try:
            return self._sealer.open(provider.api_key_sealed, context=provider.id)
        except SealError:
            return ""

    async def check_base_url(self, raw: str | None) -> str | None:
        """The SSRF policy of webhooks (domain/webhooks.py) for a base URL: http(s), no
        credentials, and no loopback/private/link-local host or DNS answer unless
        `llm_allow_private_base_urls` (local model servers such as Ollama)."""
        if raw is None or not raw.strip():
            return None
        if len(raw) > BASE_URL_MAX_CHARS:
            raise Invalid(f"base_url longer than {BASE_URL_MAX_CHARS} characters")
        allow_private = self._rt.settings.llm_allow_private_base_urls
        try:
            checked = url_rules.parse_webhook_url(raw, allow_private=allow_private)
            httpx.URL(checked.url)  # the client's own parser must take it too
            if not allow_private:
                addresses = await resolve_host(checked.host, checked.port)
                url_rules.check_resolved(checked.host, addresses)
        except Invalid as exc:
            raise Invalid("base_url: " + exc.detail.replace("webhook ", ""), exc.code) from None
        except httpx.InvalidURL as exc:
            raise Invalid(f"base_url is not a valid URL: {exc}") from None
        return checked.url.rstrip("/")

    # --- test ---------------------------------------------------------------------------------
    async def test(self, owner: Account, provider_id: str) -> TestResult:
        """A real call: the models the endpoint lists (or, when it lists none, a one-token
        answer from the default model). Failures are the result (ok false, the provider's
        message), never an exception; models found are kept when the owner listed none."""
        provider = await self.get_for_owner(owner.id, provider_id)
        started = self._rt.monotonic()
        bound = provider.timeout_secs * (provider.max_retries + 1) + 10
        try:
            await self.check_base_url(provider.base_url)  # DNS may have changed since
            client = self._client(provider)
            async with asyncio.timeout(bound):
                listed = await self._probe(client, provider)
        except (ProviderError, Invalid, TimeoutError) as exc:
            return TestResult(False, None, provider.models, _error_text(exc))
        except Exception as exc:  # a client library's own error: the owner still gets an answer
            log.warning("provider %s test failed: %s", provider.id, type(exc).__name__)
            return TestResult(False, None, provider.models, _error_text(exc))
        latency_ms = round((self._rt.monotonic() - started) * 1000, 1)
        models = rules.discovered_models(listed) if listed else provider.models
        if not provider.models and models:
            kept = rules.with_default_model(models, provider.default_model)
            await self._store.set_provider_models_if_none(owner.id, provider.id, kept)
        return TestResult(True, latency_ms, models, None)

    async def _probe(self, client: ModelClient, provider: Provider) -> list[str]:
        try:
            return await client.list_models()
        except ProviderError as exc:
            if exc.status not in {404, 405} or provider.default_model is None:
                raise
        # The endpoint has no model list: one token of the default model shows it answers.
        request = ModelRequest(
            model=provider.default_model,
            messages=[ChatMessage(role=Role.USER, content="ping")],
            max_tokens=1,
        )
        async with aclosing(client.stream(request)) as stream:
            async for event in stream:
                if isinstance(event, Finished):
                    break
        return []


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "the provider did not answer in time"
    if isinstance(exc, Invalid):
        text = exc.detail
    elif isinstance(exc, ProviderError):
        text = exc.message if exc.status is None else f"{exc.message} (HTTP {exc.status})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact(text)[:TEST_ERROR_MAX_CHARS]


def price_view(prices: Mapping[str, ModelPrice]) -> dict[str, dict[str, float]]:
    return {m: {"input": p.input, "output": p.output} for m, p in prices.items()}
