"""Sounds and music on hold of the fake Asterisk.

What prompts and music-on-hold files the simulated Asterisk has, and the CLI
output (``Command`` action) that describes them. By default every sound
exists; give ``sounds`` to model a stock install where only some do.

The CLI output is Asterisk 22's, line for line:

* ``core show sound NAME`` (main/sounds.c, ``handle_cli_sound_show``)::

      Indexed Information for NAME:
        Language en:
          Format: slin

  or ``ERROR: File NAME not found in index`` (a CLI failure: the real
  Asterisk answers the ``Command`` action with ``Response: Error``). A ``.wav``
  file shows as format ``slin``, ``.gsm`` as ``gsm``, ``.ulaw`` as ``ulaw``.
* ``moh show classes`` (res/res_musiconhold.c, ``handle_cli_moh_show_classes``)::

      Class: default
      <TAB>Mode: files
      <TAB>Directory: /var/lib/asterisk/moh

* ``moh show files`` (``handle_cli_moh_show_files``): ``Class: NAME`` then
  one ``<TAB>File: /dir/name`` line per file (full path, no extension), only
  for classes that have files.

A ``files`` class whose directory holds no file is not loaded at all
(``init_files_class`` fails, the class is never linked), so it appears in
neither listing: a class given here with an empty file list behaves so.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["STOCK_MOH_DIR", "FakeMedia"]

#: Where ``make install`` puts the stock music-on-hold files.
STOCK_MOH_DIR = "/var/lib/asterisk/moh"


class FakeMedia:
    """The sound files and music-on-hold classes of one fake Asterisk."""

    def __init__(
        self,
        sounds: Iterable[str] | None = None,
        moh_classes: dict[str, list[str]] | None = None,
        moh_directories: dict[str, str] | None = None,
    ) -> None:
        #: None: every sound exists; else the names (without extension) that do.
        self.sounds: set[str] | None = None if sounds is None else set(sounds)
        #: Class name -> file names (without extension) in its directory.
        self.moh_classes: dict[str, list[str]] = (
            {"default": ["macroform-cold_day", "macroform-robot_dity"]}
            if moh_classes is None
            else dict(moh_classes)
        )
        #: Class name -> directory; by default the stock one for "default" and
        #: a directory of that name under it for the others.
        self.moh_directories: dict[str, str] = dict(moh_directories or {})

    def has_sound(self, name: str) -> bool:
        """True when STREAM FILE of ``name`` would find a file."""
        return self.sounds is None or name in self.sounds

    def moh_directory(self, name: str) -> str:
        """The directory of music class ``name``."""
        default = STOCK_MOH_DIR if name == "default" else f"{STOCK_MOH_DIR}/{name}"
        return self.moh_directories.get(name, default)

    def loaded_classes(self) -> list[str]:
        """Classes Asterisk would have loaded: those with files, sorted."""
        return sorted(name for name, files in self.moh_classes.items() if files)

    def cli(self, command: str) -> list[str] | None:
        """Output lines of a media CLI command, or None when it is not one."""
        words = command.split()
        if words[:3] == ["core", "show", "sound"] and len(words) == 4:
            return self._sound(words[3])
        if words == ["moh", "show", "classes"]:
            lines: list[str] = []
            for name in self.loaded_classes():
                lines += [
                    f"Class: {name}",
                    "\tMode: files",
                    f"\tDirectory: {self.moh_directory(name)}",
                ]
            return lines
        if words == ["moh", "show", "files"]:
            lines = []
            for name in self.loaded_classes():
                lines.append(f"Class: {name}")
                directory = self.moh_directory(name)
                lines += [f"\tFile: {directory}/{file}" for file in self.moh_classes[name]]
            return lines
        return None

    def _sound(self, name: str) -> list[str]:
        if not self.has_sound(name):
            return [f"ERROR: File {name} not found in index"]
        return [f"Indexed Information for {name}:", "  Language en:", "    Format: slin"]
