"""Run every benchmark script in this folder, one after the other, and print their tables.

``python benchmarks/run.py [NAME ...]`` runs ``bench_NAME.py`` for each name given, or all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [HERE / f"bench_{n}.py" for n in names]
    status = 0
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        status |= subprocess.call([sys.executable, str(script)])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
