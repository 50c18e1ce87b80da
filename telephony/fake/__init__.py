"""A fake Asterisk on loopback, for tests, ``make demo`` and the benchmarks.

It speaks the real protocols, byte-compatible with the Asterisk 22 recordings.
One module per job, imported in one direction only (a test keeps it so)::

    channel, media, ami_server      (leaves: channels, sounds, the AMI session)
      <- agi_caller                 (a caller: FastAGI client, res_agi's replies)
        <- pbx                      (devices, agents, Dial, bridges, dialplan after AGI)
          <- ami_actions, stats     (AMI action handlers; call statistics)
            <- traffic              (Poisson load generator)
              <- asterisk           (FakeAsterisk: all of the above)

* :mod:`~telephony.fake.ami_server`: an AMI server that logs clients in,
  answers ``Ping``, ``Events``, ``Filter``, and fans events out;
* :mod:`~telephony.fake.ami_actions`: ``CoreStatus``, ``Command``,
  ``PJSIPShowEndpoint(s)``, ``PJSIPShowContacts``, ``DeviceStateList``,
  ``CoreShowChannels``, ``Hangup``, ``Originate``;
* :mod:`~telephony.fake.agi_caller`: a FastAGI client that places calls into
  the ACD the way Asterisk's ``AGI(agi://...)`` does;
* :mod:`~telephony.fake.pbx`: simulated SIP agents (register/unregister, ring
  delay, answer / no answer / busy / unreachable, talk time, calls the ACD did
  not make), ``Dial``, the fallback queue after the AGI, an Asterisk restart
  (AMI logins work before the modules are loaded; ``DeviceStateList`` and the
  PJSIP lists answer "Invalid/unknown command" until ``FullyBooted``), a hung
  Asterisk during ``Dial`` (``hang_on_dial``);
* :mod:`~telephony.fake.traffic` and :mod:`~telephony.fake.stats`: Poisson
  arrivals with caller patience, and what they observed;
* :mod:`~telephony.fake.media`: sounds and music-on-hold classes.

Usage::

    async with FakeAsterisk(agi_port=acd_port) as pbx:
        pbx.add_agent("1001", talk_seconds=2)
        await pbx.register("1001")
        call = await pbx.place_call("inbound?queue=support", patience=30)
        await call.wait_done(10)
"""

from telephony.fake.agi_caller import CallOutcome, FakeCall
from telephony.fake.asterisk import FakeAsterisk
from telephony.fake.channel import FakeChannel
from telephony.fake.media import FakeMedia
from telephony.fake.pbx import AgentBehaviour, FakeAgent
from telephony.fake.stats import TrafficStats, traffic_stats

__all__ = [
    "AgentBehaviour",
    "CallOutcome",
    "FakeAgent",
    "FakeAsterisk",
    "FakeCall",
    "FakeChannel",
    "FakeMedia",
    "TrafficStats",
    "traffic_stats",
]
