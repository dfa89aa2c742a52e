"""The results as Markdown: the generated part of ``docs/benchmarks.md``.

Only the text between the two markers is replaced, so the hand-written parts of the page (the
profiles, the fixes and their before/after numbers) survive a new run::

    <!-- results:start -->
    ...generated...
    <!-- results:end -->
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

START = "<!-- results:start -->"
END = "<!-- results:end -->"


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".rstrip()


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) if not isinstance(c, str) else c for c in row) + " |" for row in rows]
    return lines


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue with what was measured and whether it was met."""
    out: list[dict[str, Any]] = []

    def add(name: str, target: str, measured: Any, met: bool | None) -> None:
        out.append({"name": name, "target": target, "measured": measured, "met": met})

    mapping = results.get("mapping")
    if mapping:
        add(
            "mapping: render vs JSON round trip",
            "at most 3x",
            f"{mapping['ratio']}x",
            mapping["ratio"] <= 3.0,
        )
    backfill = results.get("backfill")
    if backfill and backfill.get("levels"):
        ref = next(
            (lv for lv in backfill["levels"] if lv["concurrency"] == backfill["reference_concurrency"]),
            backfill["levels"][-1],
        )
        add(
            "backfill: Jira reads",
            "at most 1 call per 50 issues",
            f"1 per {ref['issues_per_jira_read']} issues (concurrency {ref['concurrency']})",
            ref["issues_per_jira_read"] >= 50,
        )
        add(
            "backfill: ServiceNow writes",
            "1 per created record",
            f"{ref['servicenow_writes_per_record']} per record",
            ref["servicenow_writes_per_record"] <= 1.0,
        )
        rerun = backfill.get("rerun")
        if rerun:
            add(
                "backfill re-run: calls per unchanged release",
                "0 beyond change detection",
                f"ServiceNow {rerun['servicenow_calls_per_release']}, Jira {rerun['jira_calls_per_release']}",
                rerun["servicenow_calls"] == 0 and not rerun.get("jira_writes"),
            )
        peak = max(lv["peak_rss_mb"] for lv in backfill["levels"])
        add("backfill: peak RSS", "under 200 MB", f"{peak} MB", peak < 200)
        limited = backfill.get("rate_limited")
        if limited:
            add(
                "backfill: ServiceNow limit of 100/s",
                "no 429 surfaces as an error",
                f"{limited['rate_limited_answers_seen']} 429s absorbed, "
                f"{limited['entity_failures']} failures",
                limited["entity_failures"] == 0 and limited["dead_letters"] == 0,
            )
    for r in (results.get("peers") or {}).get("results") or []:
        if r["system"] == "forwarder":
            continue
        tag = f"peers ({r['system']}, c={r['concurrency']}, round {r['round']})"
        add(
            f"{tag}: ServiceNow calls per new change",
            "1.0",
            r["servicenow_calls_per_event"],
            r["servicenow_calls_per_event"] <= 1.0,
        )
        add(
            f"{tag}: events/s vs the forwarder",
            "at least 1x",
            f"{r.get('events_per_second_ratio')}x",
            (r.get("events_per_second_ratio") or 0) >= 1.0 if r["system"] == "sqlite" else None,
        )
        add(
            f"{tag}: CPU per event vs the forwarder",
            "at most 2x",
            f"{r.get('cpu_ratio')}x",
            (r.get("cpu_ratio") or 99) <= 2.0,
        )
    for name, hook in (results.get("webhooks") or {}).items():
        if "skipped" in hook:
            add(f"webhooks ({name}): p99 to change request", "under 300 ms", hook["skipped"], None)
            continue
        add(
            f"webhooks ({name}): p99 to change request at {hook['rate_per_second']:g}/s",
            "under 300 ms",
            f"{hook['latency_p99_ms']} ms",
            hook["latency_p99_ms"] < 300,
        )
        for slower in hook.get("slower") or []:
            add(
                f"webhooks ({name}): p99 at {slower['rate_per_second']:g}/s (for comparison)",
                "under 300 ms",
                f"{slower['latency_p99_ms']} ms",
                slower["latency_p99_ms"] < 300,
            )
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [
        START,
        "## Latest results",
        "",
        f"Command: `{results['command']}` at {results['generated_at']} "
        f"(commit `{results.get('commit', '?')}`)"
        + (" - **quick run: tiny sizes, the numbers mean nothing**" if results.get("quick") else ""),
        "",
        "Machine: {cpu}, {cores} cores, {memory_gb} GB, {os}, Python {python}; shared with other work "
        "(load average {load} at the start, {after} at the end), so expect noise of 10-30%.".format(
            load=results["machine"].get("load_average", ["?"])[0],
            after=(results.get("load_average_after") or ["?"])[0],
            **results["machine"],
        ),
        "",
        "### Against the targets",
        "",
    ]
    met = {True: "met", False: "**missed**", None: "-"}
    lines += _table(
        ["what", "target", "measured", ""],
        [[t["name"], t["target"], str(t["measured"]), met[t["met"]]] for t in targets(results)],
    )
    mapping = results.get("mapping")
    if mapping:
        lines += ["", "### Mapping", ""]
        lines += _table(
            ["release of", "render", "json.loads + dumps", "ratio", "renders/s", "records/s per core"],
            [
                [
                    f"{mapping['issues']} issues ({mapping['input_bytes'] // 1024} KB)",
                    f"{mapping['render_ms']} ms",
                    f"{mapping['json_round_trip_ms']} ms",
                    f"{mapping['ratio']}x",
                    mapping["renders_per_second"],
                    mapping.get("records_per_second"),
                ]
            ],
        )
    backfill = results.get("backfill")
    if backfill:
        lines += [
            "",
            "### Backfill",
            "",
            f"{backfill['releases']:,} releases, {backfill['issues']:,} issues "
            f"({backfill['issues_in_releases']:,} release memberships, so as many change tasks), "
            f"{backfill['latency_ms']:g} ms per simulated call; `bridgeline backfill` into an empty "
            "ServiceNow and a fresh SQLite database at each concurrency.",
            "",
        ]
        lines += _table(
            [
                "concurrency", "wall", "records/s", "releases/s", "CPU", "CPU per record", "peak RSS",
                "Jira reads / writes", "issues per Jira read", "ServiceNow reads per record",
                "writes per record",
            ],
            [
                [
                    lv["concurrency"], f"{lv['wall_seconds']} s", lv["records_per_second"],
                    lv["releases_per_second"], f"{lv['cpu_seconds']} s", f"{lv['cpu_ms_per_record']} ms",
                    f"{lv['peak_rss_mb']} MB", f"{lv.get('jira_reads', '?')} / {lv.get('jira_writes', '?')}",
                    lv["issues_per_jira_read"],
                    lv["servicenow_reads_per_record"], lv["servicenow_writes_per_record"],
                ]
                for lv in backfill["levels"]
            ],
        )  # fmt: skip
        rerun = backfill.get("rerun")
        if rerun:
            lines += [
                "",
                "Re-run over the synced project "
                f"(`--restart`, concurrency {backfill['reference_concurrency']}): "
                f"{rerun['wall_seconds']} s, {rerun['servicenow_calls']} ServiceNow calls, "
                f"{rerun['jira_calls']} Jira calls ({rerun['jira_calls_per_release']} per release, "
                f"{rerun.get('jira_writes', '?')} of them writes: reading the releases is how a backfill "
                "sees they did not change).",
            ]
        limited = backfill.get("rate_limited")
        if limited:
            lines += [
                "",
                "Against a ServiceNow rate limit rule of "
                f"{limited['rate_limit_per_second']} calls per second "
                f"({limited['releases']} releases, {limited['records']} records, concurrency "
                f"{limited['concurrency']}): {limited['wall_seconds']} s, "
                f"{limited['servicenow_calls_per_second']} calls/s, {limited['rate_limited_answers_seen']} "
                f"answers 429 absorbed, {limited['entity_failures']} entity failures, "
                f"{limited['dead_letters']} dead letters.",
            ]
    webhooks = results.get("webhooks")
    if webhooks:
        lines += [
            "",
            "### Webhooks",
            "",
            "`bridgeline run` (worker concurrency 16) against 20 ms simulators. Latency: a new release's "
            "`jira:version_created` delivery sent at a steady rate until its change request was created. "
            "Sustained: issue deliveries from kept-alive connections, as fast as they are answered, while "
            "the workers process them.",
            "",
        ]
        rows = []
        for name, hook in webhooks.items():
            if "skipped" in hook:
                rows.append([name, hook["skipped"], "", "", "", "", "", ""])
                continue
            s = hook["sustained"]
            rows.append(
                [
                    name,
                    f"{hook['events']} at {hook['rate_per_second']:g}/s",
                    f"{hook['latency_p50_ms']} ms",
                    f"{hook['latency_p90_ms']} ms",
                    f"{hook['latency_p99_ms']} ms",
                    f"{s['accepted_per_second']}/s ({s['connections']} connections)",
                    f"{s['answer_p50_ms']} / {s['answer_p99_ms']} ms",
                    f"{hook['daemon_peak_rss_mb']} MB",
                ]
            )
        for name, hook in webhooks.items():
            for slower in hook.get("slower") or []:
                rows.append(
                    [
                        f"{name}, slower",
                        f"{slower['events']} at {slower['rate_per_second']:g}/s",
                        f"{slower['latency_p50_ms']} ms",
                        f"{slower['latency_p90_ms']} ms",
                        f"{slower['latency_p99_ms']} ms",
                        "",
                        "",
                        "",
                    ]
                )
        cpu = ", ".join(
            f"{name} {hook['daemon_cpu_ms_per_event']} ms"
            for name, hook in webhooks.items()
            if "daemon_cpu_ms_per_event" in hook
        )
        lines += _table(
            [
                "database",
                "releases announced",
                "p50",
                "p90",
                "p99",
                "accepted",
                "answer p50 / p99",
                "peak RSS",
            ],
            rows,
        )
        if cpu:
            lines += ["", f"The daemon's CPU per announced release (webhook to change request): {cpu}."]
        for name, hook in webhooks.items():
            if "simulators_cpu_ms_per_event" not in hook:
                continue
            others = hook["simulators_cpu_ms_per_event"] + hook["bench_cpu_ms_per_event"]
            daemon = hook["daemon_cpu_ms_per_event"]
            lines += [
                "",
                f"The rest of the machine per release ({name}, at {hook['rate_per_second']:g}/s): the two "
                f"simulators {hook['simulators_cpu_ms_per_event']} ms of CPU, the load generator "
                f"{hook['bench_cpu_ms_per_event']} ms: at {hook['rate_per_second']:g} releases a second "
                f"that alone keeps {others * hook['rate_per_second'] / 1000:.2f} cores busy, "
                f"and the daemon would need {daemon * hook['rate_per_second'] / 1000:.2f} more.",
            ]
    idle = results.get("idle")
    peers = results.get("peers")
    if peers and peers.get("results"):
        lines += [
            "",
            "### Beside a bare forwarder",
            "",
            f"{peers['events']} new releases announced by webhook per measurement, closed loop over "
            f"each concurrency's connections, {peers['rounds']} alternating round(s); the ratios are to "
            "the forwarder of the same round and concurrency (events/s: higher is better; CPU: lower).",
            "",
        ]
        lines += _table(
            [
                "round",
                "system",
                "concurrency",
                "events/s",
                "vs forwarder",
                "CPU ms per event",
                "vs forwarder",
                "ServiceNow calls per event",
                "Jira calls per event",
            ],
            [
                [
                    r["round"],
                    "bare forwarder" if r["system"] == "forwarder" else f"bridgeline, {r['system']}",
                    r["concurrency"],
                    r["events_per_second"],
                    f"{r.get('events_per_second_ratio', '-')}x",
                    r["cpu_ms_per_event"],
                    f"{r.get('cpu_ratio', '-')}x",
                    r["servicenow_calls_per_event"],
                    r["jira_calls_per_event"],
                ]
                for r in peers["results"]
            ],
        )
    if idle:
        lines += ["", "### Idle", ""]
        lines += _table(
            [
                "projects",
                "poll interval",
                "watched",
                "CPU",
                "RSS (mean / max)",
                "Jira calls/min",
                "ServiceNow calls/min",
            ],
            [
                [
                    idle["projects"],
                    f"{idle['poll_interval_seconds']:g} s",
                    f"{idle['watched_seconds']} s",
                    f"{idle['cpu_percent']}% of a core",
                    f"{idle['rss_mb_mean']} / {idle['rss_mb_max']} MB",
                    idle["jira_calls_per_minute"],
                    idle["servicenow_calls_per_minute"],
                ]
            ],
        )
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write(doc: Path, results: dict[str, Any], *, preamble: str) -> None:
    """Replace the generated part of ``doc`` (or write the page, when it has none yet)."""
    generated = markdown(results)
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + generated + ("\n" + after if after else "")
    else:
        text = preamble + "\n" + generated + ("\n" + text if text else "")
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
