"""Safe YAML with limits: no code, no duplicate keys, bounded aliases and nesting.

PyYAML's ``SafeLoader`` runs no code but shares aliased nodes, so a 400-byte file can
name a billion-node tree (the "billion laughs"), a recursive anchor names an infinite
one, and deep nesting exhausts Python's stack. ``load_yaml`` checks the composed node
graph before anything is built or copied: nesting at most ``MAX_DEPTH`` levels (also
through aliases), no alias that contains itself, and aliases expanding the document by
at most ``MAX_ALIAS_NODES`` nodes. Duplicate keys are refused (YAML says keys are
unique; PyYAML silently keeps the last). Scalars that the resolver tags as dates or
numbers but that do not parse (``2027-02-30``, ``!!timestamp nope``) become YAML errors
naming the field and line instead of raw ``ValueError``s.

Two YAML 1.1 quirks are fixed the way YAML 1.2 does: ``1e5`` is a float (1.1 needs a
dot), and only ``true``/``false`` are booleans, so ``currency: NO`` (Norway) and
``name: no`` stay strings; pydantic still reads ``yes``/``no`` strings for boolean fields.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIAS_NODES = 100_000

_BOOL_TAG = "tag:yaml.org,2002:bool"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PARSED_TAGS = {
    "tag:yaml.org,2002:timestamp": "date",
    "tag:yaml.org,2002:int": "integer",
    _FLOAT_TAG: "number",
    _BOOL_TAG: "boolean",
    "tag:yaml.org,2002:binary": "base64 value",
}
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class YamlLimitError(yaml.MarkedYAMLError):
    """A document refused before construction: too deep, too large, duplicate or bad value."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def _resolvers(
    base: dict[Any, list[tuple[str, re.Pattern[str]]]], bool_too: bool
) -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """A copy of PyYAML's implicit resolvers with the YAML 1.2 float (and bool) rules."""
    replaced = {_FLOAT_TAG} | ({_BOOL_TAG} if bool_too else set())
    table = {ch: [r for r in rules if r[0] not in replaced] for ch, rules in base.items()}
    added = [(_FLOAT_TAG, _FLOAT, "-+0123456789.")]
    if bool_too:
        added.append((_BOOL_TAG, _BOOL, "tTfF"))
    for tag, regexp, first in added:
        for ch in first:
            table.setdefault(ch, []).append((tag, regexp))
    return table


class _Checks:
    """What both loaders add to PyYAML's safe constructor: no duplicate keys, and the
    node graph checked before anything is built."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        """A mapping, refusing a key given twice (merge keys ``<<`` may be overridden)."""
        if isinstance(node, MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)  # type: ignore[attr-defined]
                try:
                    seen = first_line.get(key)
                except TypeError:
                    continue  # unhashable: the base class reports it
                if seen is not None:
                    raise YamlLimitError(
                        f"duplicate key {key!r} (first given at line {seen + 1})",
                        key_node.start_mark,
                    )
                first_line[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]

    def get_single_data(self) -> Any:
        """The document, checked (size, depth, recursion, scalars) before it is built."""
        node = self.get_single_node()  # type: ignore[attr-defined]
        if node is None:
            return None
        _GraphCheck(self).check(node)
        return self.construct_document(node)  # type: ignore[attr-defined]


class LimitedLoader(_Checks, yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys, deep nesting and alias bombs."""

    yaml_implicit_resolvers = _resolvers(yaml.SafeLoader.yaml_implicit_resolvers, True)

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: object) -> Node:
        """Compose one node, refusing nesting deeper than MAX_DEPTH while composing."""
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(
                    f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


if yaml.__with_libyaml__:

    class FastLimitedLoader(_Checks, yaml.CSafeLoader):
        """``LimitedLoader`` on libyaml's parser, which also composes the node graph in C
        (refusing nesting beyond its own limit of 1000 levels); the graph is then checked
        (depth, size, scalars) as ``LimitedLoader`` checks it before anything is built."""

        yaml_implicit_resolvers = LimitedLoader.yaml_implicit_resolvers

else:  # PyYAML built without libyaml
    FastLimitedLoader = LimitedLoader  # type: ignore[misc]


class _GraphCheck:
    """Walks the composed node graph once: expanded size, depth through aliases, scalars."""

    def __init__(self, loader: _Checks) -> None:
        self.loader = loader
        self.measured: dict[int, tuple[int, int]] = {}  # id -> (expanded size, height)
        self.active: set[int] = set()

    def check(self, root: Node) -> None:
        expanded, _ = self._measure(root, (), 1)
        written = len(self.measured)
        if expanded - written > MAX_ALIAS_NODES:
            raise YamlLimitError(
                f"aliases would expand the document to {expanded:,} nodes, more than "
                f"{MAX_ALIAS_NODES:,} beyond the {written:,} written",
                root.start_mark,
            )

    def _measure(self, node: Node, path: tuple[str, ...], depth: int) -> tuple[int, int]:
        key = id(node)
        if key in self.active:
            raise YamlLimitError(
                f"{_where(path)}an alias refers to a node that contains it (recursive anchor)",
                node.start_mark,
            )
        if key in self.measured:
            size, height = self.measured[key]
            if depth + height - 1 > MAX_DEPTH:
                raise YamlLimitError(
                    f"{_where(path)}aliases nest the document deeper than {MAX_DEPTH} levels",
                    node.start_mark,
                )
            return size, height
        if depth > MAX_DEPTH:
            raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels", node.start_mark)
        self.active.add(key)
        size, height = 1, 0
        if isinstance(node, ScalarNode):
            self._check_scalar(node, path)
        elif isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                child_size, child_height = self._measure(child, (*path, str(index)), depth + 1)
                size, height = size + child_size, max(height, child_height)
        elif isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                label = key_node.value if isinstance(key_node, ScalarNode) else "?"
                key_size, key_height = self._measure(key_node, path, depth + 1)
                value_size, value_height = self._measure(value_node, (*path, label), depth + 1)
                size += key_size + value_size
                height = max(height, key_height, value_height)
        self.active.discard(key)
        self.measured[key] = (size, height + 1)
        return size, height + 1

    def _check_scalar(self, node: ScalarNode, path: tuple[str, ...]) -> None:
        """Build a typed scalar now, so a bad date or number names its field and line."""
        kind = _PARSED_TAGS.get(node.tag)
        if kind is None:
            return
        try:
            self.loader.construct_object(node)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            reason = str(exc) if isinstance(exc, ValueError) else "unreadable"
            raise YamlLimitError(
                f"{_where(path)}{node.value!r} is not a valid {kind} ({reason})",
                node.start_mark,
            ) from None


class ScenarioDumper(yaml.SafeDumper):
    """``SafeDumper`` that also quotes strings the loader would read as floats (``1e5``)."""

    yaml_implicit_resolvers = _resolvers(yaml.SafeDumper.yaml_implicit_resolvers, False)


if yaml.__with_libyaml__:

    class FastScenarioDumper(yaml.CSafeDumper):
        """``ScenarioDumper`` with libyaml's emitter (written in C): several times faster on
        a whole scenario, and the same text for data ``_same_in_c`` accepts."""

        yaml_implicit_resolvers = ScenarioDumper.yaml_implicit_resolvers

else:  # PyYAML built without libyaml
    FastScenarioDumper = ScenarioDumper  # type: ignore[misc]

# Characters after which libyaml's parser accepts documents PyYAML's refuses.
_C_READS_OTHERWISE = re.compile("[\t?!\ufeff]")
# Where libyaml's emitter writes other (equally valid) text than PyYAML's: it escapes a
# carriage return, NEL and characters beyond the BMP, and writes an empty key inline.
_C_EMITS_OTHERWISE = re.compile("[\r\x85\U00010000-\U0010ffff]")


def _where(path: tuple[str, ...]) -> str:
    """``a.b: `` naming the field a problem sits in, or nothing at the top level."""
    return f"{'.'.join(path)}: " if path else ""


def load_yaml(text: str) -> Any:
    """Parse one YAML document with the limits above; errors are ``yaml.YAMLError``.

    libyaml's parser (C, several times faster) reads it first where PyYAML has it; a
    document it refuses for any reason is read again by PyYAML's own parser, so that
    every error (and its wording) is PyYAML's. A text with a tab, ``?``, ``!`` (tags) or
    a byte-order mark goes to PyYAML's parser directly: libyaml reads some of those
    otherwise (or accepts them where PyYAML refuses the document)."""
    if FastLimitedLoader is not LimitedLoader and not _C_READS_OTHERWISE.search(text):
        try:
            return yaml.load(text, Loader=FastLimitedLoader)
        except yaml.YAMLError:
            pass
    return yaml.load(text, Loader=LimitedLoader)  # a SafeLoader subclass: no code runs


def dump_yaml(data: Any) -> str:
    """YAML text that ``load_yaml`` reads back as the same data (libyaml's emitter where it
    writes the same text as PyYAML's own, which it does for every usual scenario)."""
    dumper = FastScenarioDumper if _same_in_c(data) else ScenarioDumper
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True)


def _same_in_c(data: Any) -> bool:
    """Whether libyaml's emitter writes ``data`` as PyYAML's pure-Python one does."""
    if isinstance(data, str):
        return _C_EMITS_OTHERWISE.search(data) is None
    if isinstance(data, dict):
        return all(key != "" and _same_in_c(key) and _same_in_c(v) for key, v in data.items())
    if isinstance(data, list | tuple):
        return all(_same_in_c(item) for item in data)
    return True
