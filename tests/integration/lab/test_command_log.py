"""A machine's command log lists exactly the commands sent to it, and nothing sent elsewhere."""
from __future__ import annotations

import httpx

from autorke_lab.machines.commandlog import commands


def test_command_log_lists_exactly_the_commands_sent(lab):
    a, b = lab.machines[4]["name"], lab.machines[5]["name"]
    lab.reset(a)
    lab.reset(b)
    sent = ["true", "echo 'quoted  spaces' \"and $HOME\"", "printf 'two\\nlines'\necho second-line",
            "uname -r; ls /etc/kubernetes 2>/dev/null"]
    client = lab.ssh(a)
    for command in sent:
        _, out, _ = client.exec_command(command, timeout=10)
        out.channel.recv_exit_status()
    client.close()
    lab.run(b, "hostname")
    assert commands(lab.machine(a).command_log_path) == sent
    assert commands(lab.machine(b).command_log_path) == ["hostname"]
    api = httpx.get(f"{lab.control_url}/machines/{a}/commands").json()
    assert [c["command"] for c in api["commands"]] == sent
    assert api["commands"][0]["client"].startswith("127.")
    assert lab.info(a)["command_log"] == str(lab.machine(a).command_log_path)
    httpx.delete(f"{lab.control_url}/machines/{a}/commands")
    assert lab.machine(a).command_log() == []
    lab.reset(b)


def test_commands_run_as_in_a_login_shell(lab):
    """The session wrapper runs each command in the shell sshd started (no further shell):
    it sees no parameters or variables of the wrapper, exits with the command's status, and
    starts in root's home, as ``bash -c`` under sshd does on a real machine."""
    name = lab.machines[3]["name"]
    code, out, _ = lab.run(name, 'echo "$# ${M-unset} ${F-unset}"; pwd; (exit 3)')
    assert code == 3
    assert out.splitlines() == ["0 unset unset", "/root"]
    code, out, _ = lab.run(name, "for i in 1 2; do echo $i; done | wc -l; exit 7")
    assert (code, out.strip()) == (7, "2")
