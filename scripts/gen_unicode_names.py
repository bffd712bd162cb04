#!/usr/bin/env python3
"""Generate agentplaza/domain/unicode/names.json from Unicode's own data files.

The display-name rules (agentplaza/domain/names.py) need three Unicode properties that Python's
`unicodedata` does not carry; this script keeps just those, so the package ships a small,
pinned table instead of the whole database:

- confusable prototypes (UTS #39 `confusables.txt`): source code point -> prototype sequence;
- Script_Extensions for every assigned code point (`Scripts.txt` + `ScriptExtensions.txt`,
  short names from `PropertyValueAliases.txt`), as merged ranges; a code point outside every
  range is unassigned (script Unknown);
- Default_Ignorable_Code_Point (`DerivedCoreProperties.txt`), as ranges.

Usage: scripts/gen_unicode_names.py DIR  where DIR holds, for one Unicode version, the files
  https://www.unicode.org/Public/<v>/ucd/{Scripts,ScriptExtensions,PropertyValueAliases,
  DerivedCoreProperties}.txt and https://www.unicode.org/Public/security/<v>/confusables.txt
The output is deterministic; changing its version changes stored skeletons (accounts
.name_skeleton): ship a migration that recomputes them with the new table.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "agentplaza/domain/unicode/names.json"
_RANGE = re.compile(r"^([0-9A-F]{4,6})(?:\.\.([0-9A-F]{4,6}))?\s*;\s*([^#]+?)\s*(?:#|$)")
_VERSION = re.compile(r"^#\s*(?:Version:\s*|\w+-)(\d+\.\d+\.\d+)")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _version(path: Path) -> str:
    for line in _lines(path)[:10]:
        found = _VERSION.match(line)
        if found:
            return found.group(1)
    raise SystemExit(f"{path}: no version in its header")


def _ranges(path: Path) -> list[tuple[int, int, str]]:
    out = []
    for line in _lines(path):
        found = _RANGE.match(line)
        if found:
            start = int(found.group(1), 16)
            end = int(found.group(2), 16) if found.group(2) else start
            out.append((start, end, found.group(3).strip()))
    return out


def _merge(points: dict[int, str]) -> list[list[int | str]]:
    merged: list[list[int | str]] = []
    for cp in sorted(points):
        value = points[cp]
        if merged and merged[-1][1] == cp - 1 and merged[-1][2] == value:
            merged[-1][1] = cp
        else:
            merged.append([cp, cp, value])
    return merged


def main(source: Path) -> None:
    versions = {
        name: _version(source / name)
        for name in ("confusables.txt", "Scripts.txt", "DerivedCoreProperties.txt")
    }
    if len(set(versions.values())) != 1:
        raise SystemExit(f"mixed Unicode versions: {versions}")

    short = {}
    for line in _lines(source / "PropertyValueAliases.txt"):
        parts = [p.strip() for p in line.split("#")[0].split(";")]
        if len(parts) >= 3 and parts[0] == "sc":
            short[parts[2]] = parts[1]
    scripts: dict[int, str] = {}
    for start, end, name in _ranges(source / "Scripts.txt"):
        for cp in range(start, end + 1):
            scripts[cp] = short[name]
    for start, end, names in _ranges(source / "ScriptExtensions.txt"):
        for cp in range(start, end + 1):
            scripts[cp] = " ".join(sorted(names.split()))

    ignorable = [
        [start, end]
        for start, end, prop in _ranges(source / "DerivedCoreProperties.txt")
        if prop == "Default_Ignorable_Code_Point"
    ]

    prototypes = {}
    for line in _lines(source / "confusables.txt"):
        fields = [f.strip() for f in line.split("#")[0].split(";")]
        if len(fields) >= 2 and fields[0]:
            prototypes[fields[0]] = fields[1]

    data = {
        "unicode_version": versions["confusables.txt"],
        "sources": "https://www.unicode.org/Public/{v}/ucd/ and /Public/security/{v}/",
        "licence": "Unicode License v3 (LICENSE-UNICODE.txt beside this file)",
        "generator": "scripts/gen_unicode_names.py",
        "prototypes": dict(sorted(prototypes.items(), key=lambda kv: int(kv[0], 16))),
        "scripts": _merge(scripts),
        "default_ignorable": ignorable,
    }
    OUT.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=True) + "\n")
    sys.stdout.write(
        f"{OUT}: Unicode {data['unicode_version']}, {len(prototypes)} prototypes, "
        f"{len(data['scripts'])} script ranges, {len(ignorable)} ignorable ranges\n"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
