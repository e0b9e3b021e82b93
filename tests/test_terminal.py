"""Stop signals become one KeyboardInterrupt (later ones ignored, handlers restored), and progress or log
writes into a closed pipe never raise."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys

import pytest

from livebg.terminal import QuietStream, StopSignals

# Signals go to a child interpreter, never to the test process (whose other threads, left by other tests'
# runtimes, have no business receiving them).
_CHILD = """
import os, signal, sys, time
from livebg.terminal import StopSignals

def deliver(signum):
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # the handler runs at the next bytecode boundary once the signal is in

name = sys.argv[1]
signum = getattr(signal, name)
{body}
print("ok")
"""

_STOP_AND_REPEAT = """
# As in a terminal (the test may run under nohup, which leaves SIGHUP ignored).
signal.signal(signum, signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL)
stops = StopSignals()
try:
    with stops:
        deliver(signum)
    sys.exit("the signal did not interrupt")
except KeyboardInterrupt:
    pass
assert stops.received == signum and stops.exit_code == 128 + signum, (stops.received, stops.exit_code)
# The process is stopping: a second signal (Ctrl-C twice, kill during cleanup) changes nothing.
deliver(signum)
"""

_IGNORED = """
signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
with StopSignals() as stops:
    deliver(signal.SIGHUP)
assert stops.received is None, stops.received
assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
"""


def _run_child(body: str, name: str) -> subprocess.CompletedProcess[str]:
    code = _CHILD.format(body=body)
    return subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_stop_signal_is_a_keyboard_interrupt_and_a_second_is_ignored(name: str) -> None:
    done = _run_child(_STOP_AND_REPEAT, name)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_handlers_come_back_when_nothing_arrived() -> None:
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        with StopSignals() as stops:
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        assert stops.received is None and stops.exit_code is None
        assert {s: signal.getsignal(s) for s in before} == before
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_ignored_signal_stays_ignored() -> None:
    done = _run_child(_IGNORED, "SIGHUP")
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_writes_into_a_closed_pipe_are_dropped() -> None:
    read, write = os.pipe()
    os.close(read)
    pipe = os.fdopen(write, "w", buffering=1)
    quiet = QuietStream(pipe)
    assert quiet.write("progress 1%\n") == len("progress 1%\n")
    quiet.flush()
    assert quiet.broken
    quiet.write("progress 2%\n")
    with pytest.raises(OSError):
        pipe.close()  # what is still buffered cannot go anywhere either


def test_a_closed_or_missing_stream_is_quiet() -> None:
    closed = io.StringIO()
    closed.close()
    for stream in (closed, None):
        quiet = QuietStream(stream)
        quiet.write("line\n")
        quiet.flush()
        assert quiet.broken
    working = io.StringIO()
    QuietStream(working).write("kept\n")
    assert working.getvalue() == "kept\n" and QuietStream(working).getvalue() == "kept\n"
