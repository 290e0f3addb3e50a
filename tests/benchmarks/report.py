"""The flash-sale benchmark's report: JSON, a readable table, a PNG plot."""

import json

from tests.benchmarks.amazon_seller import report_rows
from tests.benchmarks.processing_rate import PHASES


def write_json(results, path):
    with open(path, "w") as out:
        json.dump(results, out, indent=2, sort_keys=True, default=str)
        out.write("\n")


def _fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return f"{value}{unit}"


def _target(met):
    return "" if met is None else ("  [target met]" if met else "  [TARGET MISSED]")


def _at_least(value, target):
    """The mark of a figure that should reach ``target``; none without
    either."""
    return _target(None if value is None or not target else value >= target)


def _cpu_rows(cpu, row):
    """Where the CPU went, sale start to drained: seconds and ms per order."""
    if not cpu:
        return
    capacity = cpu.get("capacity_s")
    busy = cpu["machine_busy_s"]
    row(
        "CPU, sale start to drained",
        f"{_fmt(busy)} s busy of {_fmt(capacity)} s on all cores "
        f"({100 * busy / capacity:.0f}%) in {_fmt(cpu['interval_s'])} s"
        if capacity
        else f"{_fmt(busy)} s busy in {_fmt(cpu['interval_s'])} s",
    )
    per_order = cpu.get("ms_per_order") or {}
    groups = dict(cpu["groups_s"], **{"rest of the machine": cpu["rest_s"]})
    for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        row(
            f"  {name}",
            f"{_fmt(seconds)} s"
            + (f", {_fmt(per_order[name])} ms per order" if name in per_order else ""),
        )
    if cpu.get("queue_job_runner_s") is not None:
        row(
            "    of which the queue_job runner",
            f"{_fmt(cpu['queue_job_runner_s'])} s, "
            f"{_fmt(cpu.get('queue_job_runner_ms_per_order'))} ms per order",
        )
    if "all" in per_order:
        row("  all, per order imported", f"{_fmt(per_order['all'])} ms")


def _monitoring_rows(monitoring, section, row):
    """/metrics scraped during the sale, beside the benchmark's own figures:
    the queue lag and push lag curves, one line per scrape."""
    if not monitoring or not monitoring.get("scrapes"):
        return
    interval = monitoring["interval_s"]
    section(f"Monitoring: /metrics every {_fmt(interval)} s, beside our own figures")
    row(
        "scrapes",
        f"{monitoring['scrapes']} ({monitoring.get('failed_scrapes', 0)} failed); "
        f"answered in {_fmt(monitoring['scrape_client_ms_p50'])} ms p50, "
        f"{_fmt(monitoring['scrape_client_ms_max'])} max (queries "
        f"{_fmt(monitoring['scrape_server_ms_p50'])} / "
        f"{_fmt(monitoring['scrape_server_ms_max'])} ms)",
    )
    row(
        "queue lag: scrape vs ours",
        f"largest gap {_fmt(monitoring['max_queue_lag_gap_s'])} s; "
        f"{monitoring['queue_lag_within_interval']} of {monitoring['scrapes']} "
        f"within one interval",
    )
    row(
        "push lag p95: scrape vs ours",
        f"largest gap {_fmt(monitoring['max_push_lag_p95_gap_s'])} s; "
        f"{monitoring['push_lag_within_interval']} of "
        f"{monitoring['push_lag_compared']} within one interval",
    )
    row(
        "   s  | queue lag s  | push p50 s   | push p95 s   | import p95",
        "  (scrape / ours)",
    )
    for line in monitoring["rows"]:
        row(
            f"{line['s']:>6} | {_fmt(line['queue_lag_s']):>5} / "
            f"{_fmt(line['own_queue_lag_s']):<5}| "
            f"{_fmt(line['push_lag_p50_s']):>5} / "
            f"{_fmt(line['own_push_lag_p50_s']):<5}| "
            f"{_fmt(line['push_lag_p95_s']):>5} / "
            f"{_fmt(line['own_push_lag_p95_s']):<5}| "
            f"{_fmt(line['import_latency_p95_s'])}",
            "",
        )


def table(results):
    """The figures as aligned text, with the targets of the issue."""
    rows = []

    def section(title):
        rows.append(("", ""))
        rows.append((f"== {title}", ""))

    def row(label, value):
        rows.append((f"  {label}", value))

    options = results.get("options", {})
    targets = results.get("targets", {})
    section("Run")
    faults = ",".join(options.get("faults") or ()) or "none"
    row(
        "command",
        f"bench/flash-sale --orders {options.get('orders')} --rate "
        f"'{options.get('rate')}' --faults {faults}"
        f" --workers {options.get('workers')}"
        + (
            f" --job-workers {options['job_workers']}"
            f" --job-nice {options.get('job_nice')}"
            if options.get("job_workers")
            else ""
        )
        + (
            f" --import-batch {options['import_batch']}"
            if options.get("import_batch") is not None
            else ""
        )
        + f" --seed {options.get('seed')}"
        f" --intake {options.get('intake')} --channels '{options.get('channels')}'",
    )
    row("stack set-up", _fmt(results.get("setup_seconds"), " s"))
    environment = results.get("environment")
    if environment:
        row(
            "machine",
            f"{environment['cpu_count']} CPUs, load "
            f"{environment['load_average_end']} at the end, "
            f"{environment['other_odoo_servers']} other Odoo server(s) "
            f"running, {environment['odoo_stdout_tracebacks']} tracebacks on Odoo's "
            f"stdout",
        )
    if results.get("postgres_autovacuum"):
        row("PostgreSQL autovacuum", results["postgres_autovacuum"])
    for event in results.get("timeline", []):
        if event["event"].startswith(("fault", "postgres", "latency")):
            row(f"  {event['event']}", event["detail"])

    intake = results.get("intake", {})
    if intake:
        section("Webhook intake (as the simulated stores saw it)")
        row(
            "deliveries queued",
            f"{intake['deliveries_queued']} ({intake['distinct_deliveries']} "
            f"distinct + {intake['duplicate_copies_sent']} duplicate copies); "
            f"{intake['dropped']} dropped, never sent",
        )
        row("HTTP attempts", intake["attempts"])
        answers = ", ".join(
            f"{k} {v}" for k, v in sorted(intake["answers_2xx"].items())
        )
        row("accepted (2xx)", f"{intake['accepted']}: {answers}")
        non_2xx = ", ".join(f"{k}: {v}" for k, v in sorted(intake["non_2xx"].items()))
        row("non-2xx", non_2xx or "none")
        row(
            "no answer",
            f"{intake['timeouts']} timeouts, {intake['connection_errors']} "
            f"connection errors; {intake['retried']} retries, {intake['gave_up']} "
            f"given up",
        )
        latency = intake["latency_ms"]
        p99_target = targets.get("intake_p99_ms")
        row(
            "latency p50/p95/p99/max",
            f"{_fmt(latency['p50'])} / {_fmt(latency['p95'])} / {_fmt(latency['p99'])}"
            f" / {_fmt(latency['max'])} ms"
            + _target(
                None
                if latency["p99"] is None or not p99_target
                else latency["p99"] <= p99_target
            ),
        )
        calm = intake["latency_ms_outside_faults"]
        row(
            "  outside kill/restart +-10 s",
            f"{_fmt(calm['p50'])} / {_fmt(calm['p95'])} / {_fmt(calm['p99'])}"
            f" / {_fmt(calm['max'])} ms",
        )
        selling = intake["latency_ms_order_webhooks_while_selling"]
        row(
            "order webhooks while selling",
            f"{_fmt(intake['order_webhooks_per_s'])}/s (all webhooks "
            f"{_fmt(intake['webhooks_per_s'])}/s): p50/p95/p99/max "
            f"{_fmt(selling['p50'])} / {_fmt(selling['p95'])} / "
            f"{_fmt(selling['p99'])} / {_fmt(selling['max'])} ms",
        )

    orders = results.get("orders", {})
    if orders:
        section("Orders")
        row("expected / in Odoo", f"{orders['expected']} / {orders['in_odoo']}")
        row("lost", orders["lost"])
        row("duplicated", orders["duplicated"])
        row("imported wrong (lines, total)", orders["imported_wrong"])
        row("not confirmed", orders["not_confirmed"])
        row("sold-out lines substituted", orders["sold_out_substitutions"])
        row("final poll: new events", results.get("final_poll_new_events"))
        row("events by source", results.get("events_by_source"))
        row("events by state", results.get("events"))

    report_rows(results.get("amazon"), section, row, _fmt)

    oversold = results.get("oversold", {})
    if oversold:
        section("Stock")
        row("oversold beyond buffers", f"{oversold['beyond_buffers_units']} units")
        row(
            "ledger oversold",
            f"{_fmt(oversold['ledger_oversold_units'])} units "
            f"({'agrees' if oversold['ledger_agrees'] else 'DISAGREES'}); "
            f"{oversold['orders_flagged_oversold']} orders flagged",
        )
        row("sold into buffers", f"{oversold['sold_into_buffer_units']} units")
        for sku, entry in oversold["scarce"].items():
            row(f"  {sku}", f"stock {entry['stock']}, sold {entry['sold']}")
    stock = results.get("stock", {})
    if stock:
        row(
            "final quantities vs ATS",
            f"{stock['mismatched']} mismatched of {stock['checked']} (store, SKU)",
        )
        row("level states", stock["level_states"])
        for entry in stock["mismatches"][:5]:
            row("  mismatch", entry)
    for record in results.get("reconciliation", []):
        row(
            f"reconciliation backend {record['backend']}",
            f"{record['checked']} checked, {record['in_sync']} in sync, "
            f"{record['corrected']} corrected, {record['escalated']} escalated",
        )
    for failed in results.get("failed_jobs", []):
        row(
            f"failed jobs {failed['method']}", f"{failed['count']}: {failed['example']}"
        )
    if "safety_net" in results:
        row(
            "dirty rows left > 30 s (max)",
            results["safety_net"]["max_stale_dirty_rows"],
        )

    propagation = results.get("propagation", {})
    if propagation:
        section(
            "Propagation (order on one store -> the other shows no more than is left)"
        )
        row(
            "p50 / p95 / max",
            f"{_fmt(propagation['p50_s'])} / {_fmt(propagation['p95_s'])} / "
            f"{_fmt(propagation['max_s'])} s ({propagation['samples']} samples)",
        )
        row(
            "scarce SKUs p50 / p95",
            f"{_fmt(propagation['scarce_p50_s'])} / "
            f"{_fmt(propagation['scarce_p95_s'])} s",
        )
        if "written_p50_s" in propagation:
            row(
                "by our writes alone p50 / p95",
                f"{_fmt(propagation['written_p50_s'])} / "
                f"{_fmt(propagation['written_p95_s'])} s; "
                f"{propagation['reached_by_own_sales']} reached first by the "
                f"store's own sales",
            )
        row(
            "not in the sample",
            f"{propagation['nothing_to_propagate']} nothing to change, "
            f"{propagation['never_written']} never written",
        )

    _monitoring_rows(results.get("monitoring"), section, row)

    processing = results.get("processing", {})
    if processing:
        section("Processing")
        target = targets.get("processing_orders_per_s")
        sustained = processing["sustained_orders_per_s"]
        row(
            "orders/s while jobs waited",
            _fmt(sustained) + _at_least(sustained, target),
        )
        by_phase = processing.get("sustained_by_phase") or {}
        for phase in (phase for phase in PHASES if phase in by_phase):
            figures = by_phase[phase]
            rate = figures["orders_per_s"]
            row(
                f"  {phase}",
                f"{_fmt(rate)} ({figures['seconds']} s with jobs waiting)"
                + _at_least(rate, target),
            )
        row(
            "orders/s overall",
            f"{_fmt(processing['overall_orders_per_s'])} "
            f"({processing['orders_imported']} in {processing['import_span_s']} s; "
            f"sale lasted "
            f"{processing['sale_seconds']} s)",
        )
        row("peak 10 s", _fmt(processing["peak_10s_orders_per_s"]))
        row("throttled API answers", results.get("throttled_total"))
        for name, api in results.get("channels_api", {}).items():
            row(
                f"  store {name}",
                f"{api['requests']} calls, {api['throttled']} throttled, "
                f"{api['errors_injected']} injected errors",
            )
        waits = results.get("pg_active_sessions_by_wait") or {}
        seen = sum(waits.values())
        if seen:
            row(
                "PostgreSQL active sessions",
                ", ".join(
                    f"{kind} {100 * count / seen:.0f}%"
                    for kind, count in sorted(waits.items(), key=lambda kv: -kv[1])
                ),
            )
        for query, count in list((results.get("pg_lock_waits") or {}).items())[:5]:
            row("  waiting on a lock", f"{count}x {query}")
        transactions = results.get("transactions")
        if transactions:
            row(
                "transactions since the sale began",
                f"{transactions['committed']} committed, "
                f"{transactions['rolled_back']} rolled back",
            )
        _cpu_rows(results.get("cpu"), row)
        rss = results.get("peak_rss_mb", {})
        row(
            "peak RSS",
            f"{_fmt(rss.get('rss_worker'))} MB one worker, "
            f"{_fmt(rss.get('rss_total'))} MB all Odoo processes",
        )

    ceilings = results.get("ceilings")
    if ceilings:
        section(f"Ceilings ({ceilings['connections']} connections)")
        bare = ceilings["bare_loop"]
        row(
            "bare loop (HMAC+JSON+INSERT+COMMIT)",
            f"{_fmt(bare.get('1'))}/s on 1 connection, {_fmt(bare.get('4'))}/s on 4",
        )
        floor = ceilings["http_floor"]
        if floor.get("wrk"):
            row(
                "GET /web/health, wrk",
                f"{_fmt(floor['wrk']['requests_per_s'])}/s, p50 "
                f"{_fmt(floor['wrk']['p50_ms'])} ms, "
                f"p99 {_fmt(floor['wrk']['p99_ms'])} ms",
            )
        row(
            "GET /web/health, Python client",
            f"{_fmt(floor['python']['requests_per_s'])}/s, p50 "
            f"{_fmt(floor['python']['p50_ms'])} ms, p99 "
            f"{_fmt(floor['python']['p99_ms'])} ms",
        )
        intake_max = ceilings["intake_max_rate"]
        row(
            "intake, max rate (Python client)",
            f"{_fmt(intake_max['requests_per_s'])}/s, p50 {_fmt(intake_max['p50_ms'])} "
            f"ms, p99 {_fmt(intake_max['p99_ms'])} ms, {intake_max['events_stored']} "
            f"events stored, statuses {intake_max['statuses']}",
        )
        intake_wrk = ceilings.get("intake_wrk")
        if intake_wrk:
            stretch = targets.get("intake_max_per_s")
            row(
                "intake, max rate (wrk)",
                f"{_fmt(intake_wrk['stored_per_s'])}/s stored "
                f"({_fmt(intake_wrk['requests_per_s'])} requests/s), p50 "
                f"{_fmt(intake_wrk['p50_ms'])} ms, p99 {_fmt(intake_wrk['p99_ms'])} "
                f"ms, {intake_wrk['non_2xx']} non-2xx, "
                f"{intake_wrk['socket_errors']} socket errors"
                + _target(
                    None if stretch is None else intake_wrk["stored_per_s"] >= stretch
                ),
            )
        ratios = ceilings["ratios"]
        target = targets.get("floor_ratio")
        floor_ratio = ratios.get("to_floor_python")
        row(
            "intake / floor (Python client)",
            _fmt(floor_ratio)
            + _target(None if floor_ratio is None else floor_ratio >= target),
        )
        row("intake (Python client) / floor (wrk)", _fmt(ratios.get("to_floor_wrk")))
        if ratios.get("wrk_to_floor_wrk") is not None:
            row("intake / floor, both wrk", _fmt(ratios["wrk_to_floor_wrk"]))
        row(
            "intake / bare loop 1 / 4",
            f"{_fmt(ratios.get('to_bare_loop_1'))} / "
            f"{_fmt(ratios.get('to_bare_loop_4'))}",
        )
        processing_floor = ceilings.get("processing_floor")
        if processing_floor and "error" in processing_floor:
            row("Odoo create+confirm (processing floor)", processing_floor["error"])
        elif processing_floor:
            row(
                "Odoo create+confirm (processing floor)",
                f"{_fmt(processing_floor.get('1'))}/s in 1 process, "
                f"{_fmt(processing_floor.get('2'))}/s in 2",
            )
            batched = ceilings.get("processing_floor_batched") or {}
            if batched and "error" not in batched:
                row(
                    f"  {batched.get('orders_per_transaction')} orders per transaction",
                    f"{_fmt(batched.get('1'))}/s in 1 process, "
                    f"{_fmt(batched.get('2'))}/s in 2",
                )
            sustained = (results.get("processing") or {}).get("sustained_orders_per_s")
            best = max(processing_floor.get(key) or 0 for key in ("1", "2"))
            if sustained and best:
                row("processing / floor", _fmt(round(sustained / best, 2)))

    verdict = results.get("verdict", {})
    section("Verdict")
    row("result", "PASS" if verdict.get("passed") else "FAIL")
    for failure in verdict.get("failures", []):
        row("failure", failure)
    for skipped in verdict.get("faults_skipped", []):
        row("fault skipped", skipped)

    width = max(len(label) for label, _value in rows if not label.startswith("=="))
    width += 2
    return "\n".join(
        label if label.startswith("==") or not label else f"{label:<{width}}{value}"
        for label, value in rows
    )


def plot(results, path):
    """Intake latency and queue depth over the run, faults marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = results["series"]
    latency = series["latency"]
    samples = series["samples"]
    fig, (top, middle, bottom) = plt.subplots(
        3, 1, figsize=(12, 10), sharex=True, height_ratios=(3, 2, 2)
    )
    seconds = [b["s"] for b in latency]
    for key, style in (("p50_ms", ".-"), ("p99_ms", ".-"), ("max_ms", ".")):
        top.plot(
            seconds,
            [b[key] for b in latency],
            style,
            label=key.replace("_ms", ""),
            linewidth=0.6,
            markersize=3,
        )
    top.set_yscale("log")
    top.set_ylabel("intake latency per second (ms)")
    top.axhline(100, color="red", linewidth=0.6, linestyle="--", label="100 ms")
    top.legend(loc="upper right", fontsize=8)
    top.set_title("Flash sale: webhook intake latency, queue depth, imports")

    xs = [s["s"] for s in samples]
    middle.plot(xs, [s["queue"] for s in samples], label="queue jobs waiting")
    middle.plot(xs, [s["inbound"] for s in samples], label="inbound jobs")
    middle.plot(xs, [s["dirty"] for s in samples], label="stock changes to push")
    middle.set_ylabel("queue depth")
    middle.legend(loc="upper right", fontsize=8)

    bottom.plot(xs, [s["imported"] for s in samples], label="orders imported")
    bottom.set_ylabel("orders")
    bottom.set_xlabel("seconds since the sale started")
    rss = bottom.twinx()
    rss.plot(xs, [s["rss_mb"] for s in samples], color="grey", linewidth=0.8)
    rss.set_ylabel("Odoo RSS (MB)", color="grey")
    bottom.legend(loc="upper left", fontsize=8)

    for event in series["timeline"]:
        if not event["event"].startswith(("fault", "postgres", "latency")):
            continue
        for axis in (top, middle, bottom):
            axis.axvline(event["s"], color="orange", linewidth=0.7, alpha=0.8)
        top.annotate(
            event["event"].replace("fault ", ""),
            (event["s"], 1),
            xycoords=("data", "axes fraction"),
            rotation=90,
            fontsize=7,
            va="top",
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
