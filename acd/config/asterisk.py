"""A small reader for Asterisk ``.conf`` files, enough to cross-check them.

Why our own: pyst2's ``asterisk.config`` rejects template sections such as
``[agent-endpoint](!)`` and ``[1001](agent-endpoint)``, which every sensible
``pjsip.conf`` uses. This reader follows ``main/config.c``:

- ``;`` starts a comment (``\\;`` is a literal semicolon); ``;-- ... --;`` is a
  block comment, possibly spanning lines and nested;
- ``[name]``, ``[name](!)`` (a template), ``[name](tmpl1,tmpl2)`` (inherit the
  templates' settings first, in order), ``[name](!,tmpl)``, ``[name](+)``
  (append to the section of that name defined before);
- ``key = value`` and ``key => value`` are the same;
- ``#include file`` / ``#tryinclude file`` (relative to the including file's
  directory, globs allowed). ``#exec`` is refused: we never run commands.

Section names may repeat (``pjsip.conf`` commonly names an endpoint, its aor
and its auth all ``1001``), so a file is an ordered list of sections.

``parse_dialplan`` turns an ``extensions.conf`` into contexts, extensions and
priorities (``exten =>`` / ``same =>``, ``n``, labels) for the checks in
``acd.config.check``.

``CORE_SOUNDS``, ``data_dir`` and ``find_sound`` say where Asterisk finds a
prompt: among its core sounds, or as a file under ``<astdatadir>/sounds``.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from acd.core.errors import AcdError

__all__ = [
    "CORE_SOUNDS",
    "DEFAULT_DATA_DIR",
    "AsteriskConfError",
    "ConfFile",
    "ConfItem",
    "ConfSection",
    "Dialplan",
    "DialplanContext",
    "Priority",
    "data_dir",
    "expand_globals",
    "find_sound",
    "load_conf",
    "parse_conf",
    "parse_dialplan",
    "split_app_args",
]

_MAX_INCLUDE_DEPTH = 10


class AsteriskConfError(AcdError):
    """An Asterisk configuration file cannot be read or parsed."""

    code = "asterisk_conf_error"

    def __init__(self, file: str, line: int, message: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}", file=file, line=line)
        self.file = file
        self.line = line
        self.reason = message


@dataclass(frozen=True, slots=True)
class ConfItem:
    key: str
    value: str
    file: str
    line: int
    # True when the setting came from a template this section inherits.
    inherited: bool = False


@dataclass(frozen=True, slots=True)
class ConfSection:
    name: str
    is_template: bool
    templates: tuple[str, ...]
    items: tuple[ConfItem, ...]
    file: str
    line: int

    def get(self, key: str, default: str | None = None) -> str | None:
        """The last value of ``key`` (later settings override earlier ones and
        a section's own settings override its templates')."""
        found = default
        for item in self.items:
            if item.key == key:
                found = item.value
        return found

    def get_all(self, key: str) -> list[str]:
        return [item.value for item in self.items if item.key == key]

    def has(self, key: str) -> bool:
        return any(item.key == key for item in self.items)

    def item(self, key: str) -> ConfItem | None:
        found = None
        for item in self.items:
            if item.key == key:
                found = item
        return found


@dataclass(frozen=True, slots=True)
class ConfFile:
    path: str
    sections: tuple[ConfSection, ...]

    def named(self, name: str) -> list[ConfSection]:
        """Every section called ``name``, templates included, in file order."""
        return [s for s in self.sections if s.name == name]

    def concrete(self) -> Iterator[ConfSection]:
        """Sections that are not templates."""
        return (s for s in self.sections if not s.is_template)

    def find(self, name: str, **where: str) -> ConfSection | None:
        """The first non-template section ``name`` whose settings match ``where``
        (for example ``find("1001", type="endpoint")``)."""
        for section in self.sections:
            if section.name != name or section.is_template:
                continue
            if all(section.get(k) == v for k, v in where.items()):
                return section
        return None


@dataclass(slots=True)
class _Building:
    name: str
    is_template: bool
    templates: tuple[str, ...]
    items: list[ConfItem]
    file: str
    line: int

    def freeze(self) -> ConfSection:
        return ConfSection(
            self.name, self.is_template, self.templates, tuple(self.items), self.file, self.line
        )


_HEADER_RE = re.compile(r"^\[([^\]]*)\]\s*(?:\(([^)]*)\))?\s*$")


def load_conf(path: str | Path) -> ConfFile:
    """Read and parse ``path``; raises :class:`AsteriskConfError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AsteriskConfError(str(file), 0, f"cannot read: {reason}") from None
    return parse_conf(text, name=str(file), include_dir=file.parent)


def parse_conf(text: str, *, name: str = "<string>", include_dir: Path | None = None) -> ConfFile:
    """Parse the text of one ``.conf`` file (``#include`` needs ``include_dir``)."""
    built: list[_Building] = []
    _parse_into(text, name, include_dir, built, depth=0)
    return ConfFile(path=name, sections=tuple(b.freeze() for b in built))


def _opens_block(raw: str, i: int) -> bool:
    # As in main/config.c: ";--" opens a block comment unless a third dash
    # follows, so ";-------" divider lines stay ordinary comments.
    return raw.startswith(";--", i) and not raw.startswith(";---", i)


def _strip_comments(lines: list[str], file: str) -> Iterator[tuple[int, str]]:
    """Yield (line number, text without comments) for each line."""
    depth = 0
    opened_at = 0
    for number, raw in enumerate(lines, start=1):
        out: list[str] = []
        i = 0
        while i < len(raw):
            if depth:
                if _opens_block(raw, i):
                    depth += 1
                    i += 3
                elif raw.startswith("--;", i):
                    depth -= 1
                    i += 3
                else:
                    i += 1
                continue
            char = raw[i]
            if char == "\\" and raw.startswith(";", i + 1):
                out.append(";")
                i += 2
            elif _opens_block(raw, i):
                depth = 1
                opened_at = number
                i += 3
            elif char == ";":
                break
            else:
                out.append(char)
                i += 1
        yield number, "".join(out).strip()
    if depth:
        raise AsteriskConfError(file, opened_at, "block comment ';--' is never closed with '--;'")


def _parse_into(
    text: str, file: str, include_dir: Path | None, built: list[_Building], depth: int
) -> None:
    current: _Building | None = built[-1] if built else None
    for number, line in _strip_comments(text.splitlines(), file):
        if not line:
            continue
        if line.startswith("#"):
            _directive(line, file, number, include_dir, built, depth)
            current = built[-1] if built else None
            continue
        if line.startswith("["):
            current = _header(line, file, number, built)
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise AsteriskConfError(file, number, f"expected 'key = value', got {line!r}")
        if current is None:
            raise AsteriskConfError(file, number, "setting outside of any [section]")
        if value.startswith(">"):  # "key => value"
            value = value[1:]
        current.items.append(ConfItem(key.strip(), value.strip(), file, number))


def _header(line: str, file: str, number: int, built: list[_Building]) -> _Building:
    match = _HEADER_RE.match(line)
    if not match or not match.group(1).strip():
        raise AsteriskConfError(file, number, f"malformed section header {line!r}")
    name = match.group(1).strip()
    options = [o.strip() for o in (match.group(2) or "").split(",") if o.strip()]
    if "+" in options:
        for previous in reversed(built):
            if previous.name == name:
                return previous
        raise AsteriskConfError(file, number, f"[{name}](+) appends to a section never defined")
    templates = tuple(o for o in options if o != "!")
    items: list[ConfItem] = []
    for template in templates:
        source = next((b for b in reversed(built) if b.name == template), None)
        if source is None:
            raise AsteriskConfError(
                file, number, f"[{name}] inherits from template {template!r}, defined nowhere above"
            )
        items.extend(ConfItem(i.key, i.value, i.file, i.line, inherited=True) for i in source.items)
    section = _Building(name, "!" in options, templates, items, file, number)
    built.append(section)
    return section


def _directive(
    line: str,
    file: str,
    number: int,
    include_dir: Path | None,
    built: list[_Building],
    depth: int,
) -> None:
    word, _, argument = line[1:].partition(" ")
    word = word.strip().lower()
    argument = argument.strip().strip('"').strip("<>").strip()
    if word == "exec":
        raise AsteriskConfError(file, number, "#exec is not supported (it runs a command)")
    if word not in ("include", "tryinclude"):
        raise AsteriskConfError(file, number, f"unknown directive #{word}")
    if include_dir is None or depth >= _MAX_INCLUDE_DEPTH:
        raise AsteriskConfError(file, number, f"cannot follow #{word} {argument!r} here")
    pattern = argument if Path(argument).is_absolute() else str(include_dir / argument)
    matches = sorted(glob.glob(pattern))
    if not matches:
        if word == "tryinclude":
            return
        raise AsteriskConfError(file, number, f"#include {argument!r}: no such file")
    for match in matches:
        path = Path(match)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AsteriskConfError(str(path), 0, f"cannot read: {exc}") from None
        _parse_into(text, str(path), path.parent, built, depth + 1)


# ---------------------------------------------------------------------------
# Dialplan
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Priority:
    """One dialplan step: ``exten => 5000,n(label),App(data)``."""

    exten: str
    number: int
    label: str
    app: str
    data: str
    file: str
    line: int

    @property
    def args(self) -> list[str]:
        return split_app_args(self.data)


@dataclass(frozen=True, slots=True)
class DialplanContext:
    name: str
    extensions: dict[str, tuple[Priority, ...]] = field(default_factory=dict)
    includes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Dialplan:
    contexts: dict[str, DialplanContext]
    globals: dict[str, str]

    def priorities(self) -> Iterator[tuple[DialplanContext, Priority]]:
        for context in self.contexts.values():
            for steps in context.extensions.values():
                for step in steps:
                    yield context, step


_APP_RE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(?:\((.*)\)\s*|,(.*))?$", re.S)
_PRIORITY_RE = re.compile(r"^(\d+|n|s|hint)(?:\+(\d+))?(?:\(([^)]*)\))?$", re.I)


def parse_dialplan(conf: ConfFile) -> Dialplan:
    """Contexts, extensions and numbered priorities of an ``extensions.conf``."""
    globals_: dict[str, str] = {}
    building: dict[str, dict[str, list[Priority]]] = {}
    includes: dict[str, list[str]] = {}
    for section in conf.sections:
        if section.name == "globals":
            for item in section.items:
                globals_[item.key] = item.value
            continue
        if section.name == "general" or section.is_template:
            continue
        extensions = building.setdefault(section.name, {})
        context_includes = includes.setdefault(section.name, [])
        last_exten = ""
        for item in section.items:
            if item.key == "include":
                context_includes.append(item.value.split(",")[0].strip())
                continue
            if item.key == "exten":
                exten, _, rest = item.value.partition(",")
                last_exten = exten.strip()
            elif item.key == "same":
                if not last_exten:
                    raise AsteriskConfError(item.file, item.line, "'same =>' before any 'exten =>'")
                rest = item.value
            else:
                continue
            _add_priority(extensions.setdefault(last_exten, []), last_exten, rest, item)
    contexts = {
        name: DialplanContext(
            name=name,
            extensions={e: tuple(p) for e, p in extens.items()},
            includes=tuple(includes.get(name, [])),
        )
        for name, extens in building.items()
    }
    return Dialplan(contexts=contexts, globals=globals_)


def _add_priority(steps: list[Priority], exten: str, rest: str, item: ConfItem) -> None:
    prio_text, sep, app_text = rest.partition(",")
    match = _PRIORITY_RE.match(prio_text.strip())
    if not sep or not match:
        raise AsteriskConfError(
            item.file, item.line, f"expected 'exten => EXTEN,PRIORITY,App(args)', got {rest!r}"
        )
    word, plus, label = match.group(1).lower(), match.group(2), match.group(3) or ""
    if word == "hint":
        return
    previous = steps[-1].number if steps else 0
    if word == "n":
        number = previous + 1
    elif word == "s":
        number = previous
    else:
        number = int(word)
    number += int(plus or 0)
    app_match = _APP_RE.match(app_text)
    if not app_match:
        raise AsteriskConfError(item.file, item.line, f"cannot read application {app_text!r}")
    data = app_match.group(2) if app_match.group(2) is not None else (app_match.group(3) or "")
    steps.append(
        Priority(exten, number, label, app_match.group(1), data.strip(), item.file, item.line)
    )


def split_app_args(data: str) -> list[str]:
    """Split application data on top-level commas (not inside () [] {} or quotes)."""
    args: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    escaped = False
    for char in data:
        if escaped:
            current.append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
            current.append(char)
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([{":
            depth += 1
        elif not quoted and char in ")]}":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0 and not quoted:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    args.append("".join(current).strip())
    return args


_VAR_RE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def expand_globals(text: str, globals_: dict[str, str]) -> str:
    """Replace ``${NAME}`` by the ``[globals]`` value of NAME (others are kept)."""
    for _ in range(5):  # globals may refer to other globals
        expanded = _VAR_RE.sub(lambda m: globals_.get(m.group(1), m.group(0)), text)
        if expanded == text:
            break
        text = expanded
    return text


# ---------------------------------------------------------------------------
# Sounds
# ---------------------------------------------------------------------------

#: Where ``make install`` and the distribution packages put Asterisk's data
#: (``astdatadir`` in asterisk.conf): sounds in ``sounds/<lang>/``, music on
#: hold in ``moh/``.
DEFAULT_DATA_DIR = Path("/var/lib/asterisk")

#: Sounds of Asterisk's core English set (core-sounds-en 1.6.1, installed by
#: ``make install`` and by the asterisk-core-sounds-en packages) that the ACD
#: and the shipped dialplan play, with the ones app_queue uses for the same
#: announcements. Each name was checked against that set's core-sounds-en.txt.
CORE_SOUNDS = frozenset(
    {
        # acd/call_flow.py: position and expected wait
        "queue-thereare",
        "queue-callswaiting",
        "queue-youarenext",
        "queue-holdtime",
        "queue-minute",
        "queue-minutes",
        "queue-seconds",
        "queue-less-than",
        "queue-thankyou",
        "queue-reporthold",
        "queue-periodic-announce",
        # acd/agents.py: feature codes
        "agent-pass",
        "agent-incorrect",
        "agent-loginok",
        "agent-loggedoff",
        "agent-user",
        "beep",
        # asterisk/extensions.conf: messages, the ACD down
        "vm-intro",
        "vm-goodbye",
        "im-sorry",
        "pls-try-call-later",
        "all-circuits-busy-now",
        "pls-hold-while-try",
        "goodbye",
    }
)

# Files that sit among sounds without being one.
_NOT_SOUNDS = frozenset({".txt", ".conf", ""})


def data_dir(asterisk_dir: Path) -> Path:
    """``astdatadir`` of ``asterisk_dir/asterisk.conf``, else the default.

    The stock asterisk.conf marks ``[directories]`` as a template
    (``[directories](!)``); Asterisk reads it all the same, and so does this.
    """
    path = asterisk_dir / "asterisk.conf"
    if path.is_file():
        try:
            conf = load_conf(path)
        except AsteriskConfError:
            return DEFAULT_DATA_DIR
        for section in conf.named("directories"):
            value = section.get("astdatadir")
            if value:
                return Path(value)
    return DEFAULT_DATA_DIR


def find_sound(name: str, sound_dirs: list[Path], language: str = "en") -> Path | None:
    """The file Asterisk would play for ``name``, or None.

    Looked up as ``main/file.c`` does: ``<dir>/<language>/<name>.<ext>``,
    then ``<dir>/<name>.<ext>`` (no language), then ``<dir>/en/...`` (the
    default language), for any format extension. An absolute ``name`` is
    looked up as it is.
    """
    path = Path(name)
    if path.is_absolute():
        directories = [path.parent]
    else:
        languages = dict.fromkeys([language, "", "en"])
        directories = [(d / lang / path).parent for d in sound_dirs for lang in languages]
    prefix = path.name + "."
    for directory in directories:
        if not directory.is_dir():
            continue
        for found in sorted(directory.iterdir()):
            ext = found.name[len(prefix) :]
            if (
                found.name.startswith(prefix)
                and ext
                and "." not in ext
                and found.suffix.lower() not in _NOT_SOUNDS
                and found.is_file()
            ):
                return found
    return None
