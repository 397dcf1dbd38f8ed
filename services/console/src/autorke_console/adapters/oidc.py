"""The console as an OpenID Connect client (authorization code flow) of the platform's
identity provider, through authlib's Starlette integration. Discovery gives the
endpoints; authlib keeps ``state`` and ``nonce`` in the session and checks both, and
checks the ID token's signature against the provider's JWKS."""
from __future__ import annotations

from authlib.integrations.starlette_client import OAuth

CLIENT_NAME = "autorke"


def oidc_client(issuer: str, client_id: str, client_secret: str | None):
    oauth = OAuth()
    oauth.register(
        CLIENT_NAME,
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email roles", "timeout": 10.0},
    )
    return oauth.create_client(CLIENT_NAME)
