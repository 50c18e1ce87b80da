"""Load and validate the TOML configuration into the frozen objects of ``acd.core.settings``.

The file's shape is a pydantic schema (one model per table, constraints on the
fields); this module adds what a schema cannot say: ``ACD_*`` overrides,
secrets named by environment variable or file, the wording of problems, and
the checks across entries (queue references, overflow loops, duplicate ids and
endpoints, overlapping opening hours, relaxation steps in order, one menu
option per key, a view token that is required but missing).

Every problem in a file is collected, not just the first: a user fixing a file
should see the whole list at once. Each problem reads
``FILE: key.path: what is wrong (expected ...)``. Values of secrets (the AMI
secret, the API and view tokens, agent PINs, password hashes) never appear in
a message.

Environment variables ``ACD_<SECTION>_<KEY>`` (for example ``ACD_AMI_PORT``,
``ACD_WALLBOARD_API_TOKEN``) override the scalar keys of the ``[ami]``,
``[agi]``, ``[redis]`` and ``[wallboard]`` sections; ``config/acd.toml``
documents the layout.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import itertools
import os
import re
import sys
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, TextIO, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from acd.config.schema import (
    AGENT_ID,
    DAYS,
    NAME,
    SECRET_KEYS,
    SECTIONS,
    SERVICE_LEVEL_VARIANTS,
    THRESHOLD_METRICS,
    AgentTable,
    AmiTable,
    BoardTable,
    FileTable,
    MenuOptionTable,
    QueueTable,
    StepTable,
    SupervisorTable,
    Table,
    WallboardTable,
    num,
    one_of,
    show,
    to_dataclass,
    type_name,
)
from acd.core.errors import ConfigError
from acd.core.settings import (
    DEFAULT_THRESHOLDS,
    AgentConfig,
    AgiConfig,
    AmiConfig,
    Config,
    QueueConfig,
    RedisConfig,
    WallboardConfig,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ENV_PREFIX",
    "SERVICE_LEVEL_VARIANTS",
    "THRESHOLD_METRICS",
    "default_config",
    "load_config",
    "load_or_report",
]

ENV_PREFIX: Final = "ACD_"

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
_M = TypeVar("_M", bound=Table)


# ---------------------------------------------------------------------------
# Problems: pydantic's errors in this project's words
# ---------------------------------------------------------------------------


def _did_you_mean(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else one_of(known)


_RANGE_ERRORS: Final = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
)


class _Problems:
    """Collects problems as ``FILE: key.path: what (expected ...)``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, path: str, what: str, expected: str = "") -> None:
        text = f"{self.source}: {path}: {what}" if path else f"{self.source}: {what}"
        if expected:
            text += f" (expected {expected})"
        self.items.append(text)

    def schema_error(
        self, model: type[Table], prefix: str, err: ErrorDetails, origins: Mapping[str, str]
    ) -> None:
        loc = tuple(part for part in err["loc"] if part != "[key]")
        ctx: dict[str, Any] = dict(err.get("ctx") or {})
        path = _join(prefix, loc)
        kind, raw = err["type"], err["input"]
        field_type, info, table = _schema_at(model, loc)
        expected = str(ctx.get("expected") or "") or _expected(field_type, info)
        secret = bool(loc) and isinstance(loc[-1], str) and loc[-1] in SECRET_KEYS
        shown = "<hidden>" if secret else show(raw)
        if len(loc) == 1 and loc[0] in origins:  # as the environment variable wrote it
            shown = origins[str(loc[0])]
        if kind == "acd_rule":
            what = str(ctx["what"])
        elif kind == "acd_value":
            what = f"{shown} {ctx['what']}"
        elif kind == "missing":
            what = "is missing"
        elif kind == "extra_forbidden":
            what = f"unknown {table.unknown}"
            expected = _did_you_mean(str(loc[-1]), sorted(table.model_fields))
        elif kind in _RANGE_ERRORS:
            what = f"{shown} is out of range"
        elif kind in ("string_too_short", "too_short"):
            what = f"{shown} is empty" if kind == "string_too_short" else "is empty"
        elif kind == "string_pattern_mismatch":
            what = f"{shown} is not valid"
        elif kind == "finite_number":
            what = f"{shown} is not finite"
        elif kind.endswith("_type") or kind == "model_attributes_type":
            what = f"{shown} is {type_name(raw)}"
        else:
            what = f"{shown}: {err['msg']}"
        self.add(path, what, expected)


def _join(prefix: str, loc: tuple[str | int, ...]) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _unwrap(tp: Any) -> tuple[Any, list[FieldInfo]]:
    """Strip ``Annotated`` and ``X | None`` off a type, keeping the FieldInfos."""
    infos: list[FieldInfo] = []
    while True:
        if typing.get_origin(tp) is Annotated:
            tp, *extra = typing.get_args(tp)
            infos += [m for m in extra if isinstance(m, FieldInfo)]
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        else:
            return tp, infos


def _schema_at(
    model: type[Table], loc: tuple[str | int, ...]
) -> tuple[Any, list[FieldInfo], type[Table]]:
    """The type at ``loc`` in ``model``, its field metadata and the table holding it."""
    tp: Any = model
    infos: list[FieldInfo] = []
    table = model
    for part in loc:
        tp, _ = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, Table):
            table = tp
            field_info = tp.model_fields.get(str(part))
            if field_info is None:
                return None, [], table
            tp, infos = _unwrap(field_info.annotation)
            infos = [field_info, *infos]
        elif typing.get_origin(tp) in (list, tuple):
            tp, infos = _unwrap(typing.get_args(tp)[0])
        elif typing.get_origin(tp) is dict:
            tp, infos = _unwrap(typing.get_args(tp)[1])
        else:
            return None, [], table
    return tp, infos, table


def _expected(tp: Any, infos: list[FieldInfo]) -> str:
    """``an integer from 0 to 65535``, a field's description, or a table's name."""
    for info in infos:
        if info.description:
            return info.description
    if isinstance(tp, type) and issubclass(tp, Table):
        return tp.expected
    bounds: dict[str, float] = {}
    for info in infos:
        for m in info.metadata:  # annotated_types' Ge, Gt, Le
            for name in ("ge", "gt", "le"):
                if (value := getattr(m, name, None)) is not None:
                    bounds[name] = value
    base = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    text = base.get(tp, "a table" if typing.get_origin(tp) is dict else "a value")
    lo, hi, gt = bounds.get("ge"), bounds.get("le"), bounds.get("gt")
    if lo is not None and hi is not None:
        return f"{text} from {num(lo)} to {num(hi)}"
    if gt is not None:
        return f"{text} > {num(gt)}" + (f" and <= {num(hi)}" if hi is not None else "")
    if lo is not None:
        return f"{text} >= {num(lo)}"
    return f"{text} <= {num(hi)}" if hi is not None else text


def _validate(
    model: type[_M],
    data: object,
    prefix: str,
    problems: _Problems,
    origins: Mapping[str, str] | None = None,
) -> _M | None:
    """Validate one table, reporting every problem; then drop the values at
    fault and validate again, so the cross-checks still see the rest (as
    before: a bad value counts as absent). None when the table is beyond that
    (a required key is missing or wrong)."""
    work = copy.deepcopy(data)
    for attempt in range(8):
        try:
            return model.model_validate(work)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        if attempt == 0:
            for err in errors:
                problems.schema_error(model, prefix, err, origins or {})
        faults = {_fault(err) for err in errors}
        if () in faults:
            return None
        for fault in sorted(
            faults, key=lambda f: [(isinstance(p, int), p) for p in f], reverse=True
        ):
            _drop(work, fault)
    return None


def _fault(err: ErrorDetails) -> tuple[str | int, ...]:
    loc = tuple(part for part in err["loc"] if part != "[key]")
    return loc[:-1] if err["type"] == "missing" else loc


def _drop(data: Any, loc: tuple[str | int, ...]) -> None:
    for part in loc[:-1]:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(data, dict):
        data.pop(loc[-1], None)
    elif isinstance(data, list) and isinstance(loc[-1], int) and loc[-1] < len(data):
        del data[loc[-1]]


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def default_config(source: str = "<defaults>") -> Config:
    """The built-in defaults: no queues, no agents, default wallboard thresholds."""
    return Config(source=source, wallboard=WallboardConfig(thresholds=dict(DEFAULT_THRESHOLDS)))


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and return the configuration at ``path``.

    ``env`` (default ``os.environ``) supplies the ``ACD_...`` overrides and the
    variables named by ``secret_env`` / ``api_token_env``. Raises
    :class:`acd.core.errors.ConfigError` listing every problem found.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    source = os.fspath(path)
    problems = _Problems(source)
    try:
        text = Path(source).read_bytes().decode("utf-8")
    except OSError as exc:
        problems.add("", f"cannot read the file: {exc.strerror or exc}", "a readable TOML file")
        raise ConfigError(problems.items) from None
    except UnicodeDecodeError as exc:
        problems.add("", f"is not UTF-8 text (byte {exc.start})", "a UTF-8 encoded TOML file")
        raise ConfigError(problems.items) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.add(*_syntax_problem(str(exc)))
        raise ConfigError(problems.items) from None
    config = _Loader(source, environ, problems).build(data)
    if problems.items:
        raise ConfigError(problems.items)
    return config



def load_or_report(
    path: str | os.PathLike[str], err: TextIO | None = None, *, count: bool = False
) -> Config | None:
    """Load ``path``, or print every problem (one per line) on ``err`` and
    return None; with ``count`` a last line says how many there were."""
    stream = err if err is not None else sys.stderr
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=stream)
        if count:
            n = len(exc.problems)
            print(f"{path}: {n} problem{'s' if n != 1 else ''}", file=stream)
        return None

def _syntax_problem(message: str) -> tuple[str, str, str]:
    """Turn tomllib's "Invalid value (at line 3, column 9)" into a located problem."""
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if match:
        what = message[: match.start()]
        return (
            f"line {match.group(1)}, column {match.group(2)}",
            f"TOML syntax error: {what}",
            "valid TOML",
        )
    match = re.search(r"\s*\(at end of document\)\s*$", message)
    if match:
        return ("end of file", f"TOML syntax error: {message[: match.start()]}", "valid TOML")
    return ("", f"TOML syntax error: {message}", "valid TOML")


# ---------------------------------------------------------------------------
# Loading: environment, secrets, entries, and the checks across them
# ---------------------------------------------------------------------------


class _Loader:
    """One load: the environment it reads and the problems it collects."""

    def __init__(self, source: str, env: Mapping[str, str], problems: _Problems) -> None:
        self.source = source
        self.base_dir = Path(source).parent
        self.env = env
        self.problems = problems
        self.referenced_env: set[str] = set()
        self.env_origin: dict[str, dict[str, str]] = {}

    def build(self, data: dict[str, Any]) -> Config:
        root = _validate(FileTable, data, "", self.problems) or FileTable()
        sections: dict[str, Any] = {}
        for name, model in SECTIONS.items():
            raw = self._with_env(name, model, dict(getattr(root, name)))
            shown = {
                key: f"{var}={'<hidden>' if key in SECRET_KEYS else show(self.env[var])}"
                for key, var in self.env_origin[name].items()
            }
            sections[name] = _validate(model, raw, name, self.problems, shown) or model()
        ami: AmiTable = sections["ami"]
        board: WallboardTable = sections["wallboard"]
        ami_secret = self._secret(ami, "ami", "secret")
        api_token = self._secret(board, "wallboard", "api_token")
        view_token = self._secret(board, "wallboard", "view_token")
        if board.require_token_for_view and not (api_token or view_token):
            self.problems.add(
                "wallboard.require_token_for_view",
                "is true but no token is set",
                "wallboard.view_token (or view_token_env / view_token_file) or api_token",
            )
        self._unknown_env()
        wallboard = board.build(api_token, view_token)
        queues: list[tuple[str, QueueConfig]] = []
        for path, raw, q in self._entries(QueueTable, root.queues, "queues", "name", NAME):
            queues.append((path, q.build(wallboard.timezone)))
            self._relaxation(path, raw.get("relaxation"))
            self._menu_keys(path, raw.get("menu"))
        agents = [
            (path, a.build())
            for path, _, a in self._entries(AgentTable, root.agents, "agents", "id", AGENT_ID)
        ]
        supervisors = tuple(
            s.build()
            for _, _, s in self._entries(
                SupervisorTable, root.supervisors, "supervisors", "id", AGENT_ID
            )
        )
        self._opening_hours(queues)
        self._cross_references(queues, agents, wallboard, root.wallboard.get("boards"))
        return Config(
            source=self.source,
            ami=to_dataclass(AmiConfig, ami, secret=ami_secret),
            agi=to_dataclass(AgiConfig, sections["agi"]),
            redis=to_dataclass(RedisConfig, sections["redis"]),
            wallboard=wallboard,
            queues=tuple(q for _, q in queues),
            agents=tuple(a for _, a in agents),
            supervisors=supervisors,
        )

    # -- environment ---------------------------------------------------------

    def _with_env(self, section: str, model: type[Table], raw: dict[str, Any]) -> dict[str, Any]:
        """``raw`` with the ``ACD_<SECTION>_<KEY>`` overrides of its scalar keys,
        converted from text to the key's type."""
        prefix = f"{ENV_PREFIX}{section.upper()}_"
        origins = self.env_origin.setdefault(section, {})
        for forms in _secret_forms(model):  # a secret from the environment wins over the file's
            if any(f"{prefix}{form.upper()}" in self.env for form in forms):
                for form in forms:
                    raw.pop(form, None)
        for key, kind in _scalars(model).items():
            var = f"{prefix}{key.upper()}"
            if var not in self.env:
                continue
            text = self.env[var]
            origins[key] = var
            raw.pop(key, None)
            try:
                raw[key] = _from_env(kind, text)
            except ValueError as exc:
                word = {int: "an integer", float: "a number"}.get(kind, "a boolean")
                shown = "<hidden>" if key in SECRET_KEYS else show(text)
                field_type, infos, _ = _schema_at(model, (key,))
                expected = str(exc) if kind is bool else _expected(field_type, infos)
                self.problems.add(f"{section}.{key}", f"{var}={shown} is not {word}", expected)
        return raw

    def _unknown_env(self) -> None:
        """An ``ACD_AMI_PROT`` typo would otherwise be silently ignored."""
        for var in sorted(self.env):
            if var in self.referenced_env:
                continue
            for section, model in SECTIONS.items():
                prefix = f"{ENV_PREFIX}{section.upper()}_"
                if not var.startswith(prefix):
                    continue
                key, scalar = var[len(prefix) :].lower(), sorted(_scalars(model))
                if key not in scalar:
                    close = difflib.get_close_matches(key, scalar, n=1)
                    hint = (
                        f"did you mean {prefix}{close[0].upper()}?"
                        if close
                        else one_of([prefix + k.upper() for k in scalar])
                    )
                    self.problems.add(section, f"unknown environment variable {var}", hint)
                break

    # -- secrets ---------------------------------------------------------------

    def _secret(self, table: BaseModel, section: str, key: str) -> str:
        """A secret given inline, by environment variable name, or by file path.

        The environment overrides (``ACD_AMI_SECRET`` ...) win over the file; within
        one of the two places only one of the three forms may be used.
        """
        forms = (key, f"{key}_env", f"{key}_file")
        chosen = [form for form in forms if getattr(table, form) is not None]
        origins = self.env_origin[section]
        if len(chosen) > 1:
            from_env = all(form in origins for form in chosen)
            names = [origins[f] for f in chosen] if from_env else chosen
            where = "environment variables" if from_env else "keys"
            self.problems.add(
                f"{section}.{key}",
                f"both {where} {' and '.join(names)} are set",
                f"only one of {', '.join(forms)}",
            )
            return ""
        if not chosen:
            return ""
        form, value = chosen[0], str(getattr(table, chosen[0]))
        where = f"{section}.{form}"
        what = key.replace("_", " ")
        if form == key:
            return value
        if form.endswith("_env"):
            self.referenced_env.add(value)
            if value not in self.env:
                self.problems.add(
                    where, f"environment variable {value} is not set", f"{value} set to the {what}"
                )
                return ""
            if not self.env[value]:
                self.problems.add(
                    where, f"environment variable {value} is empty", f"a non-empty {key}"
                )
            return self.env[value]
        secret_path = Path(value)
        if not secret_path.is_absolute():
            secret_path = self.base_dir / secret_path
        try:
            text = secret_path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.problems.add(
                where, f"cannot read {secret_path}: {reason}", f"a readable file holding the {what}"
            )
            return ""
        if not text:
            self.problems.add(where, f"{secret_path} is empty", f"a file holding the {key}")
        return text

    # -- entries and the checks across them --------------------------------

    def _entries(
        self, model: type[_M], items: list[Any], section: str, id_key: str, id_re: str
    ) -> Iterator[tuple[str, dict[str, Any], _M]]:
        """Validate each entry of an array of tables; its path names the entry
        by its id when that is valid and unique, else by its index."""
        ids = [raw.get(id_key) if isinstance(raw, dict) else None for raw in items]
        counts = {ident: ids.count(ident) for ident in ids if isinstance(ident, str)}
        first_index: dict[str, int] = {}
        for index, (raw, ident) in enumerate(zip(items, ids, strict=True)):
            unique = isinstance(ident, str) and counts[ident] == 1
            path = f"{section}[{ident if unique and re.fullmatch(id_re, str(ident)) else index}]"
            if isinstance(ident, str) and counts[ident] > 1:
                if ident in first_index:
                    self.problems.add(
                        f"{path}.{id_key}",
                        f"duplicate {show(ident)}",
                        f"a unique {id_key}; also used by {section}[{first_index[ident]}]",
                    )
                    continue
                first_index[ident] = index
            entry = _validate(model, raw, path, self.problems)
            if entry is not None:
                yield path, raw, entry

    def _relaxation(self, path: str, items: object) -> None:
        last: StepTable | None = None
        for index, step in _valid_items(StepTable, items):
            where = f"{path}.relaxation[{index}]"
            if last is not None and step.after_seconds <= last.after_seconds:
                self.problems.add(
                    where,
                    f"after_seconds {num(step.after_seconds)} does not follow "
                    f"{num(last.after_seconds)}",
                    "steps in increasing wait order",
                )
            elif last is not None and step.min_proficiency > last.min_proficiency:
                self.problems.add(
                    where,
                    f"min_proficiency {step.min_proficiency} is stricter than the step before",
                    "a relaxation only lowers min_proficiency",
                )
            else:
                last = step

    def _menu_keys(self, path: str, items: object) -> None:
        seen: set[str] = set()
        for index, option in _valid_items(MenuOptionTable, items):
            if option.digit in seen:
                self.problems.add(
                    f"{path}.menu[{index}].digit",
                    f"key {show(option.digit)} is used twice",
                    "one option per key",
                )
            seen.add(option.digit)

    def _opening_hours(self, queues: list[tuple[str, QueueConfig]]) -> None:
        for path, queue in queues:
            for day, ranges in queue.business_hours.weekly.items():
                for before, after in itertools.pairwise(ranges):
                    if after.start < before.end or before.end == dt.time.max:
                        name = next(k for k, v in DAYS.items() if v == day)
                        self.problems.add(
                            f"{path}.hours",
                            f"opening hours overlap on {name} "
                            f"({before.start:%H:%M}-{_end_text(before.end)} and "
                            f"{after.start:%H:%M}-{_end_text(after.end)})",
                            "each day listed once, with separate ranges",
                        )
                        break

    def _cross_references(
        self,
        queues: list[tuple[str, QueueConfig]],
        agents: list[tuple[str, AgentConfig]],
        wallboard: WallboardConfig,
        boards: object,
    ) -> None:
        names = sorted({q.name for _, q in queues})
        known = one_of(names) if names else "a queue defined in [[queues]]"

        def queue_ref(path: str, name: str) -> None:
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f"did you mean {close[0]!r}?" if close else known
                self.problems.add(path, f"unknown queue {show(name)}", hint)

        for path, q in queues:
            if q.overflow_queue == q.name:
                self.problems.add(
                    f"{path}.overflow_queue", "overflows into itself", "another queue's name"
                )
            elif q.overflow_queue:
                queue_ref(f"{path}.overflow_queue", q.overflow_queue)
            for index, option in enumerate(q.menu):
                if option.queue:
                    queue_ref(f"{path}.menu[{index}].queue", option.queue)
        self._overflow_cycles(queues)
        endpoints: dict[str, str] = {}
        for path, a in agents:
            for queue in a.queues:
                queue_ref(f"{path}.queues.{queue}", queue)
            owner = endpoints.setdefault(a.endpoint.lower(), a.id)
            if owner != a.id:
                self.problems.add(
                    f"{path}.endpoint",
                    f"{show(a.endpoint)} is also the endpoint of agent {owner}",
                    "one endpoint per agent",
                )
        first_use: dict[str, int] = {}
        for index, board in _valid_items(BoardTable, boards):
            for queue in board.queues:
                queue_ref(f"wallboard.boards[{index}].queues", queue)
            if first_use.setdefault(board.name, index) != index:
                self.problems.add(
                    f"wallboard.boards[{index}].name",
                    f"duplicate board name {show(board.name)}",
                    f"unique names; also used by wallboard.boards[{first_use[board.name]}]",
                )
        for queue in wallboard.queue_display:
            if names:
                queue_ref(f"wallboard.queues.{queue}", queue)

    def _overflow_cycles(self, queues: list[tuple[str, QueueConfig]]) -> None:
        """A caller overflowing A -> B -> A would bounce forever: report each cycle once."""
        target = {q.name: q.overflow_queue for _, q in queues if q.overflow_queue}
        paths = {q.name: path for path, q in queues}
        reported: set[frozenset[str]] = set()
        for start in target:
            seen = [start]
            current = target.get(start, "")
            while current and current in target and current not in seen:
                seen.append(current)
                current = target[current]
            if current == start and len(seen) > 1 and frozenset(seen) not in reported:
                reported.add(frozenset(seen))
                self.problems.add(
                    f"{paths[start]}.overflow_queue",
                    "overflow loops back: " + " -> ".join([*seen, start]),
                    "overflow chains that end in a queue without overflow",
                )


def _valid_items(model: type[_M], items: object) -> list[tuple[int, _M]]:
    """The elements of a raw array that are valid by themselves, with their index:
    the rules between elements look at these, so one bad element hides nothing."""
    found: list[tuple[int, _M]] = []
    for index, raw in enumerate(items if isinstance(items, list) else []):
        try:
            found.append((index, model.model_validate(raw)))
        except ValidationError:
            continue  # reported with the table it belongs to
    return found


def _secret_forms(model: type[Table]) -> list[tuple[str, str, str]]:
    """The three ways (inline, ``_env``, ``_file``) of giving each secret of a table."""
    return [(k, f"{k}_env", f"{k}_file") for k in model.model_fields if k in SECRET_KEYS]


def _from_env(kind: Any, text: str) -> object:
    """An environment variable's text as a value of the key's type."""
    if kind is int:
        return int(text.strip())
    if kind is float:
        return float(text.strip())
    if kind is bool:
        word = text.strip().lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
        raise ValueError("true/false, yes/no, on/off or 1/0")
    if kind is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _scalars(model: type[Table]) -> dict[str, type]:
    """The keys an environment variable may set, with the type its text becomes."""
    kinds: dict[str, type] = {}
    for key, info in model.model_fields.items():
        kind, _ = _unwrap(info.annotation)
        if kind in (int, float, bool, str):
            kinds[key] = kind
        elif typing.get_origin(kind) is list and _unwrap(typing.get_args(kind)[0])[0] is str:
            kinds[key] = list
    return kinds


def _end_text(end: dt.time) -> str:
    return "24:00" if end == dt.time.max else f"{end:%H:%M}"
