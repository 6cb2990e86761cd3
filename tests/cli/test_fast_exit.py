"""The console script exits as soon as main() returns, without the interpreter's teardown, yet
nothing a normal exit does is lost: exit handlers run, what they print is flushed into the
pipe, the exit code is main()'s, and a thread that is not a daemon is waited for."""

import json
import os
import subprocess
import sys
import textwrap

from tests.helpers import simple_rides, write_green

SCRIPT = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path

    out = Path(sys.argv[1])
    atexit.register(lambda: (out / "handler").write_text("ran"))
    # Printed by an exit handler, after everything main() wrote and flushed: only a flush
    # after the handlers gets it out.
    atexit.register(lambda: print("bye"))
    thread = sys.argv[2] == "thread"
    sys.argv = ["ride-duration", *sys.argv[3:]]
    from ride_duration.cli import run

    def late():
        time.sleep(2)  # longer than main() takes to fail
        (out / "thread").write_text("finished")

    if thread:
        threading.Thread(target=late).start()
    run()
    """
)


def launch(tmp_path, thread: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), thread, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},  # a pipe buffers
    )


def test_a_failure_exits_2_with_its_line_after_the_exit_handlers(tmp_path):
    absent = tmp_path / "absent.bin"
    done = launch(tmp_path, "none", "predict", "--pu", "43", "--do", "151", "--model", str(absent))
    assert done.returncode == 2, done.stderr
    assert done.stdout == "bye\n"
    assert done.stderr.startswith("ride-duration: error:") and "absent.bin" in done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "handler").read_text() == "ran"


def test_a_success_exits_0_with_its_output_whole(tmp_path):
    data = tmp_path / "data"
    write_green(data, "2021-01", simple_rides(1))
    write_green(data, "2021-02", simple_rides(2))
    args = ["train", "--offline", "--json", "--data-dir", str(data)]
    done = launch(tmp_path, "none", *args, "--model-dir", str(tmp_path / "models"))
    assert done.returncode == 0, done.stderr
    printed, bye = done.stdout.rsplit("\n", 2)[:2]
    assert json.loads(printed)["model_path"].endswith(".bin") and bye == "bye"
    assert (tmp_path / "handler").read_text() == "ran"


def test_a_thread_that_is_not_a_daemon_is_waited_for(tmp_path):
    absent = tmp_path / "absent.bin"
    done = launch(tmp_path, "thread", "predict", "--pu", "1", "--do", "2", "--model", str(absent))
    assert done.returncode == 2, done.stderr
    assert (tmp_path / "thread").read_text() == "finished"
    assert (tmp_path / "handler").read_text() == "ran"
