"""Write the constraints that pin every runtime dependency of bridgeline to its declared floor.

::

    python scripts/floors.py VENV_PYTHON OUT      # used by `make test-floors`

uv resolves pyproject.toml's dependencies with ``--resolution lowest-direct`` for the given
interpreter; the direct dependencies of that resolution are written to OUT as ``name==version``
lines (transitive ones stay free, as they are for a user). Each one must be the floor pyproject.toml
declares: a floor that cannot be installed (no release, no wheel for that Python, a conflict with
another floor) is an error here, not a silently higher version under test.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def declared_floors() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors: dict[str, str] = {}
    for line in project["dependencies"]:
        req = Requirement(line)
        lows = [s.version for s in req.specifier if s.operator == ">="]
        if len(lows) != 1:
            raise SystemExit(f"pyproject.toml: {line!r} declares no single >= floor")
        floors[canonical(req.name)] = lows[0]
    return floors


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lowest(python: str) -> dict[str, str]:
    uv = Path(sys.executable).with_name("uv")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lowest.txt"
        subprocess.run(
            [str(uv), "pip", "compile", str(ROOT / "pyproject.toml"), "--resolution", "lowest-direct",
             "--python", python, "--quiet", "--no-header", "--no-annotate", "-o", str(out)],
            check=True,
        )  # fmt: skip
        pins = {}
        for line in out.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
            if m:
                pins[canonical(m.group(1))] = m.group(2)
        return pins


def main() -> int:
    python, target = sys.argv[1], Path(sys.argv[2])
    floors, pins = declared_floors(), lowest(python)
    # a dependency whose marker excludes this platform (uvloop on Windows) has no pin
    wrong = [
        f"{name}: declared >={floor}, resolved {pins[name]}"
        for name, floor in floors.items()
        if name in pins and Version(pins[name]) != Version(floor)
    ]
    if wrong:
        print("floors that do not install as declared:\n  " + "\n  ".join(wrong), file=sys.stderr)
        return 1
    target.write_text("".join(f"{name}=={pins[name]}\n" for name in sorted(floors) if name in pins))
    print(f"{target}: {len(floors)} runtime dependencies at their floors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
