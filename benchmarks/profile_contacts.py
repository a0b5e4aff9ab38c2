"""Where a ConnectWise read's time goes at a 100,000-contact audience: the read `cw_companies` and
`cw_contacts` do (companies, then every contact turned into compact rows page by page), timed against its
bounds, with the ConnectWise sandbox in another process so that only the client is measured and profiled.

    .venv/bin/py-spy record -f raw -r 200 -o /tmp/cw.txt -- .venv/bin/python benchmarks/profile_contacts.py
    .venv/bin/python benchmarks/profile_contacts.py --summarize /tmp/cw.txt

(py-spy samples every thread of the client: the reads run on four.)
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from marketing_pipeline.connectwise.bounds import fewest_requests, stream_sizes

CW_PAGE = 1000


def serve(audience: int, companies: int, latency_ms: float, queue: Any, stop: Any) -> None:
    """In a child process: the dataset and the ConnectWise sandbox over it, until told to stop."""
    from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
    from marketing_pipeline.sandbox.dataset import generate
    from marketing_pipeline.store.seed import FIRST_SYNC
    from marketing_pipeline.sync.domain import FilterConfig

    data = generate(audience, companies=companies, other_contacts=0, other_companies=0, encharge="empty")
    seed = FilterConfig.model_validate(FIRST_SYNC["filter_config"])
    with ConnectWiseSandbox(data.companies, data.contacts, indexed=True) as cw:
        cw.faults.latency_ms = latency_ms
        sizes = stream_sizes(data.companies, data.contacts, seed)
        fewest = fewest_requests(cw.base_url, *sizes, page_size=CW_PAGE)
        queue.put({"env": cw.env(), "fewest": fewest, "contacts": len(data.contacts)})
        stop.wait()


def read(env: dict[str, str], max_rps: float) -> dict[str, Any]:
    """The two ConnectWise steps' work, without Dagster: what the profile is of."""
    from marketing_pipeline.connectwise.client import RETRYABLE, ConnectWiseClient
    from marketing_pipeline.store.seed import FIRST_SYNC
    from marketing_pipeline.sync.audience import (
        company_frame,
        company_lookup,
        contact_rows,
        frame_from_contact_rows,
        row_contact_id,
    )
    from marketing_pipeline.sync.domain import FilterConfig
    from marketing_pipeline.transport.http import RetrySettings
    from marketing_pipeline.transport.rate import rate_control

    filters = FilterConfig.model_validate(FIRST_SYNC["filter_config"])
    client = ConnectWiseClient(
        base_url=env["CW_BASE_URL"],
        company_id=env["CW_COMPANY_ID"],
        public_key=env["CW_PUBLIC_KEY"],
        private_key=env["CW_PRIVATE_KEY"],
        client_id=env["CW_CLIENT_ID"],
        retry=RetrySettings(retry_statuses=RETRYABLE),
        rate_control=rate_control("adaptive", ceiling=max_rps, initial=max_rps),
    )
    started = time.perf_counter()
    cpu = time.process_time()
    with client:
        companies = company_frame(client.companies(filters), filters)
        lookup = company_lookup(companies)
        rows = client.contacts(
            filters,
            companies["company_id"].tolist(),
            per_page=lambda page: contact_rows(page, lookup, filters),
            row_id=row_contact_id,
        )
        frame = frame_from_contact_rows(rows)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "requests": client.transport.stats.total,
        "fetched": client.contacts_fetched,
        "audience": len(frame),
    }


def summarize(path: Path, top: int) -> None:
    """Self time by function, and time under a few functions that matter, from py-spy's raw output."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    marks = {
        "json decode (requests' response.json)": ("json (requests/models.py",),
        "pydantic model_validate": ("model_validate (pydantic/main.py",),
        "contact_rows (our filter, emails, rows)": ("contact_rows (marketing_pipeline/sync/audience.py",),
        "reading responses (socket, HTTP)": ("readinto (socket.py", "_read_status", "content (requests/models.py"),
        "waiting on the rate": ("_wait (marketing_pipeline/transport/rate.py",),
    }
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "read (benchmarks/profile_contacts.py" not in stack and "_worker" not in stack:
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        leaf = frames[-1].split(":")[0]
        own[leaf] += n
        for label, needles in marks.items():
            if any(needle in frame for frame in frames for needle in needles):
                under[label] += n
    print(f"samples: {total:,} (all threads of the client, idle ones included)")
    for label, n in under.most_common():
        print(f"  {n / total:6.1%}  under {label}")
    print("self time, top functions:")
    for name, n in own.most_common(top):
        print(f"  {n / total:6.1%}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audience", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-rps", type=float, default=1000.0, help="the client's rate ceiling (CW's: 16)")
    parser.add_argument("--summarize", type=Path, help="summarize a py-spy raw profile instead")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize, args.top)
        return
    context = multiprocessing.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(args.audience, args.companies, args.latency_ms, queue, stop))
    server.start()
    ready = queue.get(timeout=1800)
    try:
        figures = read(ready["env"], args.max_rps)
    finally:
        stop.set()
        server.join()
    lat = args.latency_ms / 1000
    latency_bound = lat * math.ceil(ready["fewest"] / 4)
    rate_bound = ready["fewest"] / args.max_rps
    print(
        f"ConnectWise read of {figures['fetched']:,} contacts ({figures['audience']:,} in the audience): "
        f"{figures['seconds']:.2f}s, {figures['cpu_seconds']:.2f}s CPU in the client, {figures['requests']} "
        f"requests (fewest {ready['fewest']}); bound {max(latency_bound, rate_bound):.2f}s "
        f"(latency {latency_bound:.2f}s, rate {rate_bound:.2f}s at {args.max_rps:g}/s)"
    )


if __name__ == "__main__":
    sys.exit(main())
