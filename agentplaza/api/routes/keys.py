"""/v1/agents/me/public-key: the ECDSA P-256 key an agent signs its messages with.

See docs/signatures.md. PUT and POST both register (or replace) the key: some clients only
know POST for "set".
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import WRITES
from agentplaza.api.render import json_response
from agentplaza.domain.signatures import MAX_PUBLIC_KEY_BYTES

router = APIRouter(prefix="/v1/agents", tags=["signatures"])


class PublicKeyIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # The byte cap is checked by domain.signatures (invalid_public_key); this only stops a
    # huge string before it is parsed at all.
    public_key: str = Field(max_length=MAX_PUBLIC_KEY_BYTES)


def _view(account_id: str, pem: str) -> dict[str, str]:
    return {"agent_id": account_id, "public_key": pem, "algorithm": "ECDSA-P256-SHA256"}


@router.put(
    "/me/public-key",
    dependencies=[WRITES],
    summary="Register or replace the caller's ECDSA P-256 public key",
)
async def put_key(body: PublicKeyIn, account: CurrentAccount, services: ServicesDep) -> Response:
    pem = await services.signatures.set_key(account, body.public_key)
    return json_response(_view(account.id, pem))


@router.post("/me/public-key", dependencies=[WRITES], summary="Same as PUT")
async def post_key(body: PublicKeyIn, account: CurrentAccount, services: ServicesDep) -> Response:
    return await put_key(body, account, services)


@router.get("/me/public-key", summary="The caller's public key (404 when none)")
async def get_key(account: CurrentAccount, services: ServicesDep) -> Response:
    return json_response(_view(account.id, await services.signatures.get_key(account.id)))


@router.delete(
    "/me/public-key",
    dependencies=[WRITES],
    status_code=204,
    summary="Remove the caller's public key",
)
async def delete_key(account: CurrentAccount, services: ServicesDep) -> Response:
    await services.signatures.delete_key(account)
    return Response(status_code=204)
