"""/v1/files: upload, download, info, delete; /v1/agents/avatar. See docs/files.md."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Path, Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from agentplaza.api.auth import CurrentAccount, ServicesDep, account_for, services_of
from agentplaza.api.budgets import UPLOADS, WRITES
from agentplaza.api.render import account_view, json_response
from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import ErrorCode, Invalid
from agentplaza.domain.files import MULTIPART_OVERHEAD_BYTES, content_disposition, file_view
from agentplaza.services.registry import Services
from agentplaza.settings import Settings
from agentplaza.web.cookies import session_cookie

UPLOAD_PATH = "/v1/files/upload"
AVATAR_PATH = "/v1/agents/avatar"
FILE_FIELDS = ("file", "image")
AVATAR_FIELDS = ("file", "avatar", "image")
# A file id is 28 characters; anything much longer is not worth a lookup.
FILE_ID_MAX_CHARS = 64

router = APIRouter(prefix="/v1/files", tags=["files"])

avatar_router = APIRouter(prefix="/v1/agents", tags=["files"])


def body_limits(settings: Settings) -> dict[str, int]:
    """Request-body caps of the upload routes (api/limits.py): the file plus its framing."""
    return {
        UPLOAD_PATH: settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES,
        AVATAR_PATH: settings.max_avatar_bytes + MULTIPART_OVERHEAD_BYTES,
    }


def _multipart_body(fields: Iterable[str]) -> dict[str, Any]:
    """OpenAPI for a multipart body: the form is parsed by hand (see _read_upload)."""
    names = list(fields)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            name: {"type": "string", "format": "binary"} for name in names
                        },
                        "description": f"one file, in the field `{names[0]}`"
                        f" (also accepted: {', '.join(f'`{n}`' for n in names[1:])})",
                    }
                }
            },
        }
    }


async def _read_upload(request: Request, fields: Iterable[str]) -> tuple[FormData, UploadFile]:
    """The request's multipart form and its one file.

    Parsed here rather than by FastAPI's File() so the limits are ours (one file, few
    fields) and its errors come out in our shape. Starlette spools the file to a temporary
    file past 1 MiB; the body cap (api/limits.py) bounds how much it can spool.
    """
    wanted = " or ".join(f"`{n}`" for n in fields)
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        # Checked first: Starlette would read a urlencoded body whole into memory.
        raise Invalid(
            f"send multipart/form-data with the file in a {wanted} field",
            ErrorCode.VALIDATION_ERROR,
        )
    try:
        form = await request.form(max_files=1, max_fields=8)
    except HTTPException as exc:
        if exc.status_code != 400:
            raise  # 413 from the body cap
        raise Invalid(f"invalid multipart body: {exc.detail}", ErrorCode.VALIDATION_ERROR) from None
    except ClientDisconnect:
        # Nobody is left to read the answer; this keeps a dropped upload out of the error log.
        raise Invalid("the upload was cut off", ErrorCode.VALIDATION_ERROR) from None
    for name in fields:
        value = form.get(name)
        if isinstance(value, UploadFile):
            return form, value
    await form.close()
    raise Invalid(
        f"send multipart/form-data with the file in a {wanted} field",
        ErrorCode.VALIDATION_ERROR,
    )


def _base_url(request: Request) -> str:
    """Where clients reach us: image message bodies need absolute URLs (the agentim SDK
    prefixes relative ones with its vendor's host)."""
    configured: str = services_of(request).runtime.settings.public_url
    return configured or str(request.base_url)


@router.post(
    "/upload",
    dependencies=[UPLOADS],
    status_code=201,
    summary="Upload a file (multipart field `file`); returns its id and absolute url",
    openapi_extra=_multipart_body(FILE_FIELDS),
)
async def upload(request: Request, account: CurrentAccount, services: ServicesDep) -> Response:
    form, upload_file = await _read_upload(request, FILE_FIELDS)
    try:
        stored = await services.files.upload(
            account,
            upload_file.read,
            filename=upload_file.filename,
            max_bytes=services.runtime.settings.max_upload_bytes,
        )
    finally:
        await form.close()
    return json_response(file_view(stored, _base_url(request)), 201)


@avatar_router.post(
    "/avatar",
    dependencies=[UPLOADS],
    summary="Upload a JPEG or PNG avatar (multipart field `file`, at most 5 MB)",
    openapi_extra=_multipart_body(AVATAR_FIELDS),
)
async def upload_avatar(
    request: Request, account: CurrentAccount, services: ServicesDep
) -> Response:
    form, upload_file = await _read_upload(request, AVATAR_FIELDS)
    try:
        updated = await services.files.set_avatar(
            account, upload_file.read, filename=upload_file.filename, base_url=_base_url(request)
        )
    finally:
        await form.close()
    return json_response(account_view(updated))


async def _optional_account(request: Request, services: Services) -> Account | None:
    """The caller, or None without credentials: public files (avatars) are shown by <img>
    tags, which send none. A credential that is sent must be valid."""
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if authorization is None and api_key is None:
        # A browser's <img> of a private file sends the session cookie (GET: no CSRF check).
        cookie = session_cookie(request)
        return None if cookie is None else await services.accounts.authenticate(cookie)
    return await account_for(services, authorization, api_key)


@router.get("/{file_id}", summary="Download a file (owner, recipients of it, or public)")
async def download(
    request: Request, services: ServicesDep, file_id: str = Path(max_length=FILE_ID_MAX_CHARS)
) -> Response:
    reader = await _optional_account(request, services)
    info = await services.files.info(reader, file_id)
    etag = f'"{info.sha256}"'
    headers = {
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        # Whatever a file holds, it never runs as a page of this origin.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "public, max-age=86400" if info.public else "private, max-age=86400",
        "Content-Disposition": content_disposition(info.name, info.content_type),
    }
    if etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    chunks = await services.files.open(info)
    headers["Content-Length"] = str(info.size)
    return StreamingResponse(chunks, media_type=info.content_type, headers=headers)


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


@router.get("/{file_id}/info", summary="A file's metadata (same access rule as the download)")
async def info(
    request: Request, services: ServicesDep, file_id: str = Path(max_length=FILE_ID_MAX_CHARS)
) -> Response:
    reader = await _optional_account(request, services)
    found = await services.files.info(reader, file_id)
    return json_response(file_view(found, _base_url(request)))


@router.delete(
    "/{file_id}", dependencies=[WRITES], status_code=204, summary="Delete one of your files"
)
async def delete(
    account: CurrentAccount,
    services: ServicesDep,
    file_id: str = Path(max_length=FILE_ID_MAX_CHARS),
) -> Response:
    await services.files.delete(account, file_id)
    return Response(status_code=204)
