"""One serializer for --json: dataclasses by their fields, to_json where a type has one."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from govctl.serialize import jsonable


class Colour(StrEnum):
    RED = "red"


@dataclass
class Inner:
    n: int
    score: float


@dataclass
class Outer:
    name: str
    colour: Colour
    price: Decimal
    where: Path
    inner: list[Inner] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)


class Renamed:
    def to_json(self) -> dict:
        return {"first_bad_entry": 3, "nested": Inner(1, math.inf)}


def test_a_dataclass_is_its_fields_in_order_and_strict_json():
    out = jsonable(Outer("bot", Colour.RED, Decimal("0.10"), Path("a/b.yaml"),
                         [Inner(1, 0.5), Inner(2, math.nan)], {"b", "a"}))
    assert out == {"name": "bot", "colour": "red", "price": "0.10", "where": "a/b.yaml",
                   "inner": [{"n": 1, "score": 0.5}, {"n": 2, "score": None}],
                   "tags": ["a", "b"]}
    assert list(out) == ["name", "colour", "price", "where", "inner", "tags"]
    json.dumps(out, allow_nan=False)  # no NaN or Infinity: what other parsers refuse


def test_to_json_wins_and_its_values_are_serialized_too():
    assert jsonable([Renamed()]) == [{"first_bad_entry": 3, "nested": {"n": 1, "score": None}}]
    assert jsonable({1: (1, 2), "x": {3, "y"}}) in ({"1": [1, 2], "x": [3, "y"]},
                                                   {"1": [1, 2], "x": ["y", 3]})


def test_typed_registry_results_keep_their_json(tmp_path):
    """The prompt results became dataclasses; their JSON keys are what the dicts had."""
    from govctl.registry.prompts import PromptFile, RegisteredPrompt

    assert list(jsonable(PromptFile("p", "registry/prompts/p.yaml", "ab", None, None, True))) \
        == ["name", "file", "sha256", "latest_version", "registered_sha256", "changed"]
    assert list(jsonable(RegisteredPrompt("p", "1", "ab", "f.yaml", "cd"))) == \
        ["name", "version", "sha256", "file", "config_sha256"]


def test_a_field_may_name_its_json_key():
    """``field(metadata=key(...))``: the JSON key differs from the Python name (``from`` is
    a keyword); ``govctl config --json`` keeps its ``from`` key this way."""
    from dataclasses import dataclass, field

    from govctl.config import StoreSetting
    from govctl.serialize import JsonFields, jsonable, key

    @dataclass
    class Move(JsonFields):
        origin: str = field(metadata=key("from"))
        to: str = "b"

    assert jsonable(Move("a")) == {"from": "a", "to": "b"} == Move("a").to_json()
    assert list(jsonable(StoreSetting("sqlite:///x", "the embedded store", None, True))) == [
        "uri", "from", "exists", "created_on_first_use"]


def test_gate_items_and_init_reports_keep_their_key_order(tmp_path):
    """Their to_json methods gave way to their fields: the keys stay in the order the JSON
    has always had (``emit_json`` does not sort them)."""
    from govctl.bootstrap import InitReport
    from govctl.release.gate_report import ItemResult
    from govctl.serialize import jsonable

    item = ItemResult("red-team", "signoff", "high", "pass", "signed off", "Red team")
    assert list(jsonable(item)) == ["id", "kind", "severity", "status", "reason",
                                    "description", "evidence"]
    assert jsonable(item)["description"] == "Red team" and jsonable(item)["status"] == "pass"
    assert list(jsonable(InitReport(tmp_path))) == [
        "root", "admin", "admin_key_id", "key_generated", "created", "kept", "notes",
        "settings"]
