"""``bridgeline mappings validate|preview|test|schema``: the tooling mapping authors run before review.

``register(subparsers, fetcher=None)`` adds the four actions to the ``mappings`` command; each sets
``func(args) -> int`` (the exit code). ``main(argv)`` runs them on their own (``python -m
bridgeline.mapping.cli``). ``fetcher(kind, id) -> context`` lets ``preview --version/--issue`` read
live Jira data through the main command's connectors; the mapping package itself does no I/O.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from bridgeline.errors import RenderError
from bridgeline.mapping._language import json_schema
from bridgeline.mapping._loader import load_mapping_set
from bridgeline.mapping._problems import MappingSetError
from bridgeline.mapping._sets import MappingSet
from bridgeline.mapping._testing import action_dict, build_context, rendered_dict, run_tests

Fetcher = Callable[[str, str], dict[str, Any]]
DEFAULT_PATHS = ("mappings",)


def register(subparsers: Any, *, fetcher: Fetcher | None = None) -> None:
    """Add validate, preview, test and schema to the ``mappings`` command's subparsers."""
    validate = subparsers.add_parser(
        "validate", help="check mapping files; every problem in every file at once"
    )
    validate.add_argument("paths", nargs="*", type=Path, help="files or directories (default: mappings)")
    validate.set_defaults(func=lambda args: cmd_validate(args.paths))

    preview = subparsers.add_parser(
        "preview", help="show the record(s) a mapping renders and which rule made each field"
    )
    source = preview.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="JSON payload: version/project/issues or issue/project, "
                        "optionally now and target")  # fmt: skip
    source.add_argument("--version", dest="version_id", help="a Jira version id, read live")
    source.add_argument("--issue", dest="issue_key", help="a Jira issue key, read live")
    preview.add_argument("--mapping", help="only this mapping (default: every mapping that applies)")
    preview.add_argument(
        "--target", type=Path, help="JSON of a target record state, to preview reverse actions"
    )
    preview.add_argument(
        "--mappings", dest="paths", action="append", type=Path, help="mapping files or directories"
    )
    preview.add_argument("--json", action="store_true", help="machine-readable output")
    preview.set_defaults(func=lambda args: cmd_preview(args, fetcher=fetcher))

    test = subparsers.add_parser("test", help="run the tests: written in the mapping files")
    test.add_argument("paths", nargs="*", type=Path, help="files or directories (default: mappings)")
    test.add_argument("-k", dest="select", help="only cases whose 'mapping :: case' name contains this")
    test.set_defaults(func=lambda args: cmd_test(args.paths, select=args.select))

    schema = subparsers.add_parser("schema", help="write the JSON Schema of mapping files (for editors)")
    schema.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    schema.set_defaults(func=lambda args: cmd_schema(args.output))


def main(argv: Sequence[str] | None = None, *, fetcher: Fetcher | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bridgeline mappings", description="Mapping tooling.")
    register(parser.add_subparsers(dest="action", metavar="ACTION", required=True), fetcher=fetcher)
    args = parser.parse_args(argv)
    return int(args.func(args))


def _load(paths: Sequence[Path] | None, err: IO[str]) -> MappingSet | None:
    try:
        return load_mapping_set(list(paths or DEFAULT_PATHS))
    except MappingSetError as exc:
        count = len(exc.problems)
        for problem in exc.problems:
            print(problem, file=err)
        print(f"{count} problem{'s' if count != 1 else ''}; nothing runs until they are fixed", file=err)
        return None


def cmd_validate(
    paths: Sequence[Path] | None, *, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    mappings = _load(paths, err)
    if mappings is None:
        return 1
    n, f = len(mappings), len(mappings.files)
    print(f"ok: {n} mapping{'s' if n != 1 else ''} in {f} file{'s' if f != 1 else ''}", file=out)
    for m in mappings.mappings:
        children = "".join(f" + {c.name} ({c.target.record})" for c in m.children)
        print(
            f"  {m.name}: jira {m.source.entity} -> {m.target.system} {m.target.record}{children}", file=out
        )
    print(f"fingerprint {mappings.fingerprint[:16]}", file=out)
    return 0


def cmd_test(
    paths: Sequence[Path] | None,
    *,
    select: str | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    mappings = _load(paths, err)
    if mappings is None:
        return 1
    results = run_tests(mappings, select=select)
    failed = [r for r in results if not r.passed]
    for r in results:
        print(f"{'PASS' if r.passed else 'FAIL'}  {r.title}", file=out)
        for failure in r.failures:
            print(f"      {r.file}:{r.line}: {failure}", file=out)
    untested = sorted({m.name for m in mappings.mappings} - {t.mapping for t in mappings.tests})
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed"
    if untested:
        summary += f"; no tests: {', '.join(untested)}"
    print(summary, file=out)
    return 1 if failed or not results else 0


def cmd_schema(output: Path | None, *, out: IO[str] | None = None) -> int:
    text = schema_text()
    if output is None:
        (out or sys.stdout).write(text)
    else:
        output.write_text(text, encoding="utf-8")
    return 0


def schema_text() -> str:
    """The JSON Schema exactly as committed in docs/mapping.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def cmd_preview(
    args: argparse.Namespace,
    *,
    fetcher: Fetcher | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    mappings = _load(args.paths, err)
    if mappings is None:
        return 1
    try:
        payload, entity, is_context = _preview_input(args, fetcher)
    except (OSError, ValueError) as exc:
        print(f"preview: {exc}", file=err)
        return 2
    if args.mapping:
        try:
            chosen = [mappings.get(args.mapping)]
        except KeyError as exc:
            print(f"preview: {exc.args[0]}", file=err)
            return 2
        entity = chosen[0].source.entity
    else:
        chosen = mappings.for_source(system="jira", entity=entity)
    report: list[dict[str, Any]] = []
    status = 0
    for mapping in chosen:
        entry: dict[str, Any] = {"mapping": mapping.name}
        try:
            ctx = dict(payload) if is_context else build_context(mapping.source.entity, payload)
            if not mapping.applies(ctx):
                entry["skipped"] = "source filters or when"
            else:
                entry["rendered"] = rendered_dict(mapping.render(ctx))
                if "target" in ctx:
                    entry["reverse"] = [action_dict(a) for a in mapping.reverse(ctx)]
        except RenderError as exc:
            entry["error"] = str(exc)
            status = 1
        except ValueError as exc:
            entry["error"] = str(exc)
            status = 1
        report.append(entry)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, default=str), file=out)
    else:
        for entry in report:
            _print_entry(entry, out)
    if not chosen:
        print(f"no mapping reads Jira {entity}s", file=err)
    return status


def _preview_input(args: argparse.Namespace, fetcher: Fetcher | None) -> tuple[dict[str, Any], str, bool]:
    """(payload, entity, whether the payload is already a context). --input is raw Jira JSON."""
    if args.input is not None:
        payload = json.loads(args.input.read_text(encoding="utf-8"))
        if not isinstance(payload, dict):
            raise ValueError(
                f"{args.input}: expected a JSON object with version/project/issues or issue/project"
            )
    else:
        if fetcher is None:
            raise ValueError(
                "--version/--issue read Jira live; run this through `bridgeline mappings preview`"
            )
        kind, ident = ("version", args.version_id) if args.version_id else ("issue", args.issue_key)
        payload = dict(fetcher(kind, ident))
    if args.target is not None:
        payload["target"] = json.loads(args.target.read_text(encoding="utf-8"))
    entity = "version" if "version" in payload else "issue"
    return payload, entity, args.input is None


def _print_entry(entry: dict[str, Any], out: IO[str]) -> None:
    print(f"== {entry['mapping']}", file=out)
    if "skipped" in entry:
        print(f"   skipped: {entry['skipped']}", file=out)
        return
    if "error" in entry:
        print(f"   error: {entry['error']}", file=out)
        return
    r = entry["rendered"]
    t = r["target"]
    kind = " ".join(str(v) for v in (t["system"], t["record"], t.get("type")) if v)
    print(f"   {kind}  identity {r['identity']}", file=out)
    width = max((len(k) for k in r["fields"]), default=0)
    for name, value in r["fields"].items():
        print(f"   {name.ljust(width)} = {_show(value)}", file=out)
        print(f"   {''.ljust(width)}   <- {r['provenance'].get(name, '')}", file=out)
    for child in r["children"]:
        print(f"   + {child['group']} {child['source_key']}  identity {child['identity']}", file=out)
        for name, value in child["fields"].items():
            print(f"       {name} = {_show(value)}", file=out)
    for group, policy in r["on_remove"].items():
        print(f"   on_remove {group}: {policy['action']} {policy['fields'] or ''}".rstrip(), file=out)
    for action in entry.get("reverse", []):
        where = action["issue_key"] or f"version {action['version_id']}"
        print(f"   <- {action['rule']}: {action['kind']} {where} {json.dumps(action['params'])}", file=out)
        print(f"      key {action['key']}", file=out)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
