#!/usr/bin/env python3
"""The workspace's declared `rust-version` is the one its locked dependencies need: the
largest `rust-version` of any package the library, the command line or the Python
extension builds on this platform (normal and build dependencies, from Cargo.lock), and
no smaller than any of them. Exits 1 naming the packages when it is not."""

import json
import platform
import subprocess
import sys
from pathlib import Path

import tomllib


def version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    declared = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["package"][
        "rust-version"
    ]
    target = f"{platform.machine()}-unknown-linux-gnu"
    meta = json.loads(
        subprocess.run(
            [
                "cargo",
                "metadata",
                "--locked",
                "--format-version",
                "1",
                "--filter-platform",
                target,
            ],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    todo = list(meta["workspace_members"])
    seen: set[str] = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds & {None, "build"}:
                todo.append(dep["pkg"])
    needs = sorted(
        (
            (version(packages[p]["rust_version"]), packages[p]["name"], packages[p]["version"])
            for p in seen
            if packages[p].get("rust_version") and p not in meta["workspace_members"]
        ),
        reverse=True,
    )
    top = needs[0][0] if needs else (0,)
    names = ", ".join(f"{n} {v}" for r, n, v in needs if r == top)
    need = ".".join(map(str, top))
    print(f"declared rust-version {declared}; the locked dependencies need {need} ({names})")
    if version(declared) != top:
        print(f'set [workspace.package] rust-version = "{".".join(map(str, top))}"')
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
