"""The calibrated scenario as commented YAML: every fitted value says what it rests on,
every section the data could not inform says it keeps the documented default."""

from __future__ import annotations

from typing import Any

import yaml

DEFAULT_NOTE = "default: not estimable from this export (see docs/calibration.md)"
INLINE_MAX_KEYS = 8


def scenario_yaml(data: dict[str, Any], provenance: dict[str, str], header: list[str]) -> str:
    """Block YAML of ``data`` with a comment on each fitted line and each default section."""
    lines = [f"# {line}" if line else "#" for line in header]
    _emit(data, provenance, "", 0, lines)
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def _inline(value: Any) -> bool:
    if isinstance(value, list):
        return not any(isinstance(item, dict) for item in value)
    if isinstance(value, dict):
        if "dist" in value:
            return True
        return len(value) <= INLINE_MAX_KEYS and all(
            not isinstance(v, dict | list) for v in value.values()
        )
    return True


def _notes(provenance: dict[str, str], path: str) -> list[str]:
    return [note for key, note in provenance.items() if key == path or key.startswith(path + ".")]


def _emit(
    node: dict[str, Any],
    provenance: dict[str, str],
    path: str,
    depth: int,
    lines: list[str],
    covered: bool = False,
) -> None:
    """Emit ``node``; a value without a note of its own gets the default note, unless a
    note on an enclosing section (``covered``) already speaks for it."""
    pad = "  " * depth
    for key, value in node.items():
        here = f"{path}.{key}" if path else str(key)
        notes = _notes(provenance, here)
        label = _scalar(key)
        if _inline(value):
            comment = "; ".join(dict.fromkeys(notes)) if notes else DEFAULT_NOTE
            lines.append(
                f"{pad}{label}: {_scalar(value)}"
                + ("" if covered and not notes else f"  # {comment}")
            )
        elif isinstance(value, list):
            comment = "; ".join(dict.fromkeys(notes)) if notes else DEFAULT_NOTE
            lines.append(f"{pad}{label}:" + ("" if covered and not notes else f"  # {comment}"))
            lines += [f"{pad}  - {_scalar(item)}" for item in value]
        elif not notes:
            lines.append(f"{pad}{label}:" + ("" if covered else f"  # {DEFAULT_NOTE}"))
            _emit_plain(value, depth + 1, lines)
        elif here in provenance:
            lines.append(f"{pad}{label}:  # {provenance[here]}")
            _emit(value, provenance, here, depth + 1, lines, covered=True)
        else:
            lines.append(f"{pad}{label}:")
            _emit(value, provenance, here, depth + 1, lines, covered)


def _emit_plain(node: dict[str, Any], depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    for key, value in node.items():
        if isinstance(value, list) and not _inline(value):
            lines.append(f"{pad}{_scalar(key)}:")
            lines += [f"{pad}  - {_scalar(item)}" for item in value]
        elif _inline(value):
            lines.append(f"{pad}{_scalar(key)}: {_scalar(value)}")
        else:
            lines.append(f"{pad}{_scalar(key)}:")
            _emit_plain(value, depth + 1, lines)
