"""hub_upload.py against Hubs that misbehave: each ends in one line, fast, naming the real problem.

The peers are real sockets on 127.0.0.1, never the network: one that accepts connections and never
answers (a stalled Hub or proxy: huggingface_hub alone would wait for ever), and offline mode.
"""

import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import REPO_ROOT, clean_env
from test_hub_upload import FAKE_TOKEN, PUBLISHABLE

TEST_TIMEOUT_SECONDS = "3"  # the product default is 15 s per call; small here to keep the suite fast


def hub_upload(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "hub_upload.py"), PUBLISHABLE, "--repo-id",
                           f"tester/{PUBLISHABLE}"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_stalled_hub_fails_within_a_minute_with_one_line(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []  # accepted, never read from nor written to
    stop = threading.Event()

    def accept_and_stall():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept_and_stall, daemon=True).start()
    started = time.monotonic()
    try:
        result = hub_upload(clean_env(HF_HOME=str(tmp_path), HF_TOKEN=FAKE_TOKEN, HF_HUB_OFFLINE="0",
                                      DSL_HUB_UPLOAD_TIMEOUT=TEST_TIMEOUT_SECONDS,
                                      HF_ENDPOINT=f"http://127.0.0.1:{listener.getsockname()[1]}"))
    finally:
        stop.set()
        for connection in held:
            connection.close()
        listener.close()
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"took {elapsed:.0f} s"
    assert held, "hub_upload never reached the stalled endpoint"
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "did not answer within 3 s" in result.stderr
    assert FAKE_TOKEN not in result.stdout + result.stderr


def test_offline_mode_is_named_not_the_network(tmp_path):
    result = hub_upload(clean_env(HF_HOME=str(tmp_path), HF_TOKEN=FAKE_TOKEN, HF_HUB_OFFLINE="1"))
    assert result.returncode == 2 and "offline mode is on" in result.stderr, result.stderr
    assert "cannot be reached" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


class NotAHub(BaseHTTPRequestHandler):
    """A web server that is not the Hub: a bare 404 for every path, without the Hub's X-Error-Code."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_a_wrong_endpoint_is_not_reported_as_a_wrong_repo_id(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotAHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = hub_upload(clean_env(HF_HOME=str(tmp_path), HF_TOKEN=FAKE_TOKEN, HF_HUB_OFFLINE="0",
                                      HF_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}"))
    finally:
        server.shutdown()
    assert result.returncode == 2 and "does not point at a Hugging Face Hub" in result.stderr, result.stderr
    assert "repo id" not in result.stderr and FAKE_TOKEN not in result.stdout + result.stderr
