"""/studio/api/providers: an owner's LLM endpoints (services/providers.py).

The API key goes in once (create, or a PUT that replaces it) and never comes back: views
carry `api_key_set` and, for keys of 16 characters or more, `api_key_hint` (the last four).
Another owner's provider answers 404 like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import WRITES
from agentplaza.api.dialects.studio.envelope import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    StudioRoute,
    ok,
    page,
)
from agentplaza.domain import providers as rules
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.providers import Provider, ProviderChanges
from agentplaza.services.providers import BASE_URL_MAX_CHARS, Providers, price_view

router = APIRouter(
    prefix="/studio/api/providers", tags=["dialect: /studio"], route_class=StudioRoute
)
ProviderId = Annotated[str, Path(max_length=64)]
ModelId = Annotated[str, Field(max_length=rules.MODEL_ID_MAX_CHARS)]
KIND_FIELD = AliasChoices("provider_type", "kind", "type")
TIMEOUT_FIELD = AliasChoices("timeout", "timeout_secs")


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=rules.NAME_MAX_CHARS * 2)
    kind: str = Field(validation_alias=KIND_FIELD, max_length=32)
    base_url: str | None = Field(default=None, max_length=BASE_URL_MAX_CHARS)
    api_key: str = Field(default="", max_length=rules.API_KEY_MAX_CHARS)
    models: list[ModelId] = Field(default_factory=list, max_length=rules.MODELS_MAX)
    default_model: str | None = Field(default=None, max_length=rules.MODEL_ID_MAX_CHARS)
    prices: dict[str, Any] = Field(default_factory=dict, max_length=rules.PRICES_MAX)
    timeout: float | None = Field(default=None, validation_alias=TIMEOUT_FIELD)
    max_retries: int | None = None
    max_concurrency: int | None = None


class ProviderUpdateIn(BaseModel):
    """Only the fields sent change; `base_url: null` (or "") clears it."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, min_length=1, max_length=rules.NAME_MAX_CHARS * 2)
    kind: str | None = Field(default=None, validation_alias=KIND_FIELD, max_length=32)
    base_url: str | None = Field(default=None, max_length=BASE_URL_MAX_CHARS)
    api_key: str | None = Field(default=None, max_length=rules.API_KEY_MAX_CHARS)
    models: list[ModelId] | None = Field(default=None, max_length=rules.MODELS_MAX)
    default_model: str | None = Field(default=None, max_length=rules.MODEL_ID_MAX_CHARS)
    prices: dict[str, Any] | None = Field(default=None, max_length=rules.PRICES_MAX)
    timeout: float | None = Field(default=None, validation_alias=TIMEOUT_FIELD)
    max_retries: int | None = None
    max_concurrency: int | None = None


def provider_view(provider: Provider, providers: Providers) -> dict[str, Any]:
    return {
        "id": provider.id,
        "name": provider.name,
        "provider_type": provider.kind,
        "base_url": provider.base_url,
        "api_key_set": True,
        "api_key_hint": providers.key_hint(provider),
        "models": list(provider.models),
        "default_model": provider.default_model,
        "prices": price_view(provider.prices),
        "timeout": provider.timeout_secs,
        "max_retries": provider.max_retries,
        "max_concurrency": provider.max_concurrency,
        "owner_id": provider.owner_id,
        "created_at": iso_from_us(provider.created_at_us),
        "updated_at": iso_from_us(provider.updated_at_us),
    }


@router.get("/", summary="Your providers (a page)")
async def list_providers(
    account: CurrentAccount,
    services: ServicesDep,
    page_number: int = Query(1, alias="page", ge=1, le=1_000_000),
    page_size: int = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX),
) -> Response:
    items, total = await services.providers.page(account, page=page_number, page_size=page_size)
    views = [provider_view(p, services.providers) for p in items]
    return page(views, total=total, page=page_number, page_size=page_size)


@router.post("/", status_code=201, dependencies=[WRITES], summary="Add a provider")
async def create_provider(
    body: ProviderIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    provider = await services.providers.create(
        account,
        name=body.name,
        kind=body.kind,
        base_url=body.base_url,
        api_key=body.api_key,
        models=body.models,
        default_model=body.default_model,
        prices=body.prices,
        timeout_secs=body.timeout,
        max_retries=body.max_retries,
        max_concurrency=body.max_concurrency,
    )
    return ok(provider_view(provider, services.providers), "创建成功", status=201)


@router.get("/{provider_id}", summary="One of your providers")
async def get_provider(
    provider_id: ProviderId, account: CurrentAccount, services: ServicesDep
) -> Response:
    provider = await services.providers.get(account, provider_id)
    return ok(provider_view(provider, services.providers))


@router.put("/{provider_id}", dependencies=[WRITES], summary="Change a provider")
async def update_provider(
    provider_id: ProviderId,
    body: ProviderUpdateIn,
    account: CurrentAccount,
    services: ServicesDep,
) -> Response:
    sent = body.model_fields_set
    changes = ProviderChanges(
        name=body.name,
        kind=body.kind,
        base_url=body.base_url or None,
        clear_base_url="base_url" in sent and not body.base_url,
        api_key=body.api_key,
        models=None if body.models is None else tuple(body.models),
        default_model=body.default_model
        if body.default_model is not None
        else ("" if "default_model" in sent else None),
        prices=body.prices,
        timeout_secs=body.timeout,
        max_retries=body.max_retries,
        max_concurrency=body.max_concurrency,
    )
    provider = await services.providers.update(account, provider_id, changes)
    return ok(provider_view(provider, services.providers), "更新成功")


@router.delete("/{provider_id}", dependencies=[WRITES], summary="Delete a provider")
async def delete_provider(
    provider_id: ProviderId, account: CurrentAccount, services: ServicesDep
) -> Response:
    await services.providers.delete(account, provider_id)
    return ok(None, "删除成功")


@router.post(
    "/{provider_id}/test",
    dependencies=[WRITES],
    summary="Test the connection: a real call listing the endpoint's models",
)
async def test_provider(
    provider_id: ProviderId, account: CurrentAccount, services: ServicesDep
) -> Response:
    result = await services.providers.test(account, provider_id)
    return ok(result.as_dict(), "连接成功" if result.ok else "连接失败")
