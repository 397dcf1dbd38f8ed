"""The supervisor restarts a crashed child with back-off and gives up on one that keeps
crashing, with real child processes."""
from __future__ import annotations

import sys
import time

from autorke_common.supervisor import MAX_RESTARTS_IN_WINDOW, Child, Supervisor


def test_crashed_child_is_restarted_then_given_up_on(tmp_path, monkeypatch):
    said: list[str] = []
    sup = Supervisor(say=said.append)
    crasher = sup.add(Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"], {},
                            tmp_path / "crasher.log"))
    sleeper = sup.add(Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {},
                            tmp_path / "sleeper.log"))
    try:
        first_pid = crasher.proc.pid
        crasher.proc.wait()
        sup._restart(crasher)  # notes the crash, schedules a restart in 1 s
        assert crasher.restart_at is not None
        time.sleep(1.05)
        sup._restart(crasher)
        assert crasher.proc.pid != first_pid
        for _ in range(3 * MAX_RESTARTS_IN_WINDOW):
            if crasher.gave_up:
                break
            crasher.proc.wait()
            sup._restart(crasher)  # notes the crash
            if crasher.restart_at is not None:
                crasher.restart_at = time.monotonic()  # skip the back-off wait in the test
                sup._restart(crasher)  # starts it again
        assert crasher.gave_up
        assert any("not restarting" in s for s in said)
        assert sleeper.alive(), "one child crashing never touches the others"
    finally:
        sup.stop_all()
    assert not sleeper.alive()
