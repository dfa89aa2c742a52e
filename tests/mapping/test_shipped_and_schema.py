"""The shipped mappings pass their own tests, and the committed JSON Schema is the language's schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from bridgeline.mapping import json_schema, load_mapping_set
from bridgeline.mapping._testing import run_tests
from bridgeline.mapping.cli import schema_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "mappings").glob("*.yaml"))
SCHEMA_FILE = ROOT / "docs" / "mapping.schema.json"


def test_every_shipped_mapping_has_tests_and_they_pass() -> None:
    mappings = load_mapping_set([ROOT / "mappings"])
    assert {m.name for m in mappings.mappings} == {
        "servicenow-release",
        "servicenow-train",
        "servicenow-hotfix",
        "remedy-release",
    }
    results = run_tests(mappings)
    assert {r.mapping for r in results} == {m.name for m in mappings.mappings}
    failures = [f"{r.title}: {f}" for r in results for f in r.failures]
    assert failures == []


def test_the_test_runner_notices_a_wrong_expectation(tmp_path: Path) -> None:
    source = (ROOT / "mappings" / "servicenow-release.yaml").read_text()
    broken = source.replace('        risk: "2"\n', '        risk: "1"\n', 1)
    assert broken != source
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "pay-release-1.4.json").write_text(
        (ROOT / "mappings" / "fixtures" / "pay-release-1.4.json").read_text()
    )
    (tmp_path / "servicenow-release.yaml").write_text(broken)
    results = run_tests(load_mapping_set([tmp_path]))
    failed = [r for r in results if not r.passed]
    assert [(r.name, r.failures) for r in failed] == [
        ("a release becomes a change request with a task per issue", ["fields.risk: expected '1', got '2'"])
    ]


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "docs/mapping.schema.json is stale: run `bridgeline mappings schema -o docs/mapping.schema.json`"
    )


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_mapping_validates_against_the_schema(path: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../docs/mapping.schema.json\n")
    for document in yaml.safe_load_all(text):
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_jsonable(document))]
        assert errors == []


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    bad = {
        "apiVersion": "bridgeline/v1",
        "kind": "Mapping",
        "metadata": {"name": "x"},
        "fields": {"risk": {"value": "1", "mapp": {}}},
    }
    assert [e.json_path for e in validator.iter_errors(bad)] == ["$.fields.risk"]


def _jsonable(value: object) -> object:
    """YAML 1.1 dates as the loader reads them (text), so that the JSON Schema sees what bridgeline sees."""
    return json.loads(json.dumps(value, default=str))
