"""C2: signed commands (autorke_common.signing). Tampering with any signed field of a
command breaks its signature; the key id names the public key; the receiver's scope and
maximum age hold; keys are generated private (0600) and reused."""
from __future__ import annotations

import copy
import stat
from datetime import timedelta

import pytest

from autorke_common.catalogue.executor import ExecutorRun, SshEndpoint, Target
from autorke_common.catalogue.inventory import AssignMembership, StoreConfig
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import is_permanent
from autorke_common.settings import ServiceSettings
from autorke_common.signing import (
    BadSignature,
    ExpiredCommand,
    Signer,
    UnsignedCommand,
    Verifier,
    canonical,
    generate_key,
    key_id,
    load_private_key,
    parse_signers,
    public_text,
    signer_from,
    verifier_from,
)
from fixtures.signing import private_key, sign, signer, trusted


def job() -> Envelope:
    run = ExecutorRun(job_id="chg-1-s2", change_id="chg-1", kind="script", action="cleanup",
                      targets=[Target(host="m001", address="10.0.0.1", port=22, host_key="ssh-ed25519 AAAA1",
                                      bastion=SshEndpoint(host="b1", address="10.0.0.254",
                                                          host_key="ssh-ed25519 BBBB"))],
                      fence=["m001"], params={"args": ["x"]}, secrets={"kubeconfig": "gAAAA-sealed"},
                      requested_by="alice")
    return Envelope.of(run, source="orchestrator", correlation_id="chg-1", id="cmd-chg-1-s2")


def verifier(**kw) -> Verifier:
    return Verifier(parse_signers(trusted()), **kw)


def tampered(env: Envelope, change) -> Envelope:
    data = copy.deepcopy(env.data)
    change(data)
    return env.model_copy(update={"data": data})


def test_c2_a_signed_command_verifies_and_names_its_signer():
    env = sign(job())
    assert verifier().verify(env) == "orchestrator"
    assert env.data["signed_by"] == key_id(private_key("orchestrator").public_key())
    assert len(env.data["signed_by"]) == 16 and env.data["issued_at"]
    ExecutorRun.model_validate(env.data)  # the signature fields are part of the command's contract
    assert verifier().verify(Envelope.from_bytes(env.to_bytes())) == "orchestrator"  # over the wire


@pytest.mark.parametrize("change", [
    lambda d: d["fence"].append("m002"),
    lambda d: d["targets"][0].update(address="10.9.9.9"),
    lambda d: d["targets"][0].update(port=2222),
    lambda d: d["targets"][0].update(host_key="ssh-ed25519 EVIL"),
    lambda d: d["targets"][0]["bastion"].update(address="10.9.9.9"),
    lambda d: d["targets"].append(dict(d["targets"][0], host="m002")),
    lambda d: d["params"].update(args=["y"]),
    lambda d: d["secrets"].update(kubeconfig="gAAAA-another"),
    lambda d: d["secrets"].update(token="gAAAA-added"),
    lambda d: d.update(action="init"),
    lambda d: d.update(job_id="chg-1-s3"),
    lambda d: d.update(change_id="chg-2"),
    lambda d: d.update(requested_by="mallory"),
    lambda d: d.update(command_timeout_s=1.0),
    lambda d: d.update(issued_at=utcnow().isoformat()),
], ids=["fence", "address", "port", "host_key", "bastion", "extra-target", "params", "secret", "new-secret",
        "action", "job_id", "change_id", "requested_by", "timeout", "issued_at"])
def test_c2_tampering_with_any_signed_field_breaks_the_signature(change):
    with pytest.raises(BadSignature, match="does not match") as refused:
        verifier().verify(tampered(sign(job()), change))
    assert refused.value.slug == "bad-signature" and is_permanent(refused.value)


def test_c2_the_command_id_and_type_are_signed_too():
    env = sign(job())
    with pytest.raises(BadSignature):
        verifier().verify(env.model_copy(update={"id": "cmd-other"}))
    with pytest.raises(BadSignature):
        verifier().verify(env.model_copy(update={"type": "executor.other"}))


def test_c2_secrets_are_signed_by_digest_never_in_clear():
    env = job()
    signed_bytes = canonical(env.type, env.schema_version, env.id, env.data)
    assert b"gAAAA-sealed" not in signed_bytes and b"sha256:" in signed_bytes
    store = Envelope.of(StoreConfig(change_id="c", cluster="x", kind="cluster.rkestate",
                                    content_sealed="gAAAA-state"), source="orchestrator")
    assert b"gAAAA-state" not in canonical(store.type, 1, store.id, store.data)


def test_c2_unsigned_unknown_and_intruder_signatures_are_refused():
    env = job()
    with pytest.raises(UnsignedCommand) as unsigned:
        verifier().verify(env)
    assert unsigned.value.slug == "unsigned-command" and is_permanent(unsigned.value)
    with pytest.raises(BadSignature, match="does not trust"):
        verifier().verify(sign(env, "intruder"))
    forged = tampered(sign(env, "intruder"), lambda d: d.update(signed_by=signer().key_id))  # claims a trusted key
    with pytest.raises(BadSignature, match="does not match"):
        verifier().verify(forged)
    with pytest.raises(BadSignature):
        verifier().verify(tampered(sign(env), lambda d: d.update(signature="not base64 !")))


def test_c2_a_signer_outside_its_scope_is_refused():
    def scope(name: str, e: Envelope) -> bool:
        return name == "orchestrator" or (e.data.get("kind"), e.data.get("action")) == ("script", "facts")

    v = verifier(scope=scope)
    with pytest.raises(BadSignature, match="inventory may not sign"):
        v.verify(sign(job(), "inventory"))  # a cleanup
    facts = tampered(job(), lambda d: d.update(action="facts"))
    assert v.verify(sign(facts, "inventory")) == "inventory"


def test_c2_old_and_future_commands_are_refused():
    v = verifier(max_age_s=60)
    old = signer().sign(job(), now=utcnow() - timedelta(seconds=120))
    with pytest.raises(ExpiredCommand) as expired:
        v.verify(old)
    assert expired.value.slug == "bad-signature"
    with pytest.raises(BadSignature, match="future"):
        v.verify(signer().sign(job(), now=utcnow() + timedelta(hours=1)))
    assert v.verify(signer().sign(job(), now=utcnow() - timedelta(seconds=30))) == "orchestrator"


def test_c2_two_keys_of_one_signer_are_trusted_during_a_rotation(tmp_path):
    generate_key(tmp_path / "new.pem")
    new = Signer.from_file(tmp_path / "new.pem")
    both = f"{trusted('orchestrator')},orchestrator={public_text(new.public_key)}"
    v = Verifier(parse_signers(both))
    assert v.verify(sign(job())) == "orchestrator" and v.verify(new.sign(job())) == "orchestrator"
    assert v.signers == ["orchestrator"]


def test_c2_generated_keys_are_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "orchestrator.pem"
    first = generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_id(generate_key(path)) == key_id(first)  # a restart keeps the key
    assert key_id(load_private_key(path).public_key()) == key_id(first)


def test_c2_settings_refuse_a_service_without_keys(tmp_path):
    with pytest.raises(ValueError, match="AUTORKE_COMMAND_SIGNERS is not set"):
        verifier_from(ServiceSettings(service_name="executor"))
    with pytest.raises(ValueError, match="AUTORKE_SIGNING_KEY_FILE is not set"):
        signer_from(ServiceSettings(service_name="orchestrator"))
    with pytest.raises(ValueError, match="not <name>=<base64"):
        parse_signers("orchestrator=AAAA")
    generate_key(tmp_path / "k.pem")
    s = signer_from(ServiceSettings(signing_key_file=tmp_path / "k.pem"))
    v = verifier_from(ServiceSettings(command_signers=f"orchestrator={public_text(s.public_key)}"))
    assert v.verify(s.sign(Envelope.of(AssignMembership(change_id="c", machine="m", cluster="x", roles=["worker"]),
                                       source="orchestrator"))) == "orchestrator"


def test_c2_autorke_up_gives_each_signer_its_own_key_and_each_receiver_the_public_keys(tmp_path):
    from autorke_common.supervisor import signing_keys

    env = signing_keys(tmp_path)
    folder = tmp_path / "keys"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["executor.pem", "inventory.pem", "orchestrator.pem"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert env["orchestrator"].keys() == {"AUTORKE_SIGNING_KEY_FILE", "AUTORKE_CLAIM_READERS"}
    assert env["orchestrator"]["AUTORKE_SIGNING_KEY_FILE"] == str(folder / "orchestrator.pem")
    assert env["inventory"]["AUTORKE_SIGNING_KEY_FILE"] == str(folder / "inventory.pem")
    assert env["executor"]["AUTORKE_SIGNING_KEY_FILE"] == str(folder / "executor.pem"), "signs its claim fetches"
    assert "console" not in env
    assert env["netcfg"].keys() == {"AUTORKE_COMMAND_SIGNERS"}, "netcfg signs nothing"
    executor = Verifier(parse_signers(env["executor"]["AUTORKE_COMMAND_SIGNERS"]))
    inventory = Verifier(parse_signers(env["inventory"]["AUTORKE_COMMAND_SIGNERS"]))
    netcfg = Verifier(parse_signers(env["netcfg"]["AUTORKE_COMMAND_SIGNERS"]))
    assert (executor.signers, inventory.signers, netcfg.signers) == (
        ["inventory", "orchestrator"], ["orchestrator"], ["orchestrator"])
    orchestrator = Signer.from_file(folder / "orchestrator.pem")
    assert executor.verify(orchestrator.sign(job())) == "orchestrator"
    readers = {n: Verifier(parse_signers(env[n]["AUTORKE_CLAIM_READERS"])).signers
               for n in ("orchestrator", "inventory", "executor")}
    assert readers == {"orchestrator": ["executor"], "inventory": ["executor"], "executor": ["inventory"]}
    assert signing_keys(tmp_path) == env  # a restart reuses the keys
