"""Which Python runs lab code *inside* a lab machine, and with which import path.

A lab machine has its own /root (and /etc, /var, /opt, /usr/local), so an interpreter
living under the host's /root (pyenv, uv-managed Pythons) — and the venv's ``bin/python``
symlink to it — does not exist there. The system ``/usr/bin/python3`` does; when it is the
same minor version as ours, it can import the venv's packages (same ABI) given their
directories on ``PYTHONPATH`` (``.pth`` files are not read from PYTHONPATH, so the
editable workspace sources are listed too). Otherwise ``sys.executable`` is used as is.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from functools import cache
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
HIDDEN_PREFIXES = ("/root/", "/home/")


def _import_path() -> str:
    import autorke_lab

    dirs = [str(Path(autorke_lab.__file__).resolve().parents[1])]
    try:
        import autorke_common

        dirs.append(str(Path(autorke_common.__file__).resolve().parents[1]))
    except ImportError:
        pass
    dirs += [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return os.pathsep.join(dict.fromkeys(dirs))


@cache
def machine_python() -> tuple[str, dict[str, str]]:
    """``(interpreter, environment)`` to run ``-m autorke_lab...`` on a lab machine."""
    real = os.path.realpath(sys.executable)
    if not real.startswith(HIDDEN_PREFIXES) or not os.path.exists(SYSTEM_PYTHON):
        return sys.executable, {}
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    theirs = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()
    if theirs != ours:
        return sys.executable, {}
    return SYSTEM_PYTHON, {"PYTHONPATH": _import_path()}
