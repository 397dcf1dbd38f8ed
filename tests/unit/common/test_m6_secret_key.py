"""M6: the sealing key is 32 random bytes (base64), a weak one refuses to start; each
purpose has its own HKDF subkey; rotation re-seals under the newest key."""
from __future__ import annotations

import base64
import hashlib
import os

import pytest
from cryptography.fernet import Fernet

from autorke_common.errors import PermanentError
from autorke_common.secrets import SecretBox, WeakSecretKey, generate_key, key_bytes, parse_keys
from autorke_common.settings import ServiceSettings, secret_box
from fixtures.secret_keys import secret_key


@pytest.mark.parametrize("weak", [
    "inventory-test-key",                                  # a passphrase
    "",                                                     # nothing
    base64.b64encode(os.urandom(16)).decode(),              # 16 bytes
    base64.b64encode(os.urandom(33)).decode(),              # 33 bytes
    base64.b64encode(b"\x00" * 32).decode(),                # 32 bytes, not random
    base64.b64encode(b"abcd" * 8).decode(),                 # 32 bytes, 4 distinct values
    "k" * 43 + "!",                                         # not base64
])
def test_m6_a_weak_or_short_key_is_refused_with_a_clear_message(weak):
    with pytest.raises(WeakSecretKey) as refused:
        SecretBox(weak)
    message = str(refused.value)
    assert "32 random bytes" in message or "empty" in message
    assert "python -m autorke_common.secrets" in message
    assert not weak or weak not in message, "the key itself is never repeated"


def test_m6_a_service_with_a_weak_key_does_not_start():
    with pytest.raises(WeakSecretKey):
        secret_box(ServiceSettings(secret_key="change-me"))


@pytest.mark.parametrize("make", [
    generate_key,                                                           # URL-safe, padded
    lambda: base64.b64encode(os.urandom(32)).decode(),                      # standard alphabet
    lambda: base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),  # unpadded (token_urlsafe)
])
def test_m6_32_random_bytes_in_either_base64_alphabet_are_accepted(make):
    key = make()
    assert len(key_bytes(key)) == 32
    box = SecretBox(key)
    assert box.open(box.seal("token")) == "token"


def test_m6_one_bad_key_in_a_rotation_list_is_named_by_position():
    with pytest.raises(WeakSecretKey, match="key 2 of 2"):
        parse_keys(f"{generate_key()},short")


def test_m6_subkeys_are_hkdf_per_purpose_not_the_key_hashed():
    key = secret_key("m6")
    secrets_box, other = SecretBox(key, purpose="secrets"), SecretBox(key, purpose="sessions")
    sealed = secrets_box.seal("kubeconfig")
    with pytest.raises(PermanentError):
        other.open(sealed)  # a value sealed for one purpose does not open for another
    assert other.open(other.seal("x")) == "x"
    # neither the raw key nor the old SHA-256 derivation seals new values
    raw = Fernet(base64.urlsafe_b64encode(key_bytes(key)))
    legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"autorke-secretbox:" + key.encode()).digest()))
    for fernet in (raw, legacy):
        with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidToken, whichever it is
            fernet.decrypt(sealed.encode())


def test_m6_rotate_reseals_under_the_newest_key_and_the_old_key_can_go():
    old_key, new_key = secret_key("m6-old"), secret_key("m6-new")
    sealed = SecretBox(old_key).seal("rkestate")
    both = SecretBox(f"{new_key},{old_key}")
    assert not both.is_current(sealed)
    rotated = both.rotate(sealed)
    assert both.is_current(rotated) and rotated != sealed
    assert SecretBox(new_key).open(rotated) == "rkestate"  # the old key is no longer needed
    with pytest.raises(PermanentError):
        SecretBox(new_key).rotate(SecretBox(secret_key("m6-stranger")).seal("x"))


def test_m6_values_sealed_before_hkdf_still_open_and_rotate_to_hkdf():
    key = secret_key("m6-legacy")
    legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"autorke-secretbox:" + key.encode()).digest()))
    sealed = legacy.encrypt(b"join-token").decode()
    box = SecretBox(key)
    assert box.open(sealed) == "join-token" and not box.is_current(sealed)
    assert box.is_current(box.rotate(sealed))


def test_m6_the_key_is_read_from_a_file(tmp_path):
    path = tmp_path / "secret-key"
    key = generate_key()
    path.write_text(key + "\n")
    box = secret_box(ServiceSettings(secret_key_file=path))
    assert SecretBox(key).open(box.seal("x")) == "x"
    with pytest.raises(ValueError, match="cannot be read"):
        secret_box(ServiceSettings(secret_key_file=tmp_path / "missing"))
