"""What an entry's files may hold beyond their schemas: plain text, and parsing that reads
exactly what a reviewer reads.

- **Text** (every string of ``submission.yaml`` and ``results.json``, keys included): no
  character of the Unicode categories Cc (C0 and C1 controls, so also tab, CR and line
  feed), Cf (format characters: direction marks, embeddings, overrides and isolates,
  zero-width characters, the byte-order mark, the soft hyphen, tag characters), Cs (lone
  surrogates), Co (private use), Zl and Zp (line and paragraph separators). Only a field
  declared multi-line (``notes``) may hold line feeds and tabs.
- **JSON**: a key may appear once per object (a reader sees the first, a parser keeps the
  last); ``NaN`` and ``Infinity`` are not JSON, and a number too large for a float
  (``1e999``) is refused where it is used (:func:`non_finite`).
- **YAML**: no explicit tag (``!!binary``, ``!!str``, ``!custom``, ``!``: the diff would show
  one thing and the parser read another), no alias (``*name``), no merge key (``<<``) and no
  duplicate key. Only the parser and the composer run here: nothing is constructed.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterator
from typing import Any

import yaml

from benchmark._strict_json import printable, unique_keys

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
MULTILINE = frozenset("\n\t")  # what a multi-line field may hold of those categories
YAML_TAG_PREFIX = "tag:yaml.org,2002:"


# --------------------------------------------------------------------------- text


CONTROL_NAMES = {"\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}


def hidden_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` a reader may not see (``U+061C ARABIC LETTER MARK``),
    or None."""
    for char in text:
        if unicodedata.category(char) in HIDDEN_CATEGORIES and not (
            multiline and char in MULTILINE
        ):
            name = unicodedata.name(char, CONTROL_NAMES.get(char, ""))
            return f"U+{ord(char):04X} {name}".rstrip()
    return None


def plain_text(value: str, *, multiline: bool = False) -> str:
    """``value`` if it is plain text, else a ValueError saying which character is not."""
    found = hidden_character(value, multiline=multiline)
    if found is not None:
        raise ValueError(f"contains control or invisible characters ({found}); use plain text")
    return value


shown = printable  # text from an entry as it may be printed on one line


# --------------------------------------------------------------------------- JSON


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def loads_strict(text: str) -> Any:
    """JSON as a reviewer reads it: ValueError on a duplicate key, ``NaN`` or ``Infinity``
    (RecursionError when nested too deeply)."""
    return json.loads(text, object_pairs_hook=unique_keys, parse_constant=_no_constant)


def non_finite(value: Any, where: str = "") -> Iterator[str]:
    """Where (``metrics.last.value``) parsed JSON holds a float that is not finite."""
    stack = [(value, where)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            yield at
        elif isinstance(node, dict):
            stack += [(v, f"{at}.{k}" if at else str(k)) for k, v in reversed(node.items())]
        elif isinstance(node, list):
            stack += [(v, f"{at}[{i}]") for i, v in reversed(list(enumerate(node)))]


# --------------------------------------------------------------------------- YAML


def _tag(tag: str) -> str:
    return "!!" + tag[len(YAML_TAG_PREFIX) :] if tag.startswith(YAML_TAG_PREFIX) else tag


def yaml_problems(text: str) -> list[str]:
    """Constructs that make a YAML file mean something other than it reads, one line each
    (``line 3: duplicate key 'method' …``). May raise ``yaml.YAMLError`` or RecursionError."""
    problems: list[str] = []
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            return [
                f"line {line}: uses a YAML alias (*{shown(event.anchor or '')}); "
                "write the value out in full"
            ]
        tag = getattr(event, "tag", None)
        if isinstance(event, yaml.NodeEvent) and tag is not None:
            problems.append(
                f"line {line}: explicit YAML tag {shown(_tag(tag))!r}; write a plain value "
                "(the file must read as what it means)"
            )
    if problems:
        return problems
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    stack = [root] if root is not None else []
    while stack:  # a tree (no aliases), walked without recursion
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode):
                    if key.tag == YAML_TAG_PREFIX + "merge" or key.value == "<<":
                        problems.append(f"line {line}: merge key '<<'; write the keys out")
                    elif key.value in seen:
                        problems.append(
                            f"line {line}: duplicate key {shown(key.value)!r} (the last one "
                            "would silently win); keep one"
                        )
                    seen.add(key.value)
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(problems, key=lambda p: int(p.split(":")[0].removeprefix("line ")))
