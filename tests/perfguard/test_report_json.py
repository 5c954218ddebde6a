"""The JSON report: valid against its shipped schema, no undocumented fields, valid JSON floats."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from perfguard import __version__
from perfguard.models import Kind, Status, Verdict
from perfguard.report.json_report import SCHEMA_VERSION, load_schema, render_json
from tests.helpers.comparisons import (
    comparison,
    estimate,
    every_verdict,
    many_rows,
    measurement,
    row,
)
from tests.perfguard.test_report_terminal import report_comparison

DOCS = Path(__file__).resolve().parents[2] / "docs" / "json-schema.md"


def strict(schema: Any) -> Any:
    """The schema with ``additionalProperties: false`` on every object that lists properties,
    so a field the renderer emits but the schema does not document fails validation."""
    if isinstance(schema, dict):
        out = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def parse(text: str) -> Any:
    """Parse as strict JSON: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def validate(document: Any) -> None:
    jsonschema.Draft202012Validator(strict(load_schema())).validate(document)


def test_the_shipped_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


@pytest.mark.parametrize(
    "make",
    [report_comparison, every_verdict, lambda: many_rows(100, changed_every=3), comparison],
    ids=["report", "every-verdict", "100-rows", "empty"],
)
def test_output_validates_against_the_schema_with_no_extra_fields(make: Any) -> None:
    validate(parse(render_json(make())))
    validate(parse(render_json(make(), only_changed=True)))


def test_strict_validation_catches_an_undocumented_field() -> None:
    document = parse(render_json(every_verdict()))
    document["rows"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError, match="surprise"):
        validate(document)


def test_top_level_fields() -> None:
    document = parse(render_json(report_comparison()))
    assert document["schema_version"] == 1
    assert document["perfguard_version"] == __version__
    assert document["threshold"] == 0.05
    assert document["only_changed"] is False
    assert document["warnings"] == ["base and head were measured on different machines"]
    assert document["base"]["commit"] == "1" * 40
    assert document["head"]["machine_info"]["cpu"] == "Test CPU"
    assert document["summary"] == {
        "total": 11,
        "regressed": 2,
        "improved": 1,
        "unchanged": 1,
        "inconclusive": 1,
        "new": 1,
        "removed": 1,
        "newly-failing": 1,
        "fixed": 1,
        "incomparable": 1,
        "skipped": 1,
        "budgets_broken": 1,
        "failed": True,
    }
    assert [b["ok"] for b in document["budgets"]] == [True, False]
    assert document["budgets"][1] == {
        "benchmark": "bus.Command.time_p99",
        "pattern": "bus.Command.time_p99",
        "bound": "max",
        "limit": 0.01,
        "value": 0.0123,
        "unit": "seconds",
        "ok": False,
        "reason": "",
    }


def test_rows_come_worst_first_with_their_numbers() -> None:
    document = parse(render_json(report_comparison()))
    verdicts = [r["verdict"] for r in document["rows"]]
    assert verdicts[:3] == ["regressed", "regressed", "newly-failing"]
    assert verdicts[-2:] == ["unchanged", "skipped"]
    assumed = document["rows"][0]
    assert assumed["benchmark"] == "bus.track_queue_depth"
    assert assumed["direction_assumed"] is True
    assert assumed["kind"] == "track"
    assert assumed["direction"] == "lower"
    assert assumed["change"] == pytest.approx(0.5)
    assert assumed["ratio"] == pytest.approx(1.5)
    assert assumed["interval"] == pytest.approx([1.5 * 0.98 - 1, 1.5 * 1.02 - 1])
    assert assumed["base"]["value"] == 40.0
    assert assumed["head"]["value"] == pytest.approx(60.0)
    failing = document["rows"][2]
    assert failing["head"]["status"] == "failed"
    assert failing["head"]["value"] is None
    assert failing["change"] is None
    assert failing["interval"] is None
    assert failing["reason"] == "head failed"
    new = next(r for r in document["rows"] if r["verdict"] == "new")
    assert new["base"] is None


def test_a_measured_side_carries_asv_details() -> None:
    m = measurement(
        0.002,
        samples=(0.0019, 0.002, 0.0021),
        ci_99=(0.0018, 0.0022),
        quartiles=(0.00195, 0.00205),
        number=10,
        repeat=3,
        version="abc123",
    )
    r = dataclasses.replace(
        row(Verdict.UNCHANGED, params=(("n", "10"), ("kind", "'a'"))),
        base=m,
        estimate=estimate(1.01, mde=0.02, method="samples", p_value=0.4, note="pooled samples"),
    )
    document = parse(render_json(comparison([r])))
    out = document["rows"][0]
    assert out["params"] == {"n": "10", "kind": "'a'"}
    assert out["label"] == "bench.time_x(n=10, kind='a')"
    assert out["base"] == {
        "value": 0.002,
        "status": "ok",
        "samples_count": 3,
        "ci_99": [0.0018, 0.0022],
        "quartiles": [0.00195, 0.00205],
        "number": 10,
        "repeat": 3,
        "version": "abc123",
    }
    assert (out["confidence"], out["mde"], out["method"]) == (0.99, 0.02, "samples")
    assert (out["p_value"], out["note"]) == (0.4, "pooled samples")
    validate(document)


def test_non_finite_numbers_become_null() -> None:
    side = measurement(math.nan, ci_99=(math.inf, -math.inf), kind=Kind.TRACK, unit="ev/s")
    r = dataclasses.replace(
        row(Verdict.INCONCLUSIVE, kind=Kind.TRACK, unit="ev/s"),
        base=side,
        head=measurement(None, status=Status.SKIPPED),
        estimate=estimate(math.inf, low=math.nan, high=math.inf, mde=math.nan, p_value=math.nan),
    )
    c = comparison([r], threshold=math.nan)
    text = render_json(c)
    document = parse(text)  # raises on NaN / Infinity
    out = document["rows"][0]
    assert out["base"]["value"] is None
    assert out["base"]["ci_99"] == [None, None]
    assert (out["change"], out["ratio"], out["interval"]) == (None, None, [None, None])
    assert (out["mde"], out["p_value"], document["threshold"]) == (None, None, None)
    validate(document)


def test_lone_surrogates_become_replacement_characters() -> None:
    r = row(Verdict.REGRESSED, benchmark="a\ud800b", params=(("p\udfff", "v"),), ratio=1.3)
    c = comparison([r], warnings=["machine \ud800"])
    document = parse(render_json(c))
    assert document["rows"][0]["benchmark"] == "a\ufffdb"
    assert document["rows"][0]["params"] == {"p\ufffd": "v"}
    assert document["warnings"] == ["machine \ufffd"]
    assert document["rows"][0]["change"] == pytest.approx(0.3)
    validate(document)


def test_only_changed_filters_rows_but_not_the_summary() -> None:
    document = parse(render_json(report_comparison(), only_changed=True))
    assert document["only_changed"] is True
    assert {r["verdict"] for r in document["rows"]}.isdisjoint({"unchanged", "skipped"})
    assert len(document["rows"]) == 9
    assert document["summary"]["total"] == 11


def test_large_comparisons_keep_every_row() -> None:
    document = parse(render_json(many_rows(2_000)))
    assert len(document["rows"]) == 2_000
    assert {r["label"] for r in document["rows"]} == {r.label for r in many_rows(2_000).rows}
    assert document["summary"]["regressed"] == 14


def test_the_docs_describe_every_field_and_the_versioning_promise() -> None:
    text = DOCS.read_text(encoding="utf-8")

    def names(schema: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(schema, dict):
            found |= set(schema.get("properties", {}))
            for value in schema.values():
                found |= names(value)
        return found

    fields = names(load_schema())
    assert len(fields) > 40
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert missing == []
    assert "schema_version" in text
    assert "additive" in text.lower()


def test_schema_is_read_from_the_installed_package() -> None:
    first = load_schema()
    first["title"] = "changed"
    assert load_schema()["title"] == "perfguard JSON report"  # a fresh copy every call
