"""File rules: sniffing, filename sanitizing, ids and URLs, Content-Disposition."""

from __future__ import annotations

import json

import pytest

from agentplaza.domain.files import (
    FILENAME_MAX_CHARS,
    SNIFF_BYTES,
    content_disposition,
    file_id_from_url,
    image_url_of,
    is_file_id,
    new_file_id,
    sanitize_filename,
    sniff_content_type,
    storage_key_for,
)

FILE_ID = new_file_id(1_700_000_000_000, bytes(range(10)))


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "application/octet-stream"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"hello\nworld\t!\r\n", "text/plain; charset=utf-8"),
        ("héllo wörld ✓".encode(), "text/plain; charset=utf-8"),
        (b'{"a": [1, 2]}', "application/json"),
        (b"[1, 2", "text/plain; charset=utf-8"),
        (b"\xef\xbb\xbf{}", "application/json"),
        (b"\x00\x01\x02binary", "application/octet-stream"),
        (b"\xff\xfe\x00\x00", "application/octet-stream"),
        (b"text with an escape \x1b[31m", "application/octet-stream"),
    ],
)
def test_sniff_content_type_of_a_whole_file(head: bytes, expected: str) -> None:
    assert sniff_content_type(head, complete=True) == expected


@pytest.mark.parametrize(
    "markup",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    ],
)
def test_markup_is_never_sniffed_as_something_a_browser_runs(markup: bytes) -> None:
    assert sniff_content_type(markup, complete=True) == "text/plain; charset=utf-8"


def test_text_cut_inside_a_character_is_still_text_when_the_file_goes_on() -> None:
    head = ("a" * (SNIFF_BYTES - 1)).encode() + "é".encode()[:1]
    assert sniff_content_type(head, complete=False) == "text/plain; charset=utf-8"
    assert sniff_content_type(head, complete=True) == "application/octet-stream"


def test_json_is_only_claimed_for_a_file_sniffed_whole() -> None:
    assert sniff_content_type(b'{"a": 1}', complete=False) == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("cat.png", "cat.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("evil\r\nSet-Cookie: x.png", "evilSet-Cookie: x.png"),
        ("nul\x00.txt", "nul.txt"),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("  .hidden  ", "hidden"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("dir/", "file"),
        ("名前.txt", "名前.txt"),
    ],
)
def test_sanitize_filename(raw: str | None, expected: str) -> None:
    assert sanitize_filename(raw) == expected


def test_long_filenames_are_cut_keeping_the_extension() -> None:
    name = sanitize_filename("x" * 1000 + ".png")
    assert len(name) == FILENAME_MAX_CHARS
    assert name.endswith("x.png")
    assert len(sanitize_filename("y" * 1000)) == FILENAME_MAX_CHARS


def test_file_ids_are_sortable_and_recognised() -> None:
    assert FILE_ID.startswith("f_")
    assert len(FILE_ID) == 28
    assert is_file_id(FILE_ID)
    assert not is_file_id("m_" + FILE_ID[2:])
    assert not is_file_id("f_../../etc/passwd")
    later = new_file_id(1_700_000_000_001, bytes(10))
    assert later > FILE_ID
    assert storage_key_for(FILE_ID) == f"{FILE_ID[-2:]}/{FILE_ID}"


@pytest.mark.parametrize(
    ("url", "found"),
    [
        (f"https://plaza.example/v1/files/{FILE_ID}", True),
        (f"http://127.0.0.1:8000/v1/files/{FILE_ID}/", True),
        (f"https://plaza.example/v1/files/{FILE_ID}?download=1", True),
        (f"https://plaza.example/v1/files/{FILE_ID}/info", False),
        (f"https://plaza.example/prefix/v1/files/{FILE_ID}", False),
        ("https://plaza.example/v1/files/f_nope", False),
        ("https://example.com/cat.png", False),
        ("http://[::1", False),
        ("", False),
    ],
)
def test_file_id_from_url(url: str, found: bool) -> None:
    assert file_id_from_url(url) == (FILE_ID if found else None)


def test_image_url_of_an_image_body() -> None:
    body = json.dumps({"url": "https://x.example/a.png", "width": 1, "height": 2})
    assert image_url_of(body) == "https://x.example/a.png"
    assert image_url_of('{"url": 5}') is None
    assert image_url_of("[1]") is None
    assert image_url_of("not json") is None


def test_content_disposition_is_inline_only_for_images() -> None:
    assert content_disposition("cat.png", "image/png").startswith('inline; filename="cat.png"')
    header = content_disposition('a "quoted" é.txt', "text/plain; charset=utf-8")
    assert header.startswith('attachment; filename="a _quoted_ _.txt"')
    assert header.endswith("filename*=UTF-8''a%20%22quoted%22%20%C3%A9.txt")
    assert "\r" not in content_disposition("x\r\n.pdf", "application/pdf")
