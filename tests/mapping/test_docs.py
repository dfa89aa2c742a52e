"""docs/mappings.md stays true: every filter and context key documented, every cookbook rule loads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridgeline.mapping import load_mapping_set
from bridgeline.mapping._context import ISSUE_KEYS, LINK_KEYS, PROJECT_KEYS, TARGET_KEYS, VERSION_KEYS
from bridgeline.mapping._filters import FILTERS
from bridgeline.mapping._language import MappingDocument
from bridgeline.mapping._trains import MEMBER_KEYS, SERVICE_KEYS, TRAIN_KEYS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "mappings.md").read_text(encoding="utf-8")
COOKBOOK = DOC.split("## Cookbook", 1)[1].split("\n## ", 1)[0]
RECIPES = re.findall(r"### (\d+)\. (.+?)\n(.*?)(?=\n### |\Z)", COOKBOOK, re.DOTALL)


def test_the_editor_modeline_is_documented() -> None:
    assert "# yaml-language-server: $schema=../docs/mapping.schema.json" in DOC


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_is_documented(name: str) -> None:
    assert f"`{name}" in DOC


@pytest.mark.parametrize(
    ("heading", "keys"),
    [("### version", VERSION_KEYS), ("### project", PROJECT_KEYS), ("### issues and issue", ISSUE_KEYS),
     ("### target (reverse rules)", TARGET_KEYS), ("### link", LINK_KEYS),
     ("### train, members and services", TRAIN_KEYS + MEMBER_KEYS + SERVICE_KEYS)],
)  # fmt: skip
def test_every_context_key_is_documented(heading: str, keys: tuple[str, ...]) -> None:
    section = DOC.split(heading + "\n", 1)[1].split("\n### ", 1)[0]
    missing = [k for k in keys if f"`{k}`" not in section and f"`{k}`," not in section]
    assert missing == []


def test_every_top_level_key_is_documented() -> None:
    keys = [field.alias or name for name, field in MappingDocument.model_fields.items()]
    assert [k for k in keys if f"| `{k}" not in DOC] == []


def test_the_cookbook_has_at_least_eight_rules() -> None:
    assert len(RECIPES) >= 8


SNOW = {"system": "servicenow", "record": "change_request"}
BASES = {
    "version": {"source": {"entity": "version"}, "target": SNOW,
                "identity": "jira:{{ project.key }}:version:{{ version.id }}"},
    "issue": {"source": {"entity": "issue"}, "target": SNOW,
              "identity": "jira:{{ project.key }}:issue:{{ issue.id }}"},
    "train": {"source": {"entity": "train", "projects": ["PAY", "WEB"]}, "target": SNOW,
              "identity": "jira:train:{{ train.key }}"},
}  # fmt: skip


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        out[key] = (
            _merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
        )
    return out


@pytest.mark.parametrize(("number", "title", "body"), RECIPES, ids=[f"{n}-{t}" for n, t, _ in RECIPES])
def test_every_cookbook_rule_loads(tmp_path: Path, number: str, title: str, body: str) -> None:
    snippets = re.findall(r"```yaml\n(.*?)```", body, re.DOTALL)
    assert snippets, f"recipe {number} has no YAML"
    for index, snippet in enumerate(snippets):
        if "\n    ...\n" in snippet:
            snippet = snippet.replace("\n    ...\n", "\n    identity: 't:{{ issue.id }}'\n    target: "
                                      "{system: servicenow, record: change_task}\n")  # fmt: skip
        rule = yaml.safe_load(snippet)
        entity = rule.get("source", {}).get("entity", "version")
        document = _merge(BASES[entity], rule)
        for child in document.get("children", {}).values():
            child.setdefault("identity", "t:{{ issue.id }}")
            child.setdefault("target", {"system": "servicenow", "record": "change_task"})
            child.setdefault("for_each", "issues")
        if document["target"].get("system") == "remedy":
            document["target"] = {"system": "remedy", "record": "change"}
        document.update(
            {"apiVersion": "bridgeline/v1", "kind": "Mapping", "metadata": {"name": f"r{number}"}}
        )
        path = tmp_path / f"recipe{number}-{index}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
        assert [m.name for m in load_mapping_set([path]).mappings] == [f"r{number}"]
