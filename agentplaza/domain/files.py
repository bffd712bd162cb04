"""Uploaded files: ids, content sniffing, filename rules, the views clients see.

Pure: the service feeds the bytes in. See docs/files.md for the endpoints and who may download.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.ids import AccountId, is_sortable_id, new_sortable_id

FILE_ID_PREFIX = "f_"
FILENAME_MAX_CHARS = 255
DEFAULT_FILENAME = "file"
# Enough for every magic number below, and small JSON documents are sniffed whole.
SNIFF_BYTES = 65_536
# What a multipart body may carry beyond the file itself (boundaries, part headers, a long
# filename) before the request-size limit cuts it off.
MULTIPART_OVERHEAD_BYTES = 16_384

OCTET_STREAM = "application/octet-stream"
TEXT_PLAIN = "text/plain; charset=utf-8"
JSON_TYPE = "application/json"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
PDF = "application/pdf"

# Served inline (an <img> can show them); everything else is a download. SVG is never one of
# them: it can carry script, so it is sniffed as text and served as an attachment.
INLINE_TYPES = frozenset({PNG, JPEG, GIF, WEBP})
AVATAR_TYPES = frozenset({PNG, JPEG})

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"%PDF-", PDF),
)
# Text may hold tabs, newlines, form feeds; any other C0 control (or DEL) means binary.
_BINARY_CONTROLS = frozenset(chr(c) for c in (*range(0x09), 0x0B, *range(0x0E, 0x20), 0x7F))
_FILE_URL_PATH = re.compile(r"^/v1/files/(f_[0-9A-HJKMNP-TV-Z]{26})/?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredFile:
    """One uploaded file's metadata; the bytes live in the blob store under `storage_key`."""

    id: str
    owner_id: AccountId
    name: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    public: bool
    created_at_us: int


def new_file_id(now_ms: int, randomness: bytes) -> str:
    """A time-ordered file id with 80 random bits: unguessable, so a URL can be shared."""
    return new_sortable_id(FILE_ID_PREFIX, now_ms, randomness)


def is_file_id(value: str) -> bool:
    return is_sortable_id(FILE_ID_PREFIX, value)


def storage_key_for(file_id: str) -> str:
    """Where a file's bytes live: sharded by the id's last (random) characters, because the
    leading ones are the timestamp and would put a whole day in one directory."""
    return f"{file_id[-2:]}/{file_id}"


def file_id_from_url(url: str) -> str | None:
    """The file id if `url` has the path of one of our downloads (`/v1/files/<id>`), else None.

    The host is not compared: behind proxies one server has many names, and a file id is
    only ever looked up in this server's store.
    """
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    match = _FILE_URL_PATH.match(path)
    return match.group(1) if match else None


def image_url_of(body: str) -> str | None:
    """The `url` of an image message body (`{"url", "width", "height"}`), or None."""
    try:
        image = json.loads(body)
    except (ValueError, RecursionError):
        return None
    url = image.get("url") if isinstance(image, dict) else None
    return url if isinstance(url, str) else None


def sniff_content_type(head: bytes, *, complete: bool) -> str:
    """The media type of a file from its first bytes; never from the name or the client's word.

    Args:
        head: the first SNIFF_BYTES bytes (or all of them).
        complete: `head` is the whole file, so JSON can be parsed rather than guessed.
    """
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    text = _as_text(head, complete=complete)
    if text is None:
        return OCTET_STREAM
    if complete and text.lstrip()[:1] in ("{", "["):
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            return TEXT_PLAIN
        return JSON_TYPE
    return TEXT_PLAIN


def _as_text(head: bytes, *, complete: bool) -> str | None:
    """`head` decoded as UTF-8 text, or None if it looks binary.

    When the file goes on past `head`, a multi-byte character cut at the end is not an error.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        return None
    if _BINARY_CONTROLS.intersection(text):
        return None
    return text


def sanitize_filename(raw: str | None) -> str:
    """A display name safe to store and to put in a Content-Disposition header.

    Keeps the last path component (clients send `C:\\x\\cat.png` or `../cat.png`), drops
    control and format characters (NUL, CR/LF header injection, right-to-left overrides that
    make `gnp.exe` read as `exe.png`), trims spaces and dots, caps the length.
    """
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs"})
    name = name.strip().strip(".").strip()
    if len(name) > FILENAME_MAX_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: FILENAME_MAX_CHARS - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:FILENAME_MAX_CHARS]
    return name or DEFAULT_FILENAME


def content_disposition(name: str, content_type: str) -> str:
    """`inline` for images, `attachment` for the rest, with an ASCII fallback and the UTF-8
    name (RFC 6266 / RFC 8187)."""
    kind = "inline" if content_type in INLINE_TYPES else "attachment"
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\' else "_" for ch in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_view(file: StoredFile, base_url: str) -> dict[str, Any]:
    """A file as clients see it; `url` is absolute (image message bodies need one)."""
    return {
        "id": file.id,
        "url": download_url(file.id, base_url),
        "name": file.name,
        "content_type": file.content_type,
        "size": file.size,
        "sha256": file.sha256,
        "public": file.public,
        "owner_id": file.owner_id,
        "created_at": iso_from_us(file.created_at_us),
    }


def download_url(file_id: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/v1/files/{file_id}"
