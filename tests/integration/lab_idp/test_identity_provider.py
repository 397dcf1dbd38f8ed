"""The lab identity provider as the platform meets it: a real child process, its JWKS
fetched over HTTP with PyJWT (what ``autorke_common`` validates bearer tokens with), and
the authorization-code flow driven end to end with httpx."""
from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from autorke_lab.idp import AUDIENCE, IdentityProvider, UnknownUser, issue_token

CONSOLE_REDIRECT = "http://127.0.0.1:18080/auth/callback"


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    state = tmp_path_factory.mktemp("lab") / "idp"  # the lab's layout: <state dir>/idp
    server = IdentityProvider(state, console_redirect_uris=[CONSOLE_REDIRECT],
                              log_path=state.parent / "idp.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def discovery(idp) -> dict:
    return httpx.get(f"{idp.url}/.well-known/openid-configuration").json()


def validate(token: str, discovery: dict, audience: str = AUDIENCE) -> dict:
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(
        token, signing_key.key, algorithms=["RS256"], audience=audience, issuer=discovery["issuer"]
    )


@pytest.mark.parametrize(
    "user,roles",
    [
        ("viewer", ["viewer"]),
        ("operator", ["viewer", "operator"]),
        ("operator2", ["viewer", "operator"]),
        ("approver", ["viewer", "approver"]),
        ("admin", ["viewer", "operator", "approver", "admin"]),
    ],
)
def test_lab_token_validates_against_jwks_and_carries_the_role(idp, discovery, user, roles):
    claims = validate(issue_token(user, idp.state_dir), discovery)
    assert claims["sub"] == user and claims["preferred_username"] == user
    assert claims["roles"] == roles


def test_autorke_lab_token_prints_the_token_alone(idp, discovery):
    result = subprocess.run(
        [sys.executable, "-m", "autorke_lab", "token", "approver",  # = autorke lab token
         "--state-dir", str(idp.state_dir.parent)],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert validate(token, discovery)["roles"] == ["viewer", "approver"]


def test_a_token_from_another_key_does_not_validate(idp, discovery, tmp_path):
    other = IdentityProvider(tmp_path / "other-idp")
    (tmp_path / "other-idp").mkdir()
    (tmp_path / "other-idp" / "issuer").write_text(idp.url)
    forged = issue_token("admin", tmp_path / "other-idp")
    other.stop()  # never started: releases its socket
    with pytest.raises(jwt.PyJWKClientError):
        validate(forged, discovery)
    with pytest.raises(UnknownUser):
        issue_token("mallory", idp.state_dir)


def test_client_credentials(idp, discovery):
    r = httpx.post(
        discovery["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "roles"},
        auth=("autorke-service", "lab-service-secret"),
    )
    assert r.status_code == 200, r.text
    claims = validate(r.json()["access_token"], discovery)
    assert claims["sub"] == "autorke-service" and claims["roles"] == ["viewer", "operator"]

    bad = httpx.post(
        discovery["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=("autorke-service", "wrong"),
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


def login(client: httpx.Client, discovery: dict, params: dict, username: str) -> dict:
    page = client.get(discovery["authorization_endpoint"], params=params)
    assert page.status_code == 200 and 'value="approver"' in page.text
    answer = client.post(
        discovery["authorization_endpoint"], params=params, data={"username": username}
    )
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_authorization_code_flow_for_the_console(idp, discovery):
    params = {
        "response_type": "code",
        "client_id": "autorke-console",
        "redirect_uri": CONSOLE_REDIRECT,
        "scope": "openid profile roles",
        "state": "s-123",
        "nonce": "n-456",
    }
    with httpx.Client(follow_redirects=False) as client:
        got = login(client, discovery, params, "approver")
        assert got["state"] == "s-123"
        r = client.post(
            discovery["token_endpoint"],
            data={"grant_type": "authorization_code", "code": got["code"],
                  "redirect_uri": CONSOLE_REDIRECT},
            auth=("autorke-console", "lab-console-secret"),
        )
        assert r.status_code == 200, r.text
        tokens = r.json()
        access = validate(tokens["access_token"], discovery)
        assert access["sub"] == "approver" and access["roles"] == ["viewer", "approver"]
        id_token = validate(tokens["id_token"], discovery, audience="autorke-console")
        assert id_token["nonce"] == "n-456" and id_token["roles"] == ["viewer", "approver"]

        info = client.get(
            discovery["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert info.json()["preferred_username"] == "approver"

        reused = client.post(
            discovery["token_endpoint"],
            data={"grant_type": "authorization_code", "code": got["code"],
                  "redirect_uri": CONSOLE_REDIRECT},
            auth=("autorke-console", "lab-console-secret"),
        )
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_authorization_code_with_pkce_for_the_cli(idp, discovery):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    redirect = "http://127.0.0.1:53682/callback"
    params = {
        "response_type": "code",
        "client_id": "autorke-cli",
        "redirect_uri": redirect,
        "scope": "openid roles",
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    with httpx.Client(follow_redirects=False) as client:
        code = login(client, discovery, params, "operator2")["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                "client_id": "autorke-cli"}
        missing = client.post(discovery["token_endpoint"], data=form)
        assert missing.status_code == 400
        r = client.post(discovery["token_endpoint"], data={**form, "code_verifier": verifier})
        assert r.status_code == 200, r.text
        assert validate(r.json()["access_token"], discovery)["sub"] == "operator2"


def test_an_unregistered_redirect_uri_is_refused_without_redirecting(idp, discovery):
    r = httpx.get(
        discovery["authorization_endpoint"],
        params={"response_type": "code", "client_id": "autorke-console",
                "redirect_uri": "http://evil.example/cb", "scope": "openid"},
    )
    assert r.status_code == 400 and "location" not in r.headers


def test_a_rotated_key_replaces_the_old_one_in_the_jwks(tmp_path):
    """``rotate_key()`` is a revocation: the running IdP publishes (and signs with) only the
    new key from then on, so what the old key signed no longer validates."""
    server = IdentityProvider(tmp_path / "idp", log_path=tmp_path / "idp.log")
    server.start()
    try:
        meta = httpx.get(f"{server.url}/.well-known/openid-configuration").json()
        old_kid = httpx.get(meta["jwks_uri"]).json()["keys"][0]["kid"]
        before = issue_token("operator", server.state_dir)
        new_kid = server.rotate_key()
        assert [k["kid"] for k in httpx.get(meta["jwks_uri"]).json()["keys"]] == [new_kid] != [old_kid]
        assert (server.state_dir / "signing-key.json").stat().st_mode & 0o777 == 0o600
        assert validate(issue_token("operator", server.state_dir), meta)["sub"] == "operator"
        with pytest.raises(jwt.PyJWKClientError):
            validate(before, meta)
        renamed = validate(issue_token("operator", server.state_dir, claims={"preferred_username": "otto2"}), meta)
        assert renamed["sub"] == "operator" and renamed["preferred_username"] == "otto2"
    finally:
        server.stop()
