"""Benchmark: the sync job end to end through Dagster, against the sandbox APIs at scale.

    .venv/bin/python benchmarks/sync_benchmark.py                      # 100k contacts, 100k people
    .venv/bin/python benchmarks/sync_benchmark.py --contacts 5000 --audience 2000 --people 5000

Scenarios: cold (the audience is new to Encharge), steady (nothing changed), churn (1% of the audience
renamed, left or joined), busy (nothing to do, while people sign up and act in Encharge as it is read:
`--signups-per-page`). `--hidden-limits 100 10` instead measures learning an unpublished Encharge limit:
the sandbox's token bucket (beyond it: 429, HTML, no Retry-After), steady-state runs with the fixed-rate
client (20 requests/s, as before issue 15), the adaptive one with nothing learned, and again with the rate
the first run learned. For each it prints requests per endpoint against their lower bound, seconds
per phase (from the assets' own timings) against the latency/rate lower bound, Dagster's wall time, and
peak RSS of the step processes. Then the pure diff at 100k x 100k, and Dagster's own overhead per run.

The sandboxes run in this process (threads); each run of the job is launched from a spawned process
whose step processes are its children, so `RUSAGE_CHILDREN` gives their peak RSS exactly.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import tempfile
import time
import timeit
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from marketing_pipeline.connectwise.bounds import fewest_requests, stream_sizes
from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import TAG, apply_churn, expected_audience, generate, new_person
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.person_names import FIRST, LAST
from marketing_pipeline.settings import DEFAULTS
from marketing_pipeline.store.seed import FIRST_SYNC, initialise_store
from marketing_pipeline.sync.domain import FilterConfig

KEY = "managed-client-newsletter"
CW_PAGE, ENCHARGE_PAGE, LOOKUP_BATCH = 1000, 100, 20
ASSETS = ("cw_companies", "cw_contacts", "encharge_people", "sync_plan", "encharge_audience")
SEED = FilterConfig.model_validate(FIRST_SYNC["filter_config"])


def sync_job() -> Any:
    """The job, as Dagster reconstructs it in every step process."""
    from marketing_pipeline.definitions import defs

    return defs().resolve_job_def("marketing_sync_job")


def _run_job(home: str, env: dict[str, str], force: bool, executor: str, resources: dict[str, Any], queue: Any) -> None:
    """In a spawned process: run the job once (multiprocess executor) and report its figures."""
    os.environ.update(env)
    os.environ["DAGSTER_HOME"] = home
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        result = dg.execute_job(
            dg.reconstructable(sync_job),
            instance=instance,
            tags={"dagster/partition": KEY},
            run_config={
                "ops": {"encharge_audience": {"config": {"force": force}}},
                "execution": {"config": {executor: {}}},
                "loggers": {"console": {"config": {"log_level": "ERROR"}}},
                "resources": {name: {"config": config} for name, config in resources.items()},
            },
        )
        wall = time.perf_counter() - started
        from marketing_pipeline.runs.metrics import peak_rss_mb

        queue.put({"success": result.success, "run_id": result.run_id, "wall": wall, "orchestrator_mb": peak_rss_mb()})


def run_job(
    home: str,
    env: dict[str, str],
    force: bool = False,
    executor: str = "multiprocess",
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`resources`: run config for resources (tuning knobs), by resource name."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run_job, args=(home, env, force, executor, resources or {}, queue))
    process.start()
    figures = queue.get(timeout=3600)
    process.join()
    return figures


def step_figures(home: str, run_id: str) -> dict[str, Any]:
    """Per-asset metadata and step start/end times from the instance's event log."""
    import dagster as dg

    with dg.DagsterInstance.from_config(home) as instance:
        records = instance.all_logs(run_id)
        spans: dict[str, list[float]] = {}
        metadata: dict[str, dict[str, Any]] = {}
        for entry in records:
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                spans.setdefault(event.step_key, [entry.timestamp, entry.timestamp])[0] = entry.timestamp
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                spans.setdefault(event.step_key, [entry.timestamp, entry.timestamp])[1] = entry.timestamp
            elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.event_specific_data.materialization
                metadata[materialization.asset_key.to_user_string()] = {
                    k: getattr(v, "value", v) for k, v in materialization.metadata.items()
                }
    return {"spans": spans, "metadata": metadata}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(11)
        started = time.perf_counter()
        other_companies = max(0, args.companies - args.qualifying_companies - 6)
        self.dataset = generate(
            args.audience,
            companies=args.qualifying_companies,
            other_contacts=args.contacts - args.audience,
            other_companies=other_companies,
            encharge="empty",
        )
        unrelated = [
            new_person(
                f"reader{i}@readers.example.net",
                self.rng.choice(FIRST),
                self.rng.choice(LAST),
                "",
                ["blog"] if i % 3 == 0 else [],
                rng=self.rng,
            )
            for i in range(max(0, args.people - args.audience))
        ]
        self.cw = ConnectWiseSandbox(self.dataset.companies, self.dataset.contacts, indexed=True).start()
        self.cw.set_modes({"child_conditions": args.cw_child_conditions})
        self.encharge = EnchargeSandbox(unrelated).start()
        self.blog_tagged = sum("blog" in p["tags"] for p in unrelated)
        for server in (self.cw, self.encharge):
            server.faults.latency_ms = args.latency_ms
        self.encharge.faults.rate_limit_per_second = args.encharge_rps
        self.home = tempfile.mkdtemp(prefix="mp-bench-")
        Path(self.home, "dagster.yaml").write_text(
            "telemetry:\n  enabled: false\npython_logs:\n  python_log_level: ERROR\n"
        )
        self.store_url = f"sqlite:///{self.home}/marketing.db"
        initialise_store(self.store_url)
        import dagster as dg

        from marketing_pipeline.launch.partition_registry import register_sync_partitions
        from marketing_pipeline.store.repository import SyncStore

        store = SyncStore(self.store_url)
        # As an existing install: the sync owns its tag (a new one asks once before untagging others' people).
        store.adopt_tag(store.get_sync(str(FIRST_SYNC["key"])), "benchmark: an existing install")
        with dg.DagsterInstance.from_config(self.home) as instance:
            register_sync_partitions(instance, store)
        self.env = {
            **self.cw.env(),
            **self.encharge.env(),
            "MARKETING_DATABASE_URL": self.store_url,
            # Keep the client 10% under the account's limit: a 429 costs a retry and a slower pace.
            # A published limit: the client's ceiling 10% under it. None (0): the default ceiling.
            **({"ENCHARGE_MAX_REQUESTS_PER_SECOND": str(args.encharge_rps * 0.9)} if args.encharge_rps else {}),
            "ENCHARGE_CONCURRENCY": str(args.concurrency),
            "CW_CONCURRENCY": str(args.concurrency),
        }
        print(
            f"dataset: {len(self.dataset.companies):,} companies, {len(self.dataset.contacts):,} contacts "
            f"({args.audience:,} pass the filter), {len(unrelated):,} people in Encharge; built in "
            f"{time.perf_counter() - started:.1f}s"
        )
        print(
            f"sandboxes: {args.latency_ms:g} ms latency per request, Encharge published limit "
            f"{args.encharge_rps:g} requests/s (client ceiling 90% of it; 0: none), concurrency {args.concurrency}, "
            f"ConnectWise childConditions {args.cw_child_conditions}\n"
        )

    # --- scenarios -------------------------------------------------------------------------------

    def churn(self, fraction: float) -> dict[str, int]:
        """Rename, deactivate and add a share of the audience each, in ConnectWise."""
        count = max(3, int(len(expected_audience(self.dataset)) * fraction))
        changes = apply_churn(self.dataset, count, seed=11)
        self.cw.invalidate()
        return changes

    def run(
        self, name: str, force: bool = False, executor: str = "multiprocess", resources: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        for server in (self.cw, self.encharge):
            server.clear_log()
        tagged_before = sum(TAG in p["tags"] for p in self.encharge.people.values())
        people_before = len(self.encharge.people)
        figures = run_job(self.home, self.env, force, executor, resources)
        if not figures["success"]:
            raise SystemExit(f"{name}: the run failed; see the Dagster instance in {self.home}")
        figures.update(step_figures(self.home, figures["run_id"]))
        figures["requests"] = Counter({**self.cw.requests, **self.encharge.requests})
        figures["cw_requests"] = dict(self.cw.requests)
        figures["encharge_requests"] = dict(self.encharge.requests)
        figures["tagged_before"] = tagged_before
        figures["people_before"] = people_before
        figures["server_cpu"] = {"ConnectWise": self.cw.cpu_seconds, "Encharge": self.encharge.cpu_seconds}
        figures["encharge_throttled"] = self.encharge.throttled
        figures["peak_step_mb"] = max(m.get("peak_rss_mb") or 0 for m in figures["metadata"].values())
        figures["correct"] = self.verify(people_before)
        return figures

    def verify(self, people_before: int) -> str:
        tagged = {(p.get("email") or "").lower() for p in self.encharge.people.values() if TAG in p["tags"]}
        expected = expected_audience(self.dataset)
        problems = []
        if tagged != expected:
            problems.append(f"{len(expected - tagged)} missing, {len(tagged - expected)} extra tagged")
        if len(self.encharge.people) < people_before:
            problems.append("people were deleted")
        blog = sum("blog" in p["tags"] for p in self.encharge.people.values())
        if blog != self.blog_tagged:
            problems.append("other tags changed")
        return "yes" if not problems else "NO: " + "; ".join(problems)

    # --- lower bounds ----------------------------------------------------------------------------

    def bounds(self, figures: dict[str, Any]) -> dict[str, Any]:
        meta = figures["metadata"]
        lat = self.args.latency_ms / 1000
        conc = self.args.concurrency
        rps = self.args.encharge_rps
        # One query per company type; per contact type, one per chunk of company ids (the URL holds a
        # limited number), each in pages. Without childConditions, one stream of every active contact.
        companies, contacts, qualifying = stream_sizes(
            self.dataset.companies,
            self.dataset.contacts,
            SEED,
            child_conditions=self.args.cw_child_conditions == "apply",
        )
        company_requests = sum(max(1, math.ceil(n / CW_PAGE)) for n in companies.values())
        cw_pages = fewest_requests(self.cw.base_url, companies, contacts, qualifying, page_size=CW_PAGE)
        contact_requests = cw_pages - company_requests - 2
        # Each read, then (after it) its one query of what changed while it ran.
        cw_seconds = lat * (math.ceil(company_requests / conc) + 1 + math.ceil(contact_requests / conc) + 1)
        # ConnectWise documents about 1,000 requests a minute: the client keeps under its ceiling.
        cw_seconds = max(cw_seconds, cw_pages / DEFAULTS.cw_max_requests_per_second)
        people = figures["people_before"]
        plan = meta["sync_plan"]
        # Every address the listing does not have is looked up before it is created (GET /people, batched).
        lookups = math.ceil((plan["to_create"] + plan["found_by_lookup"]) / LOOKUP_BATCH)
        encharge_pages = people // ENCHARGE_PAGE + 1 + lookups
        audience = meta["encharge_audience"]
        batch = 100
        writes = (
            math.ceil(audience["contactsCreated"] / batch)
            + audience["contactsCreated"]  # tags never ride on POST /people: one POST /tags per new person
            + math.ceil(plan["to_update"] / batch)
            + plan["to_tag"]
            + plan["to_untag"]
        )
        listing = encharge_pages - lookups
        encharge_seconds = max(lat * (1 + math.ceil((listing - 1) / conc)), listing / rps)
        # Lookups happen in the plan step, after both reads and before any write.
        lookup_seconds = max(lat * math.ceil(lookups / conc), lookups / rps) if lookups else 0.0
        write_seconds = max(lat * math.ceil(writes / conc), writes / rps) if writes else 0.0
        return {
            "cw_requests": cw_pages,
            "encharge_reads": encharge_pages,
            "encharge_writes": writes,
            "read_seconds": max(cw_seconds, encharge_seconds),
            "write_seconds": write_seconds,
            "lookup_seconds": lookup_seconds,
            "lookups": lookups,
            "cw_seconds": cw_seconds,
            "encharge_seconds": encharge_seconds,
        }


def report(name: str, figures: dict[str, Any], bound: dict[str, Any]) -> dict[str, Any]:
    meta = figures["metadata"]
    spans = figures["spans"]
    requests = figures["requests"]
    cw_total = sum(v for k, v in figures["cw_requests"].items())
    reads = sum(v for k, v in figures["encharge_requests"].items() if k.startswith("GET"))
    writes = sum(v for k, v in figures["encharge_requests"].items() if not k.startswith("GET"))
    read_cw = meta["cw_companies"]["seconds"] + meta["cw_contacts"]["seconds"]
    read_encharge = meta["encharge_people"]["seconds"]
    cw_span = (spans["cw_companies"][0], spans["cw_contacts"][1])
    enc_span = spans["encharge_people"]
    overlap = max(0.0, min(cw_span[1], enc_span[1]) - max(cw_span[0], enc_span[0]))
    plan = meta["sync_plan"]["seconds"]
    apply = meta["encharge_audience"]["seconds"]
    io_total = max(read_cw, read_encharge) + plan + apply
    bound_total = bound["read_seconds"] + bound["lookup_seconds"] + bound["write_seconds"]
    print(f"== {name}: {meta['encharge_audience']['summary'].strip('*')}; correct: {figures['correct']}")
    if meta["encharge_people"].get("listing_note"):
        print(f"   {meta['encharge_people']['listing_note']}")
    rows = [("requests", "measured", "lower bound", "ratio")]
    for label, measured, lower in (
        ("ConnectWise", cw_total, bound["cw_requests"]),
        ("Encharge reads", reads, bound["encharge_reads"]),
        ("Encharge writes", writes, bound["encharge_writes"]),
    ):
        ratio = f"{measured / lower:.3f}" if lower else ("-" if measured == 0 else "inf")
        rows.append((label, f"{measured:,}", f"{lower:,}", ratio))
    for endpoint, count in sorted(requests.items()):
        rows.append((f"  {endpoint}", f"{count:,}", "", ""))
    rows.append(("seconds", "measured", "lower bound", "ratio"))
    for label, measured, lower in (
        ("read ConnectWise", read_cw, bound["cw_seconds"]),
        ("read Encharge", read_encharge, bound["encharge_seconds"]),
        ("plan (with lookups)", plan, bound["lookup_seconds"] or None),
        ("apply", apply, bound["write_seconds"]),
        ("total in steps", io_total, bound_total),
    ):
        ratio = f"{measured / lower:.2f}" if lower else "-"
        rows.append((label, f"{measured:.2f}", "-" if lower is None else f"{lower:.2f}", ratio))
    rows.append(("reads overlapped", f"{overlap:.2f}s", "", ""))
    rows.append(("Dagster run, wall", f"{figures['wall']:.2f}", "", ""))
    for server, seconds in figures["server_cpu"].items():
        rows.append((f"sandbox CPU, {server}", f"{seconds:.2f}", "", ""))
    rows.append(("peak RSS, largest step", f"{figures['peak_step_mb']:.0f} MB", "", ""))
    for asset in ASSETS:
        rows.append((f"  {asset}", f"{meta[asset].get('peak_rss_mb') or 0:.0f} MB", "", ""))
    rows.append(("peak RSS, run orchestrator", f"{figures['orchestrator_mb']:.0f} MB", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print(
            "  "
            + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    print()
    return {
        "scenario": name,
        "cw_requests": cw_total,
        "encharge_reads": reads,
        "encharge_writes": writes,
        "bounds": bound,
        "read_cw_s": read_cw,
        "read_encharge_s": read_encharge,
        "plan_s": plan,
        "apply_s": apply,
        "total_in_steps_s": io_total,
        "overlap_s": overlap,
        "wall_s": figures["wall"],
        "peak_step_mb": figures["peak_step_mb"],
        "orchestrator_mb": figures["orchestrator_mb"],
        "server_cpu": figures["server_cpu"],
        "correct": figures["correct"],
    }


# --- learning an unpublished limit ------------------------------------------------------------------

FIXED = {"rate_control": "fixed", "max_requests_per_second": 20}  # the client before issue 15
FAST_COLD = {"max_requests_per_second": 0, "write_concurrency": 16}  # only to put the audience in, quickly


def forget_learned_rates(store_url: str) -> None:
    from sqlalchemy import delete

    from marketing_pipeline.store.database import connect
    from marketing_pipeline.store.schema import marketing_api_rate

    with connect(store_url) as conn:
        conn.execute(delete(marketing_api_rate))


def learned_rates(store_url: str) -> dict[str, str]:
    from marketing_pipeline.store.repository import SyncStore

    store = SyncStore(store_url)
    shown = {}
    for api in ("encharge", "connectwise"):
        learned = store.learned_rate(api)
        shown[api] = (
            "nothing"
            if learned is None
            else (f"{learned.per_second:.1f}/s ({'a limit met' if learned.limit_seen else 'no limit met'})")
        )
    return shown


def limit_report(bench: Bench, label: str, limit: float, figures: dict[str, Any]) -> dict[str, Any]:
    """One steady-state run against the hidden limit: requests against the fewest, 429s, time against
    requests / limit, and the rates reached and learned."""
    meta = figures["metadata"]
    throttled = figures["encharge_throttled"]
    sent = sum(figures["encharge_requests"].values())
    answered = sent - throttled
    writes = sum(v for k, v in figures["encharge_requests"].items() if not k.startswith("GET"))
    fewest = figures["people_before"] // ENCHARGE_PAGE + 1 + 2  # the pages and GET /accounts/info, before and after
    read_cw = meta["cw_companies"]["seconds"] + meta["cw_contacts"]["seconds"]
    in_steps = max(read_cw, meta["encharge_people"]["seconds"]) + meta["sync_plan"]["seconds"]
    in_steps += meta["encharge_audience"]["seconds"]
    bound = max(fewest / limit, bench.args.latency_ms / 1000 * math.ceil(fewest / bench.args.concurrency))
    people = meta["encharge_people"]
    row = {
        "run": label,
        "limit": limit,
        "requests": answered,
        "fewest": fewest,
        "requests_ratio": answered / fewest,
        "throttled": throttled,
        "throttled_share": throttled / sent if sent else 0.0,
        "writes": writes,
        "in_steps_s": in_steps,
        "bound_s": bound,
        "time_ratio": in_steps / bound,
        "read_encharge_s": people["seconds"],
        "read_cw_s": read_cw,
        "rate_reached": people.get("rate_reached_per_second"),
        "rate_learned": people.get("rate_learned_per_second"),
        "wall_s": figures["wall"],
        "correct": figures["correct"],
    }
    return row


def print_limit_rows(rows: list[dict[str, Any]]) -> None:
    header = (
        "run",
        "requests (fewest)",
        "ratio",
        "429s",
        "share",
        "writes",
        "s in steps (requests/limit)",
        "ratio",
        "rate reached",
        "learned",
        "correct",
    )
    table = [header]
    for r in rows:
        table.append(
            (
                r["run"],
                f"{r['requests']:,} ({r['fewest']:,})",
                f"{r['requests_ratio']:.3f}",
                f"{r['throttled']:,}",
                f"{r['throttled_share']:.1%}",
                f"{r['writes']}",
                f"{r['in_steps_s']:.1f} ({r['bound_s']:.1f})",
                f"{r['time_ratio']:.2f}",
                "-" if r["rate_reached"] is None else f"{r['rate_reached']:.0f}/s",
                "-" if r["rate_learned"] is None else f"{r['rate_learned']:.0f}/s",
                r["correct"],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print(
            "  "
            + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    print()


def hidden_limit_benchmark(bench: Bench, limits: list[float], burst: float) -> list[dict[str, Any]]:
    """Put the audience in (no limit), then per hidden limit: the fixed-rate client, the adaptive one with
    nothing learned, and again with what it learned; every run is steady state (nothing to write)."""
    started = time.perf_counter()
    cold = bench.run("cold, unlimited", resources={"encharge": FAST_COLD})
    print(f"audience put in (no limit, not measured): {cold['correct']}, {time.perf_counter() - started:.0f}s\n")
    rows: list[dict[str, Any]] = []
    for limit in limits:
        print(f"== hidden Encharge limit {limit:g} requests/s (token bucket, burst {burst or limit:g}), steady state")
        bench.encharge.modes.configure({"hidden_limit_per_second": limit, "hidden_limit_burst": burst})
        forget_learned_rates(bench.store_url)
        runs = [
            ("fixed 20/s (before)", {"encharge": FIXED}),
            ("adaptive, nothing learned", {}),
            ("adaptive, learned", {}),
        ]
        group = []
        for label, resources in runs:
            bench.encharge.modes.configure({"hidden_limit_per_second": limit, "hidden_limit_burst": burst})  # full
            figures = bench.run(label, resources=resources)
            group.append(limit_report(bench, label, limit, figures))
        learned = learned_rates(bench.store_url)
        print_limit_rows(group)
        print(f"  learned and stored: Encharge {learned['encharge']}, ConnectWise {learned['connectwise']}\n")
        rows.extend(group)
    bench.encharge.modes.configure({"hidden_limit_per_second": 0})
    return rows


def diff_benchmark(size: int) -> float:
    """The pure diff of `size` contacts against `size` people (80% overlap, 5% changed), best of 3."""
    from marketing_pipeline.sync.audience import CONTACT_COLUMNS
    from marketing_pipeline.sync.people import PEOPLE_COLUMNS
    from marketing_pipeline.sync.plan import build_plan

    rng = random.Random(5)
    contacts = pd.DataFrame(
        [
            {
                "contact_id": i,
                "first_name": "F",
                "last_name": f"L{i}",
                "company": f"C{i % 500}",
                "company_id": i % 500,
                "email": f"p{i}@x.com",
                "email_key": f"p{i}@x.com",
                "email_problem": None,
                "reason": "r",
            }
            for i in range(size)
        ],
        columns=CONTACT_COLUMNS,
    )
    people = pd.DataFrame(
        [
            {
                "person_id": f"id{i}",
                "email": f"p{i}@x.com",
                "email_key": f"p{i}@x.com",
                "first_name": "F",
                "last_name": f"L{i}" if rng.random() > 0.05 else "Old",
                "company": f"C{i % 500}",
                "tags": TAG if i % 5 else "other",
            }
            for i in range(size // 5, size + size // 5)
        ],
        columns=PEOPLE_COLUMNS,
    )
    return min(timeit.repeat(lambda: build_plan(contacts, people, TAG), number=1, repeat=3))


def dagster_overhead() -> dict[str, dict[str, float]]:
    """Wall time of a run with nothing to do against sandboxes without latency, minus the steps' own work,
    for each executor."""
    args = argparse.Namespace(
        contacts=130,
        audience=86,
        people=100,
        companies=30,
        qualifying_companies=20,
        latency_ms=0,
        encharge_rps=1000,
        concurrency=4,
        cw_child_conditions="apply",
    )
    bench = Bench(args)
    bench.run("warm-up")
    out = {}
    for executor in ("multiprocess", "in_process"):
        figures = bench.run("idle", executor=executor)
        work = sum(figures["metadata"][a]["seconds"] for a in ASSETS)
        out[executor] = {"wall_s": figures["wall"], "in_steps_s": work, "overhead_s": figures["wall"] - work}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000, help="ConnectWise contacts in all")
    parser.add_argument("--audience", type=int, default=20_000, help="contacts that pass the seed's filter")
    parser.add_argument("--people", type=int, default=100_000, help="Encharge people once the audience is in")
    parser.add_argument("--companies", type=int, default=5_000)
    parser.add_argument("--qualifying-companies", type=int, default=3_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--encharge-rps", type=float, default=50.0, help="the sandbox's Encharge rate limit")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--churn", type=float, default=0.01)
    parser.add_argument(
        "--cw-child-conditions",
        choices=("apply", "ignore", "refuse"),
        default="apply",
        help="how the ConnectWise sandbox treats childConditions (refuse: the read without them)",
    )
    parser.add_argument("--diff-size", type=int, default=100_000)
    parser.add_argument(
        "--hidden-limits",
        type=float,
        nargs="*",
        help="measure learning these unpublished Encharge limits (requests/s) instead of the usual scenarios",
    )
    parser.add_argument("--hidden-burst", type=float, default=0, help="the hidden limit's burst (0: a second's worth)")
    parser.add_argument(
        "--signups-per-page",
        type=int,
        default=2,
        help="the busy scenario: people who sign up each time a page of Encharge is read (every fourth "
        "anonymous), while one person acts in a default order by activity; 0 skips it",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    if args.hidden_limits:
        args.encharge_rps = 0.0  # Encharge publishes no limit: the sandbox has only the hidden one
        bench = Bench(args)
        rows = hidden_limit_benchmark(bench, args.hidden_limits, args.hidden_burst)
        if args.json:
            args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "hidden": rows}, indent=2))
        if any(r["correct"] != "yes" for r in rows):
            raise SystemExit("the pipeline's result was wrong in at least one run")
        return

    bench = Bench(args)
    results = []
    cold = bench.run("cold")
    results.append(report("cold first sync (audience new to Encharge)", cold, bench.bounds(cold)))
    steady = bench.run("steady")
    results.append(report("steady state (nothing changed)", steady, bench.bounds(steady)))
    changes = bench.churn(args.churn)
    churn = bench.run("churn")
    results.append(
        report(
            f"{args.churn:.0%} churn ({changes['renamed']} renamed, {changes['left']} left, "
            f"{changes['joined']} joined)",
            churn,
            bench.bounds(churn),
        )
    )

    if args.signups_per_page:
        live = {"signups_per_page": args.signups_per_page, "listing_order": "activity", "activity_per_page": 1}
        bench.encharge.modes.configure(live)
        busy = bench.run("busy")
        bench.encharge.modes.configure({"signups_per_page": 0, "activity_per_page": 0})
        title = f"busy Encharge ({args.signups_per_page} sign-ups and 1 person acting per page read; nothing to do)"
        results.append(report(title, busy, bench.bounds(busy)))

    diff_seconds = diff_benchmark(args.diff_size)
    print(f"== pure diff, {args.diff_size:,} contacts x {args.diff_size:,} people: {diff_seconds:.3f}s (best of 3)")
    overhead = dagster_overhead()
    for executor, figures in overhead.items():
        print(
            f"== Dagster overhead per sync run, {executor} executor (86 contacts, no latency, nothing to do): "
            f"wall {figures['wall_s']:.2f}s, in steps {figures['in_steps_s']:.2f}s, "
            f"overhead {figures['overhead_s']:.2f}s"
        )
    if any(r["correct"] != "yes" for r in results):
        raise SystemExit("the pipeline's result was wrong in at least one scenario")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"json": str(args.json)},
                    "scenarios": results,
                    "diff_s": diff_seconds,
                    "dagster": overhead,
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
