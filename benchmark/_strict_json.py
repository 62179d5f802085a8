"""JSON with no hidden content, for every reader of user files (entries, matrix files).

A JSON object with a repeated key is ambiguous — a reviewer reads the first value, ``json``
keeps the last — so :func:`unique_keys` (an ``object_pairs_hook``) refuses it. Lowest layer:
imported by ``entry`` and ``metrics`` alike.
"""

from __future__ import annotations

from typing import Any


def printable(text: str) -> str:
    """``text`` as it may be printed on one line: what is not printable escaped (``\\n``,
    ``\\x1b``, ``\\u202e``), everything else as it is."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads(..., object_pairs_hook=unique_keys)``: ValueError on a repeated key."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {printable(key)!r}, keep one")
        out[key] = value
    return out
