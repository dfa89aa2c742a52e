"""Problems found in mapping files, each with its file, line, column and path, reported all at once."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from bridgeline.errors import ConfigError

PathPart = str | int
Path = tuple[PathPart, ...]


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One mistake in a mapping file: ``mappings/x.yaml:12:5: fields.risk.map: unknown key 'mapp'``."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


class MappingSetError(ConfigError):
    """The mapping set is invalid; ``problems`` lists every mistake found in every file."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the mapping files"
        super().__init__("\n".join([head + ":", *(f"  {p}" for p in self.problems)]))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


def dotted(path: Iterable[PathPart]) -> str:
    """``("fields", "risk", "map")`` -> ``fields.risk.map``; list indexes as ``reverse[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'map'?)`` when ``word`` is close to one of ``choices``, else empty."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
