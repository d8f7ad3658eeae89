"""Bounded YAML reading: every YAML file featpipe reads goes through `parse_yaml` / `read_yaml_file`.

`yaml.safe_load` already refuses tags that build Python objects, but a few hundred bytes of nested
anchors and aliases still expand to billions of nodes ("billion laughs"), deep nesting ends in a
RecursionError, and a duplicated key silently keeps the last value. Here the text is composed into
PyYAML's node graph first, under limits on file size, alias count, nesting depth and the number of
nodes the document expands to (aliases counted each time they are used); only a document within
those limits is turned into Python values, and a mapping that repeats a key is refused.

Every error is a `YamlError`: a ConfigError (exit 2) naming the file, and a `yaml.YAMLError`, so
callers that already catch PyYAML's errors keep working.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from .errors import ConfigError


class YamlError(ConfigError, yaml.YAMLError):
    """A YAML file that is unreadable, malformed or beyond featpipe's limits."""


class YamlLimitError(YamlError):
    """Well-formed YAML that featpipe refuses: too big, too deep, too many aliases, a duplicate key."""


@dataclass(frozen=True)
class YamlLimits:
    """What one YAML document may hold. The defaults are far above any real config or batch file."""

    max_bytes: int = 1 << 20  # 1 MiB
    max_aliases: int = 1000  # alias uses (`*name`) in one document
    max_nodes: int = 200_000  # scalars + lists + mappings after expanding every alias
    max_depth: int = 64  # lists and mappings nested in each other


LIMITS = YamlLimits()


def read_yaml_file(path: str | os.PathLike, what: str, limits: YamlLimits | None = None) -> Any:
    """The YAML document in file `path` (a `what`: "config", "batch file"), read within `limits`."""
    limits = limits or LIMITS
    return parse_yaml(read_yaml_text(path, what, limits), str(path), limits)


def read_yaml_text(path: str | os.PathLike, what: str, limits: YamlLimits | None = None) -> str:
    """The UTF-8 text of YAML file `path`, refusing a missing, unreadable or oversized file."""
    limits = limits or LIMITS
    path = Path(path)
    if not path.is_file():
        if path.exists() and not path.is_dir():
            raise YamlError(f"{path}: the {what} file is not a regular file (a FIFO, socket or device)")
        hint = " (it is a directory)" if path.is_dir() else ""
        raise YamlError(f"{what} file not found: {path}{hint}")
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise YamlLimitError(
                f"{path}: {what} file is {size:,} bytes; featpipe reads YAML files of at most "
                f"{limits.max_bytes:,} bytes"
            )
        with open(path, "rb") as f:
            data = f.read(limits.max_bytes + 1)  # the file may grow between stat and read
        if len(data) > limits.max_bytes:
            raise YamlLimitError(f"{path}: {what} file is over {limits.max_bytes:,} bytes")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlError(f"{path}: cannot read {what} file ({exc})") from None


def parse_yaml(text: str, source: str = "<yaml>", limits: YamlLimits | None = None) -> Any:
    """The Python value of YAML `text` (None when empty); errors name `source` and the line."""
    limits = limits or LIMITS
    if len(text) > limits.max_bytes:
        raise YamlLimitError(f"{source}: YAML text is {len(text):,} characters; the limit is {limits.max_bytes:,}")
    loader = None
    try:
        loader = _BoundedLoader(text, source, limits)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, source, limits)
        return loader.construct_document(node)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        kind = "error" if isinstance(exc, ConstructorError) else "syntax error"
        raise YamlError(f"{source}: YAML {kind}{where}: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{source}: YAML error: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


class _BoundedLoader(Reader, Scanner, Parser, Composer, SafeConstructor, Resolver):
    """PyYAML's SafeLoader, counting aliases and depth while composing and refusing duplicate keys."""

    def __init__(self, text: str, source: str, limits: YamlLimits) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.source, self.limits = source, limits
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                line = self.peek_event().start_mark.line + 1
                raise YamlLimitError(
                    f"{self.source}: more than {self.limits.max_aliases} YAML aliases (*name), "
                    f"the limit, at line {line}; write the values out instead"
                )
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > self.limits.max_depth:
                line = self.peek_event().start_mark.line + 1
                raise YamlLimitError(
                    f"{self.source}: YAML nested more than {self.limits.max_depth} levels deep "
                    f"at line {line}"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node, deep=False):
        try:
            value = super().construct_object(node, deep=deep)
            if isinstance(value, int) and value.bit_length() > 1024:
                # Python cannot even print it (4,300 digits at most): no setting wants it.
                raise ValueError(f"an integer of {value.bit_length():,} bits; featpipe reads at most 1,024")
            return value
        except (ValueError, OverflowError) as exc:
            # A scalar its tag cannot hold: a 5,000-digit integer, the date 2020-13-45, !!int abc.
            shown = node.value if isinstance(node.value, str) else node.tag
            raise YamlError(
                f"{self.source}: line {node.start_mark.line + 1}: cannot read {shown[:40]!r}"
                f"{'...' if len(shown) > 40 else ''} ({exc})"
            ) from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: SafeConstructor reports it
                if first is not key_node:
                    raise YamlLimitError(
                        f"{self.source}: duplicate key {key!r} at line {key_node.start_mark.line + 1} "
                        f"(first at line {first.start_mark.line + 1}); each key may appear once in a mapping"
                    )
        return super().construct_mapping(node, deep=deep)


def _check_expansion(root: Node, source: str, limits: YamlLimits) -> None:
    """Refuse a node graph that expands to more than `limits.max_nodes` nodes, or holds a cycle.

    A node reached through several aliases counts once per path, which is what constructing
    and later copying or serialising the value costs. Sizes are memoised per node, so the
    check itself stays linear in the graph even when the expansion is astronomically large.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    # Iterative post-order walk: deep (but within max_depth) graphs must not recurse in Python.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not expanded:
            if key in active:
                raise YamlLimitError(f"{source}: recursive YAML alias at line {node.start_mark.line + 1}")
            active.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        total = 1 + sum(sizes[id(child)] for child in children)
        active.discard(key)
        if total > limits.max_nodes:
            raise YamlLimitError(
                f"{source}: the YAML document expands to more than {limits.max_nodes:,} values "
                f"(aliases of aliases, line {node.start_mark.line + 1}); write the values out instead"
            )
        sizes[key] = total


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []
