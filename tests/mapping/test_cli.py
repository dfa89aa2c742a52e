"""``bridgeline mappings validate|preview|test|schema``: exit codes and what people read."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bridgeline.mapping import version_context
from bridgeline.mapping.cli import main, register

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "mappings"
FIXTURE = SHIPPED / "fixtures" / "pay-release-1.4.json"


def test_validate_a_good_set(capsys) -> None:
    assert main(["validate", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 4 mappings in 4 files\n")
    assert "  servicenow-release: jira version -> servicenow change_request + tasks (change_task)\n" in out


def test_validate_reports_every_problem_and_fails(write, tmp_path: Path, capsys, kit) -> None:
    write("a.yaml", kit.mapping("a", "on_eror: skip\n"))
    write("b.yaml", kit.mapping("b", 'fields: {x: "{{ version.nmae }}"}\n'))
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    assert err.splitlines() == [
        "a.yaml:7:1: on_eror: unknown key 'on_eror' (did you mean 'on_error'?)",
        "b.yaml:7:13: fields.x: version has no key 'nmae' (did you mean 'name'?)",
        "2 problems; nothing runs until they are fixed",
    ]


def test_test_runs_the_files_tests(capsys) -> None:
    assert main(["test", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "PASS  servicenow-release :: archived releases are skipped" in out
    assert out.rstrip().endswith("32 passed, 0 failed")


def test_a_failing_case_shows_what_differs_and_fails(write, tmp_path: Path, capsys, kit) -> None:
    write(
        "fixtures/release.json",
        json.dumps({"version": {"id": "1", "name": "1.0"}, "project": {"key": "PAY"}}),
    )
    write(
        "m.yaml",
        kit.mapping(
            body="""\
            fields:
              short_description: "Release {{ version.name }}"
              risk: "3"
            tests:
              - name: renders the title
                input: fixtures/release.json
                expect:
                  fields: {short_description: "Release 1.0", risk: "2", impact: "1"}
                  children: [{group: tasks}]
              - name: passes
                input: fixtures/release.json
                expect: {identity: "jira:PAY:version:1"}
              - name: bad input
                input: fixtures/missing.json
                expect: {skipped: true}
            """
        ),
    )
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out.replace(str(tmp_path) + "/", "")
    lines = out.splitlines()
    assert lines[0] == "FAIL  rel :: renders the title"
    assert lines[1:4] == [
        "      m.yaml:11: fields.risk: expected '2', got '3'",
        "      m.yaml:11: fields.impact: missing (expected '1')",
        "      m.yaml:11: children[0]: nothing was produced, expected {'group': 'tasks'}",
    ]
    assert lines[4] == "PASS  rel :: passes"
    assert lines[5] == "FAIL  rel :: bad input"
    assert lines[6].startswith("      m.yaml:19: input: [Errno 2] No such file or directory")
    assert lines[-1] == "1 passed, 2 failed"
    assert main(["test", str(tmp_path), "-k", "passes"]) == 0


def test_no_tests_at_all_is_a_failure(write, tmp_path: Path, capsys, kit) -> None:
    write("m.yaml", kit.mapping())
    assert main(["test", str(tmp_path)]) == 1
    assert capsys.readouterr().out == "0 passed, 0 failed; no tests: rel\n"


def test_preview_from_a_payload(tmp_path: Path, capsys) -> None:
    payload = json.loads(FIXTURE.read_text())
    payload["now"] = "2024-04-29T08:00:00Z"
    (tmp_path / "in.json").write_text(json.dumps(payload))
    assert main(["preview", "--input", str(tmp_path / "in.json"), "--mappings", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert (
        "== servicenow-release\n   servicenow change_request normal  identity jira:PAY:version:10042\n" in out
    )
    assert "   risk                = '2'\n" in out
    assert "<- fields.risk (" in out and "map risk_matrix 'Highest' -> '2'" in out
    assert "   + tasks jira:issue:10101  identity jira:PAY:version:10042:issue:10101\n" in out
    assert "== remedy-release\n   skipped: source filters or when\n" in out
    assert "servicenow-hotfix" not in out  # an issue mapping does not read releases


def test_preview_json_with_a_target_and_one_mapping(tmp_path: Path, capsys) -> None:
    target = {"system": "servicenow", "record": "change_request", "number": "CHG1", "url": "https://sn/1",
              "state": "closed", "approval": "approved", "close_code": "successful"}  # fmt: skip
    (tmp_path / "target.json").write_text(json.dumps(target))
    argv = ["preview", "--input", str(FIXTURE), "--mapping", "servicenow-release", "--target",
            str(tmp_path / "target.json"), "--mappings", str(SHIPPED), "--json"]  # fmt: skip
    assert main(argv) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["rendered"]["identity"] == "jira:PAY:version:10042"
    assert entry["rendered"]["on_remove"]["tasks"]["action"] == "cancel"
    assert {a["kind"] for a in entry["reverse"]} == {
        "transition",
        "release_version",
        "comment",
        "remote_link",
    }


def test_preview_reads_live_data_through_the_fetcher(capsys) -> None:
    payload = json.loads(FIXTURE.read_text())
    asked: list[tuple[str, str]] = []

    def fetcher(kind: str, ident: str) -> dict:
        asked.append((kind, ident))
        from datetime import UTC, datetime

        now = datetime(2024, 4, 29, tzinfo=UTC)
        return version_context(payload["version"], payload["project"], payload["issues"], now)

    parser = argparse.ArgumentParser(prog="bridgeline mappings")
    register(parser.add_subparsers(dest="action", required=True), fetcher=fetcher)
    args = parser.parse_args(["preview", "--version", "10042", "--mappings", str(SHIPPED)])
    assert args.func(args) == 0
    assert asked == [("version", "10042")]
    assert "identity jira:PAY:version:10042" in capsys.readouterr().out


def test_preview_without_a_fetcher_or_with_an_unknown_mapping(capsys) -> None:
    assert main(["preview", "--issue", "PAY-1", "--mappings", str(SHIPPED)]) == 2
    assert "read Jira live" in capsys.readouterr().err
    assert main(["preview", "--input", str(FIXTURE), "--mapping", "servicenow-relase", "--mappings",
                 str(SHIPPED)]) == 2  # fmt: skip
    assert "did you mean 'servicenow-release'?" in capsys.readouterr().err


def test_preview_shows_render_errors_and_fails(write, tmp_path: Path, capsys, kit) -> None:
    write("m.yaml", kit.mapping(body='fields:\n  x: {value: "{{ version.description }}", required: true}\n'))
    (tmp_path / "in.json").write_text(json.dumps({"version": {"id": "1"}, "project": {"key": "PAY"}}))
    assert (
        main(["preview", "--input", str(tmp_path / "in.json"), "--mappings", str(tmp_path / "m.yaml")]) == 1
    )
    assert "error: mapping 'rel', field 'fields.x' for jira:version:1: required" in capsys.readouterr().out


def test_schema_to_stdout_and_to_a_file(tmp_path: Path, capsys) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed)["title"].startswith("bridgeline mapping")
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert (tmp_path / "s.json").read_text() == printed


def test_an_unknown_action_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["lint"])
    assert info.value.code == 2
