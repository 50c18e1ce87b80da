"""Sounds and music on hold of the fake Asterisk.

What prompts and music-on-hold files the simulated Asterisk has, and the CLI
output (``Command`` action) that describes them. By default every sound
exists; give ``sounds`` to model a stock install where only some do.
"""

from __future__ import annotations

from collections.abc import Iterable


class FakeMedia:
    """The sound files and music-on-hold classes of one fake Asterisk."""

    def __init__(
        self,
        sounds: Iterable[str] | None = None,
        moh_classes: dict[str, list[str]] | None = None,
    ) -> None:
        #: None: every sound exists; else the names (without extension) that do.
        self.sounds: set[str] | None = None if sounds is None else set(sounds)
        self.moh_classes: dict[str, list[str]] = (
            {"default": ["macroform-cold_day", "macroform-robot_dity"]}
            if moh_classes is None
            else dict(moh_classes)
        )

    def has_sound(self, name: str) -> bool:
        """True when STREAM FILE of ``name`` would find a file."""
        return self.sounds is None or name in self.sounds

    def cli(self, command: str) -> list[str] | None:
        """Output lines of a media CLI command, or None when it is not one."""
        return None
