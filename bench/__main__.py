"""``make bench``: Crossdesk vs plain ``rasa run`` on the same model, over real Socket.IO.

Prints the KPI dashboard's time over 100,000 conversations (``bench/kpis.py``), the store's CPU per
written message (``bench/store_writes.py``),
one process's cold start and memory (``bench/process.py``), the reply at message 1
and 500 of a conversation (``bench/history.py``),
cold start (process start to first reply), reply latency p50/p95/p99 and
replies/s for N concurrent shoppers x M messages, for both servers, and the ratio.
Loopback only; every loop is bounded. Shared helpers live in ``bench/common.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from bench.common import measure, start_crossdesk, start_plain_rasa
from crossdesk.paths import MODELS_DIR, WIDGET_DIR


def widget_size() -> None:
    """The widget's size budget (socket.io-client excluded)."""
    import gzip

    raw = (WIDGET_DIR / "crossdesk.js").read_bytes()
    print(f"widget: crossdesk.js {len(raw) / 1024:.1f} KB, {len(gzip.compress(raw, 9)) / 1024:.1f} KB gzipped "
          f"(budget 25 KB)", flush=True)


async def main(args: argparse.Namespace) -> None:
    from bot.training import ensure_model

    model = Path(args.model) if args.model else ensure_model(MODELS_DIR)
    with tempfile.TemporaryDirectory(prefix="crossdesk-bench-") as tmp:
        work = Path(tmp)
        print(f"{args.shoppers} concurrent shoppers x {args.messages} messages, model {model.name}, "
              f"{os.cpu_count()} cores", flush=True)
        widget_size()
        from bench.kpis import measure as measure_kpis

        measure_kpis()
        from bench.store_writes import measure as measure_store_writes

        measure_store_writes()  # what the KPI summary's triggers and indexes add to each stored message
        from bench.translation import measure as measure_translation, table

        print("translation added per message (fake LibreTranslate on loopback, 200 messages):")
        print(table(await measure_translation(200)), flush=True)
        from bench.process import measure as measure_process

        await measure_process(model, work)  # one process: cold start, RSS at rest and after a load
        if not args.skip_history:
            from bench.history import measure as measure_history

            await measure_history(model, work)
        if not args.skip_relay:
            from bench.relay import measure as measure_relay

            await measure_relay(model, work)
        if not args.skip_flood:
            from bench.flood import measure as measure_flood

            await measure_flood(model, work)
        if not args.skip_studio:
            from bench.studio import IDLE_SECONDS, SWAPS, measure as measure_studio

            (work / "studio").mkdir()
            await measure_studio(model, work / "studio", shoppers=5, think=1.0,
                                 idle_seconds=IDLE_SECONDS, swaps=SWAPS)
        ours = await measure("crossdesk", start_crossdesk, model, work, args.shoppers, args.messages, args.think)
        if not args.skip_scaleout:  # 1 vs 2 processes on Redis + PostgreSQL (issue #21)
            from bench.scaleout import main as measure_scaleout, parser as scaleout_options

            await measure_scaleout(scaleout_options().parse_args(
                ["--shoppers", str(args.shoppers), "--messages", str(args.messages), "--model", str(model)]))
        if args.skip_plain:
            return
        plain = await measure("plain rasa", start_plain_rasa, model, work, args.shoppers, args.messages,
                              args.think)
    print(f"ratio crossdesk/plain: throughput x{ours['per_second'] / plain['per_second']:.2f}, "
          f"p99 latency x{ours['p99'] / plain['p99']:.2f}, cold start x{ours['cold_start'] / plain['cold_start']:.2f}")
    print(f"vs the rasa-init bot on plain rasa run (12 replies/s, docs/benchmarks.md): "
          f"x{ours['per_second'] / 12:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--shoppers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--think", type=float, default=2.0,
                        help="also measure with this pause (s) between a reply and the next message; 0 skips")
    parser.add_argument("--model", help="model archive (default: train/reuse var/models)")
    parser.add_argument("--skip-relay", action="store_true", help="skip the handoff relay measurement")
    parser.add_argument("--skip-plain", action="store_true", help="measure Crossdesk only")
    parser.add_argument("--skip-scaleout", action="store_true",
                        help="skip 1 vs 2 processes (alone: python -m bench.scaleout)")
    parser.add_argument("--skip-history", action="store_true",
                        help="skip the long-conversation measurement (alone: python -m bench.history)")
    parser.add_argument("--skip-flood", action="store_true",
                        help="skip the flood measurement (alone: python -m bench.flood)")
    parser.add_argument("--skip-studio", action="store_true",
                        help="skip the studio measurement: new example -> live answer (alone: python -m bench.studio)")
    asyncio.run(main(parser.parse_args()))
