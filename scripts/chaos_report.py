"""Run the chaos suite at full size and write its figures into docs/reliability.md.

::

    python scripts/chaos_report.py                                  # 500 releases, 5,000 issues, SQLite
    python scripts/chaos_report.py --replicas 3 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/test  # three replicas on PostgreSQL
    python scripts/chaos_report.py --releases 20 --issues 200 --no-write   # a quick look

The run is the one ``tests/chaos/test_kills.py`` makes, with the same invariants: every release has
exactly one change request, every issue exactly one task, each CAB answer reached Jira once, nothing
is left pending, and the only dead letters are the releases the target refused for good. The exit
code is 1 when an invariant does not hold. On PostgreSQL the run gets a schema of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import re
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"


def load_harness() -> Any:
    name = "bridgeline_chaos_harness"
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "chaos" / "harness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def database(url: str | None, folder: Path, harness: Any) -> Iterator[str]:
    if url is None:
        yield f"sqlite:///{folder / 'bridgeline.db'}"
    elif url.startswith("sqlite"):
        yield url
    else:
        yield from harness.pg_schema(url)


def command_line(args: argparse.Namespace) -> str:
    parts = ["python scripts/chaos_report.py"]
    parts += [f"--releases {args.releases}", f"--issues {args.issues}", f"--kills {args.kills}"]
    if args.replicas != 1:
        parts.append(f"--replicas {args.replicas}")
    if args.database and not args.database.startswith("sqlite"):
        parts.append("--database postgresql+psycopg://...")
    return " ".join(parts)


def render(report: Any, findings: Any, args: argparse.Namespace) -> str:
    """The figures as a Markdown table."""
    f, faults, writes = findings, report.faults, report.writes
    explained = "all" if not f.unexplained_dead_letters else "not all"
    replicas = f"{args.replicas} replica" + ("s" if args.replicas != 1 else "")
    rows = [
        ("when", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("database, replicas", f"{report.database}, {replicas}"),
        (
            "releases, issues",
            f"{f.releases:,} releases, {report.plan['issues']:,} issues ({f.issues:,} of them in a release)",
        ),
        (
            "SIGKILLs",
            f"{report.kills}" + (f" ({report.leader_kills} of the leader)" if args.replicas > 1 else ""),
        ),
        ("terms of leadership", f"{report.leaders}"),
        ("events stored by the pollers", f"{report.events:,}"),
        ("API calls to the simulators", f"{faults.get('requests', 0):,}"),
        (
            "faults injected",
            f"{faults.get('errors', 0):,} 5xx, {faults.get('rate_limited', 0):,} 429 with Retry-After, "
            f"{faults.get('timeouts', 0):,} timeouts, {faults.get('resets', 0):,} dropped connections, "
            f"{faults.get('permanent_refusals', 0):,} permanent refusals; every call 2-32 ms slow",
        ),
        ("change requests, change tasks", f"{f.change_requests:,}, {f.change_tasks:,}"),
        (
            "writes (audit)",
            ", ".join(f"{writes[k]:,} {k}" for k in sorted(writes) if k != "dead_letter") or "-",
        ),
        ("CAB answers, Jira comments, transitions", f"{f.cab_answers}, {f.comments:,}, {f.transitions}"),
        ("issues renamed during the run", f"{f.edits}"),
        ("**duplicates**", f"**{len(f.duplicates)}**"),
        ("**losses**", f"**{len(f.losses)}**"),
        ("pending at the end", f"{f.pending}"),
        ("dead letters", f"{f.dead_letters} ({explained} injected permanent refusals)"),
        ("duration", f"{report.seconds:,.0f} s"),
        ("command", f"`{command_line(args)}`"),
    ]
    lines = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    return "\n".join(lines)


def write_doc(key: str, table: str) -> None:
    start, end = f"<!-- chaos-report {key} -->", f"<!-- /chaos-report {key} -->"
    text = DOC.read_text(encoding="utf-8")
    block = f"{start}\n{table}\n{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        anchor = "<!-- chaos-reports -->"
        if anchor not in text:
            raise SystemExit(f"{DOC} has no {anchor} marker where the figures go")
        text = text.replace(anchor, f"{anchor}\n\n{block}", 1)
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=500)
    parser.add_argument("--issues", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32, help="worker.concurrency of each replica")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--deadline", type=float, default=3600.0, help="seconds to converge after the kills")
    parser.add_argument("--json", type=Path, help="also write the raw report here")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/reliability.md")
    args = parser.parse_args(argv)

    harness = load_harness()
    plan = harness.ChaosPlan(
        releases=args.releases,
        issues=args.issues,
        projects=max(3, args.releases // 50),
        kills=args.kills,
        replicas=args.replicas,
        seed=args.seed,
        concurrency=args.concurrency,
        deadline=args.deadline,
        poison=3,
    )
    with (
        tempfile.TemporaryDirectory(prefix="chaos-") as folder,
        database(args.database, Path(folder), harness) as url,
    ):
        try:
            report, _ = harness.run_chaos(plan, url, Path(folder))
        except harness.ChaosFailure as failure:
            report = failure.report
            print(str(failure)[:5000], file=sys.stderr)
    findings = harness.load_sibling("world").Findings(**report.findings)
    print(report.to_json())
    print(findings.summary())
    if args.json:
        args.json.write_text(report.to_json(), encoding="utf-8")
    if not args.no_write:
        key = f"{report.database}-{args.replicas}"
        write_doc(key, render(report, findings, args))
        print(f"figures written to {DOC.relative_to(ROOT)} ({key})")
    return 0 if findings.ok else 1


if __name__ == "__main__":
    sys.exit(main())
