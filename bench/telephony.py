"""Telephony benchmarks: AMI decoding and FastAGI round trips. Prints a table.

    python bench/telephony.py [--quick]

* AMI: the Asterisk 22 recording (132 messages, 55 kB) repeated, decoded by
  :class:`telephony.ami_codec.AmiParser` in socket-sized chunks; messages/s,
  best of several runs. Target: >= 100,000 messages/s.
* FastAGI: :class:`telephony.agi_server.AgiServer` on loopback, driven by the
  fake Asterisk's FastAGI side; each handler sends ``NOOP`` commands back to
  back; command round trips/s over all concurrent calls, on the stock asyncio
  loop and on uvloop (what ``acd run`` uses). Target: >= 5,000/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telephony.agi_server import AgiServer, AgiSession  # noqa: E402
from telephony.ami_codec import AmiParser  # noqa: E402
from telephony.fake import FakeAsterisk  # noqa: E402

RECORDING = ROOT / "tests" / "telephony" / "fixtures" / "asterisk-22" / "ami-from-asterisk.bin"
AMI_TARGET = 100_000
AGI_TARGET = 5_000


def bench_ami(chunk: int, repeats: int, runs: int) -> tuple[int, float]:
    """Return (messages per run, best messages/s)."""
    data = RECORDING.read_bytes()
    body = data.split(b"\r\n", 1)[1]  # the banner once, not per repetition
    stream = data.split(b"\r\n", 1)[0] + b"\r\n" + body * repeats
    pieces = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
    best = 0.0
    count = 0
    for _ in range(runs):
        parser = AmiParser()
        count = 0
        start = time.perf_counter()
        for piece in pieces:
            count += len(parser.feed(piece))
        elapsed = time.perf_counter() - start
        best = max(best, count / elapsed)
    return count, best


async def bench_agi(calls: int, commands: int) -> tuple[int, float]:
    """Return (round trips, round trips/s) for ``calls`` concurrent calls."""
    done = 0
    started: list[float] = []
    finished: list[float] = []

    async def handler(session: AgiSession) -> None:
        nonlocal done
        started.append(time.perf_counter())
        for _ in range(commands):
            await session.command("NOOP")
            done += 1
        finished.append(time.perf_counter())
        await session.hangup()

    async with (
        AgiServer({"bench": handler}) as server,
        FakeAsterisk(agi_port=server.port, linger_timeout=5.0) as pbx,
    ):
        placed = [await pbx.place_call("bench") for _ in range(calls)]
        await asyncio.gather(*(call.wait_done(120) for call in placed))
    return done, done / (max(finished) - min(started))


def _loops() -> list[tuple[str, Callable[[], asyncio.AbstractEventLoop]]]:
    """The stock asyncio loop, and uvloop (what ``acd run`` uses) where installed."""
    loops: list[tuple[str, Callable[[], asyncio.AbstractEventLoop]]] = [
        ("asyncio", asyncio.new_event_loop)
    ]
    try:
        import uvloop
    except ImportError:
        return loops
    loops.append(("uvloop", uvloop.new_event_loop))
    return loops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (CI smoke)")
    args = parser.parse_args()
    repeats, runs, commands = (20, 2, 500) if args.quick else (200, 5, 5000)

    rows: list[tuple[str, str, str, str]] = []
    for chunk in (4096, 16384, 65536):
        count, rate = bench_ami(chunk, repeats, runs)
        verdict = "ok" if rate >= AMI_TARGET else "BELOW"
        rows.append(
            (
                f"AMI decode, {chunk // 1024} KiB reads",
                f"{count} msgs",
                f"{rate:,.0f} msg/s",
                verdict,
            )
        )
    for loop_name, factory in _loops():
        for calls in (1, 10, 50):
            with asyncio.Runner(loop_factory=factory) as runner:
                total, rate = runner.run(bench_agi(calls, max(1, commands // calls)))
            verdict = "ok" if rate >= AGI_TARGET else "BELOW"
            rows.append(
                (
                    f"FastAGI NOOP, {calls} concurrent calls, {loop_name}",
                    f"{total} cmds",
                    f"{rate:,.0f} rt/s",
                    verdict,
                )
            )

    widths = [
        max(len(r[i]) for r in [*rows, ("benchmark", "work", "rate", "target")]) for i in range(4)
    ]
    header = ("benchmark", "work", "rate", "target")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"\ntargets: AMI >= {AMI_TARGET:,} msg/s, FastAGI >= {AGI_TARGET:,} round trips/s")


if __name__ == "__main__":
    main()
