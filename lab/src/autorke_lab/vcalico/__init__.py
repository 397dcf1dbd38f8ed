"""VCalico: a stand-in for the network team's ticket system (flat-network / BGP peering
tickets), answering each ticket with an HMAC-signed callback to a webhook. The signature
scheme netcfg verifies is documented in :mod:`autorke_lab.vcalico.signing`."""
from .server import VCalicoServer
from .signing import BadSignature, sign, verify
from .tickets import Mode

__all__ = ["BadSignature", "Mode", "VCalicoServer", "sign", "verify"]
