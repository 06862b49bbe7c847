"""What is shipped: every model in ``bandgen/pretrained/`` with its family, use, size and dev
numbers (``bandgen models``).

The dev numbers are the model's own row of the dev-set table over all clips: the JSON's ``dev``
mapping if it has one, else the row of the "all" table in its model card ``<name>.md`` whose
codec column is :attr:`bandgen.families.Family.card_row` (``nsbg:12``, ``blind:16``,
``restore``); a ``± x`` confidence half-width is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bandgen import families
from bandgen.pretrained import registry

__all__ = ["ShippedModel", "card_dev_numbers", "shipped_models"]


@dataclass(frozen=True)
class ShippedModel:
    """One shipped model, as ``bandgen models`` lists it.

    Attributes:
        name: the name :func:`bandgen.load` takes.
        kind: its family (:mod:`bandgen.families`).
        mode: its use in a few words (:attr:`~bandgen.families.Family.mode`).
        bitrate_kbps: total rate per channel of its mode (``None`` if not recorded).
        parameters: trainable parameters of the loaded model.
        size_mb: size of the weights file, MB (10^6 bytes).
        sha256: of the weights file.
        val: validation metrics at the released step (JSON ``val``).
        dev: dev-set numbers by column (module docstring); empty if none are recorded.
        dev_source: where ``dev`` comes from: ``"json"``, the card's file name, or ``None``.
    """

    name: str
    kind: str
    mode: str
    bitrate_kbps: float | None
    parameters: int
    size_mb: float
    sha256: str
    val: dict[str, float] = field(default_factory=dict)
    dev: dict[str, float] = field(default_factory=dict)
    dev_source: str | None = None


_HEADING = re.compile(r"^\s*(?:#+\s*|\*\*)\s*all\b", re.IGNORECASE)
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _column(name: str) -> str:
    return name.replace("↑", "").replace("↓", "").strip()


def card_dev_numbers(card: str, row: str) -> dict[str, float]:
    """Numbers of the row ``row`` (first column) in the first table after the heading ``all``
    of a model card's markdown ``card``; columns without a number are left out."""
    lines = card.splitlines()
    start = next((i for i, line in enumerate(lines) if _HEADING.match(line)), None)
    if start is None:
        return {}
    header: list[str] | None = None
    for line in lines[start + 1 :]:
        if not line.lstrip().startswith("|"):
            if header is not None:
                break  # the table ended without the row
            continue
        cells = _cells(line)
        if header is None:
            header = [_column(c) for c in cells]
        elif cells and cells[0] == row:
            numbers = {}
            for name, cell in zip(header[1:], cells[1:], strict=False):
                match = _NUMBER.match(cell)
                if match:
                    numbers[name] = float(match.group())
            return numbers
    return {}


def _dev(
    name: str, info: dict[str, Any], family: families.Family
) -> tuple[dict[str, float], str | None]:
    dev = info.get("dev")
    if isinstance(dev, dict) and dev:
        return {str(k): float(v) for k, v in dev.items() if isinstance(v, (int, float))}, "json"
    card = registry.PRETRAINED_DIR / f"{name}.md"
    if card.is_file():
        numbers = card_dev_numbers(card.read_text(encoding="utf-8"), family.card_row(info))
        if numbers:
            return numbers, card.name
    return {}, None


def describe(name: str) -> ShippedModel:
    """The listing of the shipped model ``name`` (loads it to count its parameters).

    Raises:
        ConfigError: no such model, or its files do not load.
    """
    model, info = registry.load_model(name)
    family = families.get(registry.model_kind(info))
    weights = registry.model_paths(name)[0]
    kbps = info.get("bitrate_kbps")
    dev, source = _dev(name, info, family)
    val = info.get("val") if isinstance(info.get("val"), dict) else {}
    return ShippedModel(
        name=name,
        kind=family.name,
        mode=family.mode(info),
        bitrate_kbps=float(kbps) if isinstance(kbps, (int, float)) else None,
        parameters=sum(p.numel() for p in model.parameters()),
        size_mb=weights.stat().st_size / 1e6,
        sha256=str(info["sha256"]),
        val={str(k): float(v) for k, v in (val or {}).items()},
        dev=dev,
        dev_source=source,
    )


def shipped_models() -> list[ShippedModel]:
    """Every shipped model (:func:`bandgen.pretrained.registry.list_models`), described."""
    return [describe(name) for name in registry.list_models()]
