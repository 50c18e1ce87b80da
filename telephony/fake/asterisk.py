"""The whole fake Asterisk: the PBX model answering AMI actions, with a load generator."""

from __future__ import annotations

from collections.abc import Mapping

from telephony.ami_codec import AmiMessage
from telephony.fake import ami_actions, traffic
from telephony.fake.pbx import FakePbx
from telephony.fake.stats import TrafficStats

__all__ = ["FakeAsterisk"]


class FakeAsterisk(FakePbx):
    """AMI server + FastAGI callers + simulated agents; see :mod:`telephony.fake`.

    ``agi_port`` is the ACD's FastAGI port; it may be set after construction
    (``pbx.agi_port = server.port``) as long as it is set before calls are placed.
    ``prompt_seconds`` is how long each prompt (STREAM FILE, SAY, GET DATA)
    plays; ``after_call_linger`` how long a caller stays on the line after the
    agent hangs up before hanging up too; ``linger_timeout`` how long the fake
    waits for the ACD to close a hung-up call's socket before giving up.
    """

    def _handle_action(self, request: AmiMessage) -> list[AmiMessage] | None:
        return ami_actions.handle_action(self, request)

    async def run_traffic(
        self,
        *,
        rate_per_second: float,
        duration: float,
        scripts: Mapping[str, float],
        patience: tuple[float, float] | None,
        seed: int,
        drain_timeout: float = 60.0,
    ) -> TrafficStats:
        """Place Poisson arrivals for ``duration`` s, then wait for those calls to end
        (:func:`telephony.fake.traffic.run_traffic`)."""
        return await traffic.run_traffic(
            self,
            rate_per_second=rate_per_second,
            duration=duration,
            scripts=scripts,
            patience=patience,
            seed=seed,
            drain_timeout=drain_timeout,
        )
