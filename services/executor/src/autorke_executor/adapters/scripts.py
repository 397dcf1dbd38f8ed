"""The named scripts shipped in this package (``scripts/*.sh``), composed for sending.

Every script is sent as ``lib.sh`` (strict mode, a JSON encoder) + ``probe.sh`` (the
Kubernetes-component probe, reused by facts and preflight) + the script itself, on the
command's stdin; the ``etcd_*`` scripts also get ``etcd_lib.sh`` (RKE1's etcd container,
data and snapshot directories, the snapshot-name check) before their own text. Reading
them once at start-up keeps the files the single source."""
from __future__ import annotations

from importlib import resources

from autorke_common.catalogue.executor import ETCD_SCRIPTS

SCRIPTS = ("facts", "preflight", "probe", "init", "cleanup", "rke2_join", "rke2_remove", *ETCD_SCRIPTS)


class ScriptLibrary:
    def __init__(self) -> None:
        folder = resources.files("autorke_executor") / "scripts"
        texts = {p.name[:-3]: p.read_text() for p in folder.iterdir() if p.name.endswith(".sh")}
        prelude = texts["lib"] + "\n" + texts["probe"] + "\n"
        self._composed = {name: (prelude + (texts["etcd_lib"] + "\n" if name.startswith("etcd_") else "")
                                 + texts[name]).encode() for name in SCRIPTS if name != "probe"}
        self._composed["probe"] = prelude.encode()

    def get(self, name: str) -> bytes:
        try:
            return self._composed[name]
        except KeyError:
            raise ValueError(f"no script named {name!r}; known: {', '.join(SCRIPTS)}") from None
