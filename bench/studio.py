"""``python -m bench.studio``: from a new training example to the running server answering with it.

A server on the current model with a content copy of all 8 languages (``CROSSDESK_CONTENT_DIR``);
shoppers talk all along (``--shoppers``, a pause of ``--think`` s between a reply and the next
message). Then an example is added to ``bot_challenge`` (written into the content copy as the
studio's editor writes it), a training is started through the API, and the time until a shopper
writing that example gets the ``bot_challenge`` answer is measured. Prints that time, the job's
own stages, and the shoppers' reply p50/p99 idle, during training (and the gate) and during the swap.

One swap gives a handful of replies (5 shoppers, ~1.5 s): after the trained model is live, the
model it replaced and the new one are switched back and forth ``--swaps`` times (the studio's
rollback, ``POST /api/studio/models/NAME/activate``), and every reply whose exchange overlaps a
swap counts in the swap's figures (a swap takes ~0.5 s since the vocabulary loads in slices: 40 swaps
give ~120 replies). Idle is measured for 40 s (~200 replies), so its p99 is not one slow reply.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path


from bench.common import ROOT, Client, first_reply, free_port, percentile, start_crossdesk, stop
from harness.processes import add_agent, login

PHRASE = "zorblat frimble"
PASSWORD = "bench password 1"
IDLE_SECONDS = 40.0  # ~200 idle replies: the p99 the swap is compared with is not one slow reply
SWAPS = 40  # rollback swaps pooled after the training's (~0.5 s each: ~120 replies)


def copy_content(target: Path) -> Path:
    """The repository's training inputs and answers, in ``target``."""
    for name in ("config.yml", "data/rules.yml", "bot/domain.yml"):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(ROOT / "data" / "nlu", target / "data" / "nlu")
    shutil.copytree(ROOT / "bot" / "responses", target / "bot" / "responses")
    return target


def add_example(content: Path) -> None:
    """Examples added to the topic file of ``bot_challenge`` (every language has the same topic files:
    a new file in one language alone fails the content checks)."""
    path = content / "data" / "nlu" / "en" / "conversation.yml"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"- intent: bot_challenge\n  examples: |\n    - {PHRASE}\n    - {PHRASE} please\n"
                     f"    - is this a {PHRASE}\n")


def api(url: str, path: str, token: str, method: str = "GET") -> dict:
    request = urllib.request.Request(url + path, method=method, data=b"" if method == "POST" else None,
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


async def talk(url: str, shoppers: int, think: float, phase, samples: list, stop_event: asyncio.Event) -> None:
    """Shoppers exchanging messages until ``stop_event``; (phase at send time, seconds, sent at) into
    ``samples``."""
    clients = [Client(url) for _ in range(shoppers)]
    await asyncio.gather(*(c.connect() for c in clients))

    async def run(index: int, client: Client) -> None:
        await asyncio.sleep(think * index / shoppers)
        while not stop_event.is_set():
            state, sent = phase(), time.perf_counter()
            samples.append((state, await client.exchange("how long does shipping to Germany take?"), sent))
            await asyncio.sleep(think)

    await asyncio.gather(*(run(i, c) for i, c in enumerate(clients)))
    await asyncio.gather(*(c.close() for c in clients))


def swap_windows(url: str, token: str, names: list, rounds: int, pause: float) -> list:
    """Switch to each of the ``names`` models in turn, ``rounds`` times (the studio's rollback, then
    forward again), ``pause`` s apart; the (start, end) of each switch."""
    windows = []
    for index in range(rounds):
        time.sleep(pause)
        name = names[index % len(names)]
        started = time.perf_counter()
        api(url, f"/api/studio/models/{name}/activate", token, "POST")
        windows.append((started, time.perf_counter()))
    return windows


def overlaps(sent: float, seconds: float, windows: list) -> bool:
    """Whether an exchange from ``sent`` lasting ``seconds`` overlaps one of the windows."""
    return any(sent < end and sent + seconds > start for start, end in windows)


async def measure(model: Path, work: Path, shoppers: int, think: float, idle_seconds: float,
                  swaps: int = 0) -> dict:
    content = copy_content(work / "content")
    var = work / "crossdesk"  # (start_crossdesk's CROSSDESK_VAR_DIR)
    (var / "models").mkdir(parents=True, exist_ok=True)
    shutil.copy(model, var / "models" / model.name)  # (kept in the server's models: the rollback's target)
    add_agent(var, "bench", PASSWORD, role="content")
    port = free_port()
    started = time.perf_counter()
    os.environ["CROSSDESK_CONTENT_DIR"] = str(content)  # (start_crossdesk passes CROSSDESK_* on)
    try:
        process = start_crossdesk(model, work, port)
    finally:
        os.environ.pop("CROSSDESK_CONTENT_DIR")
    url = f"http://127.0.0.1:{port}"
    try:
        await first_reply(url, started, timeout=600)  # (a machine shared with other work starts slowly)
        token = login(url, "bench", PASSWORD)[1]["token"]
        state = {"phase": "idle"}
        samples: list = []
        done = asyncio.Event()
        talking = asyncio.create_task(talk(url, shoppers, think, lambda: state["phase"], samples, done))
        await asyncio.sleep(idle_seconds)
        add_example(content)
        clicked = time.perf_counter()
        api(url, "/api/studio/training", token, "POST")
        probe = Client(url)
        await probe.connect(locale="en")  # (without a locale "zorblat frimble" is detected as Romanian: fallback)
        answered_at = None
        seen: dict = {}  # job state -> seconds after the click when the poll first saw it
        while time.perf_counter() - clicked < 1800:
            job = (await asyncio.to_thread(api, url, "/api/studio/training", token))["job"]
            seen.setdefault(job["state"], time.perf_counter() - clicked)
            state["phase"] = {"training": "training", "checking": "training", "swapping": "swapping"}.get(
                job["state"], "after")
            if job["state"] in ("rejected", "failed"):
                raise RuntimeError(f"training {job['state']}: {job['log'][-5:]}")
            if job["state"] == "live" and answered_at is None:
                probe.replies = asyncio.Queue()
                texts: list = []
                probe.sio.on("bot_uttered", lambda data=None: texts.append(data))
                await probe.sio.emit("user_uttered", {"message": PHRASE, "session_id": probe.session_id})
                await asyncio.sleep(1)
                if any("virtual assistant" in (t or {}).get("text", "") for t in texts):
                    answered_at = time.perf_counter()
                    break
            await asyncio.sleep(0.25)
        windows = [(clicked + seen["swapping"], clicked + seen.get("live", seen["swapping"]))] if "swapping" in seen else []
        if swaps and answered_at is not None:
            state["phase"] = "swapping"  # (only replies overlapping a window count as the swap's)
            names = [model.name, job["model"]]
            windows += await asyncio.to_thread(swap_windows, url, token, names, swaps, think)
            state["phase"] = "after"
        await asyncio.sleep(idle_seconds / 2)
        done.set()
        await talking
        await probe.close()
    finally:
        stop([process])
    result = {"add_to_live_seconds": (answered_at - clicked) if answered_at else None, "job": job, "stages": seen,
              "swaps": len(windows), "swap_seconds": [end - start for start, end in windows],
              "load_average": os.getloadavg(), "phases": phases_of(samples, windows)}
    report(result, shoppers, think)
    return result


def phases_of(samples: list, windows: list) -> dict:
    """Reply p50/p99 per phase; a reply overlapping a swap window counts as the swap's."""
    by_phase: dict = {}
    for phase, seconds, sent in samples:
        phase = "swapping" if overlaps(sent, seconds, windows) else "after" if phase == "swapping" else phase
        by_phase.setdefault(phase, []).append(seconds)
    return {p: {"replies": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99)} for p, v in by_phase.items()}


async def measure_swaps(model: Path, other: Path, work: Path, shoppers: int, think: float, idle_seconds: float,
                        swaps: int) -> dict:
    """Swaps only (no training, ~2 min): idle, then ``swaps`` switches between two kept models."""
    var = work / "crossdesk"
    (var / "models").mkdir(parents=True, exist_ok=True)
    for archive in (model, other):
        shutil.copy(archive, var / "models" / archive.name)
    add_agent(var, "bench", PASSWORD, role="content")
    port, started = free_port(), time.perf_counter()
    process = start_crossdesk(model, work, port)
    url = f"http://127.0.0.1:{port}"
    try:
        await first_reply(url, started, timeout=600)
        token = login(url, "bench", PASSWORD)[1]["token"]
        state, samples, done = {"phase": "idle"}, [], asyncio.Event()
        talking = asyncio.create_task(talk(url, shoppers, think, lambda: state["phase"], samples, done))
        await asyncio.sleep(idle_seconds)
        state["phase"] = "swapping"
        windows = await asyncio.to_thread(swap_windows, url, token, [other.name, model.name], swaps, think)
        state["phase"] = "after"
        await asyncio.sleep(idle_seconds / 2)
        done.set()
        await talking
    finally:
        stop([process])
    result = {"swaps": len(windows), "swap_seconds": [end - start for start, end in windows],
              "load_average": os.getloadavg(), "phases": phases_of(samples, windows)}
    report(result, shoppers, think)
    return result


def report(result: dict, shoppers: int, think: float) -> None:
    job = result.get("job")
    if job:
        print(f"studio: example added -> live answer in {result['add_to_live_seconds']:.1f} s (target <= 120 s); "
              f"job {job['finished_at'] - job['started_at']:.1f} s", flush=True)
        print("  job states first seen (s after the click): "
              + ", ".join(f"{state} {seconds:.1f}" for state, seconds in result["stages"].items()), flush=True)
    if result["swaps"]:
        seconds = sorted(result["swap_seconds"])
        print(f"  {result['swaps']} swaps (the training's and {result['swaps'] - 1} rollbacks): "
              f"{seconds[len(seconds) // 2]:.2f} s median, {seconds[-1]:.2f} s longest", flush=True)
    print("  load average at the end: " + " ".join(f"{x:.2f}" for x in result["load_average"]), flush=True)
    for line in job["log"] if job else []:
        if line.startswith("trained in") or ": live " in line:  # (the gate's line per language)
            print(f"  job log: {line}", flush=True)
    idle = result["phases"].get("idle")
    for phase in ("idle", "training", "swapping", "after"):
        figures = result["phases"].get(phase)
        if figures:
            ratio = f" (p99 x{figures['p99'] / idle['p99']:.2f} of idle)" if idle and phase != "idle" else ""
            print(f"  {shoppers} shoppers ({think:g} s think) {phase:<9} reply p50 {figures['p50'] * 1000:5.0f} ms  "
                  f"p99 {figures['p99'] * 1000:5.0f} ms  ({figures['replies']} replies){ratio}", flush=True)


async def main(args: argparse.Namespace) -> None:
    from bot.training import ensure_model

    model = Path(args.model) if args.model else ensure_model(ROOT / "var" / "models")
    with tempfile.TemporaryDirectory(prefix="crossdesk-studio-") as tmp:
        if args.against:
            await measure_swaps(model, Path(args.against), Path(tmp), args.shoppers, args.think, args.idle, args.swaps)
        else:
            await measure(model, Path(tmp), args.shoppers, args.think, args.idle, args.swaps)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.studio")
    parser.add_argument("--shoppers", type=int, default=5)
    parser.add_argument("--think", type=float, default=1.0, help="pause (s) between a reply and the next message")
    parser.add_argument("--idle", type=float, default=IDLE_SECONDS, help="seconds of idle measurement before training")
    parser.add_argument("--swaps", type=int, default=SWAPS,
                        help="rollback swaps after the training's (pooled in the swap figures)")
    parser.add_argument("--model", help="model archive (default: train/reuse var/models)")
    parser.add_argument("--against", metavar="ARCHIVE",
                        help="no training: only swap between --model and this kept model (~2 min)")
    asyncio.run(main(parser.parse_args()))
