"""``make bench`` / ``python -m bench``: run every benchmark in this folder, one after the
other (they share two cores, so never in parallel), each writing its own section of
``bench/RESULTS.md``. ``python -m bench NAME …`` runs only those (file names without .py)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
    if argv:
        scripts = [p for p in scripts if p.stem in argv]
    failed = []
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        start = time.monotonic()
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"== {script.stem}: exit {rc} in {time.monotonic() - start:.0f}s", flush=True)
        if rc:
            failed.append(script.stem)
    print("results: bench/RESULTS.md" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
