"""What the Python stories (Tests/console/browser_story.py, Tests/integrations/story.py) share: running the `signoff`
binary, and a `signoff serve` on a free loopback port that is ready before it is used and stopped with SIGTERM."""
import os
import signal
import threading
import sys
import socket
import subprocess
import time
import urllib.request


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(binary, args, env, cwd, timeout, check_rc=True):
    """`signoff ARGS`; a non-zero exit is a Failure naming the command and its standard error (unless check_rc=False)."""
    p = subprocess.run([binary, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise Failure(f"signoff {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def _die_with_parent():
    """In the child before exec: SIGKILL when the story that started it dies, however it dies (the server runs in a
    session of its own, out of reach of the signals sent to the story's process group)."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _exit_on_sigterm(signum, frame):
    # SIGTERM (a test's deadline ending the story) unwinds like an exception, so every `finally: stop(...)` runs.
    sys.exit(128 + signum)


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def serve(binary, args, env, cwd, log_path):
    """Starts `signoff serve ARGS --port N` on a free loopback port, its output in log_path, and waits (10 s at most)
    until /readyz answers. Returns the process and its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = open(log_path, "w")
    process = subprocess.Popen([binary, "serve", *args, "--port", str(port)], env=env, cwd=cwd, stdout=log, stderr=log,
                               start_new_session=True, preexec_fn=_die_with_parent)
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/readyz", timeout=1).read()
            return process, url
        except OSError:
            check(process.poll() is None, f"signoff serve exited {process.returncode}: see {log_path}")
            time.sleep(0.1)
    stop(process, grace=5)
    raise Failure("signoff serve did not become ready in 10 s")


def stop(process, grace, say=None):
    """SIGTERM, then SIGKILL to its process group if it has not stopped within `grace` seconds (said through `say`)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        if say:
            say(f"signoff serve did not stop within {grace} s of SIGTERM; killing it")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
