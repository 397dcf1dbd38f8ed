"""How a node installs RKE2 (L7): a pinned release, and the installer script checked
against its SHA-256 before anything of it runs.

The default is the installer of the pinned release tag (``install.sh`` of
``rancher/rke2`` at that tag, not ``get.rke2.io``'s moving copy), downloaded over HTTPS
only into a private temporary file, compared with ``AUTORKE_RKE2_INSTALLER_SHA256``, and
only then run, with ``INSTALL_RKE2_VERSION`` set so that the installer fetches that release
(whose artefacts it checks against the release's own checksums). The installer may also be
a local artefact already on the machines (an absolute path: an air-gapped mirror); it is
checked the same way. Without a checksum no installer runs: a join fails with that reason
before anything is sent.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from autorke_common.errors import Invalid

DEFAULT_VERSION = "v1.31.5+rke2r1"
DEFAULT_INSTALLER_URL = "https://raw.githubusercontent.com/rancher/rke2/{version}/install.sh"
VERSION = re.compile(r"v\d+\.\d+\.\d+\+rke2r\d+")
SHA256 = re.compile(r"[0-9a-f]{64}")
#: What the installer runs with on the node: the agent role, the pinned release.
KINDS = ("agent", "server")


class InstallerNotPinned(Invalid):
    """No checksum for the installer: nothing would check what runs as root on the node."""

    def __init__(self, detail: str) -> None:
        super().__init__("rke2-installer-not-pinned", detail)


@dataclass(frozen=True)
class Rke2Installer:
    version: str = DEFAULT_VERSION
    url: str = DEFAULT_INSTALLER_URL
    sha256: str | None = None

    def __post_init__(self) -> None:
        if not VERSION.fullmatch(self.version):
            raise ValueError(f"AUTORKE_RKE2_VERSION {self.version!r} is not an RKE2 release (v1.31.5+rke2r1)")
        if self.sha256 is not None and not SHA256.fullmatch(self.sha256):
            raise ValueError("AUTORKE_RKE2_INSTALLER_SHA256 must be 64 lower-case hex digits")
        source = self.source
        if not source.startswith(("https://", "/")):
            raise ValueError(f"AUTORKE_RKE2_INSTALLER_URL must be https:// or an absolute path on the "
                             f"machines, not {source!r}")

    @property
    def source(self) -> str:
        return self.url.replace("{version}", self.version)

    def command(self, kind: str = "agent") -> str:
        """The shell command (run by ``bash -c`` on the node, as root) that fetches or copies
        the installer into a private file, checks its SHA-256, and runs it only on a match."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if self.sha256 is None:
            raise InstallerNotPinned("set AUTORKE_RKE2_INSTALLER_SHA256 (the SHA-256 of the RKE2 installer "
                                     f"{self.source}): an unchecked installer is never run")
        source = shlex.quote(self.source)
        fetch = (f"curl -sfL --proto =https --tlsv1.2 -o \"$f\" {source}" if self.source.startswith("https://")
                 else f"cat {source} > \"$f\"")
        check = (f"printf '%s  %s\\n' {self.sha256} \"$f\" | sha256sum -c --status - || "
                 "{ echo \"rke2: the installer's SHA-256 is not the pinned one; nothing installed\" >&2; exit 90; }")
        run = f"INSTALL_RKE2_TYPE={kind} INSTALL_RKE2_VERSION={shlex.quote(self.version)} sh \"$f\""
        return (f"set -e; f=$(mktemp); trap 'rm -f \"$f\"' EXIT; {fetch}; {check}; {run}")
