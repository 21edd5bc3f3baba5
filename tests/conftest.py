"""Shared fixtures: the repository on sys.path, the real data sets (skipped when absent), a live hub."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
# The team's real data sets sit beside the checkout; product code never assumes this path.
DATASETS = Path(os.environ.get("DSL_HUB_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = DATASETS / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found in {folder}")
    return folder


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: offline, quiet, no stray plugin variables."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DSL_HUB_", "GRADIO_", "PYTHONPATH"))}
    env.update({"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1",
                "TOKENIZERS_PARALLELISM": "false", **extra})
    return env


class HubServer:
    """`python spaces/hub/app.py` in a child process on a free local port."""

    def __init__(self, app: Path, env: dict[str, str], log: Path, timeout: float = 120):
        started = time.monotonic()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(self.port)}
        self.log = log
        self.process = subprocess.Popen([sys.executable, str(app)], cwd=REPO_ROOT, env=env,
                                        stdout=log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    self.start_seconds = time.monotonic() - started
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the hub did not start within {timeout} s:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class StalledEndpoint:
    """A local "Hugging Face Hub" that accepts every connection and never answers: what a hung proxy or an
    overloaded Hub looks like to a client without timeouts."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._hold, daemon=True).start()

    def _hold(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture(scope="session")
def stalled_endpoint():
    endpoint = StalledEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture(scope="session")
def hub(artifacts_dir, stalled_endpoint, tmp_path_factory):
    """The whole hub, as `make demo` serves it, online but with a Hub that never answers (the CI machine has
    no Hub, and a stalled one is the harder case): it must start on the shipped weights and say why."""
    env = clean_env(HF_ENDPOINT=stalled_endpoint.url, HF_HOME=str(tmp_path_factory.mktemp("hf-home")),
                    HF_HUB_DISABLE_TELEMETRY="1")
    del env["HF_HUB_OFFLINE"]
    server = HubServer(REPO_ROOT / "spaces" / "hub" / "app.py", env, artifacts_dir / "hub-server.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(hub):
    """One headless Chromium page on the running hub for a browser test module; each test starts with page.goto.

    Per module, not per session: Playwright's sync API keeps an asyncio loop running in this thread while it is
    open, and later modules that call asyncio.run (the MCP client's tests) would fail beside it."""
    from browser import CHROMIUM, CHROMIUM_FLAGS, VIEWPORT

    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(hub.url)
        page.wait_for_selector("button[role='tab']", timeout=60_000)
        yield page
        browser.close()


def hub_cache(home: Path, repo_id: str, folder: Path) -> Path:
    """Lay a model folder out as the Hugging Face cache under `home` (HF_HOME) holds a downloaded repo, so that
    with HF_HUB_OFFLINE=1 `from_pretrained("<repo_id>")`, `pipeline(model="<repo_id>")` and
    `hf_hub_download` find it by its repo id, exactly as a Hub user's code names it."""
    import shutil

    repo = home / "hub" / f"models--{repo_id.replace('/', '--')}"
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    shutil.copytree(folder, snapshot, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return home


def digit_pictures(folder: Path, mnist: Path | None, count: int = 20) -> list[tuple[Path, str]]:
    """PNG files of handwritten digits with their labels: real MNIST test digits when the data set is
    here (drawn dark-on-light and enlarged, as a user's upload would be), else two drawn strokes."""
    import numpy as np
    from PIL import Image, ImageDraw

    pictures = []
    if mnist is not None and (mnist / "t10k-images-idx3-ubyte.gz").is_file():
        from plugins.mnist_cnn.data import read_idx

        images = read_idx(mnist / "t10k-images-idx3-ubyte.gz")
        labels = read_idx(mnist / "t10k-labels-idx1-ubyte.gz")
        for index in np.random.default_rng(1).choice(len(labels), count, replace=False):
            path = folder / f"mnist-{index}.png"
            Image.fromarray(255 - images[index]).resize((140, 140), Image.Resampling.BILINEAR).save(path)
            pictures.append((path, str(labels[index])))
        return pictures
    for label, strokes in (("1", [(70, 20), (70, 120)]), ("7", [(35, 25), (105, 25), (60, 120)])):
        image = Image.new("L", (140, 140), 255)
        ImageDraw.Draw(image).line(strokes, fill=0, width=12, joint="curve")
        path = folder / f"drawn-{label}.png"
        image.save(path)
        pictures.append((path, label))
    return pictures
