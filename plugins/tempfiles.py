"""One private, bounded folder for every file a serving hub writes.

Uploads, Gradio's cached outputs, rendered audio and scratch files of one hub
process all go under `/tmp/dsl-hub-<pid>-*/` (Gradio's GRADIO_TEMP_DIR and
Python's tempfile both point there). That gives three guarantees a public
Space needs and Gradio alone does not give:

- bounded: a sweeper removes files older than `max_age` and, oldest first,
  whatever is over `budget_bytes`, every `every` seconds and before an upload
  (before one a second, or sooner when the uploads since the last sweep reach a
  sixteenth of the budget: a sweep reads every file's size, milliseconds of the
  event loop with thousands of files, so small uploads do not each pay for one,
  while large ones cannot push the folder past its budget by more than that
  sixteenth);
- cleaned: the folder is removed when the process exits, SIGTERM included
  (`serve` turns SIGTERM into Gradio's own shutdown);
- no leftovers: folders of hub processes that no longer run (killed with
  SIGKILL, a crashed machine) are removed when the next hub starts.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

logger = logging.getLogger("dsl_hub")

PREFIX = "dsl-hub-"
DEFAULT_BUDGET_BYTES = int(float(os.environ.get("DSL_HUB_DISK_BUDGET_MB", 1024)) * 2**20)
DEFAULT_MAX_AGE = float(os.environ.get("DSL_HUB_FILE_MAX_AGE", 900))  # seconds a file is kept for its user
UPLOAD_SWEEP_INTERVAL = 1.0  # seconds: uploads arriving sooner after a sweep do not start another


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_folders(parent: Path) -> list[Path]:
    """Remove the folders of hub processes that are gone; returns what was removed."""
    removed = []
    for folder in parent.glob(f"{PREFIX}*"):
        match = re.match(rf"{PREFIX}(\d+)-", folder.name)
        if match and folder.is_dir() and not folder.is_symlink() and not _process_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class HubTempFolder:
    """The folder of one serving process; `install()` points Gradio and tempfile at it."""

    def __init__(self, parent: Path | None = None, budget_bytes: int = DEFAULT_BUDGET_BYTES,
                 max_age: float = DEFAULT_MAX_AGE):
        parent = Path(parent or tempfile.gettempdir())
        remove_stale_folders(parent)
        self.path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))
        self.gradio = self.path / "gradio"
        self.scratch = self.path / "tmp"
        self.gradio.mkdir()
        self.scratch.mkdir()
        self.budget_bytes, self.max_age = budget_bytes, max_age
        self._last_sweep, self._uploaded_since_sweep = 0.0, 0
        self._lock = threading.Lock()
        atexit.register(self.remove)

    def install(self) -> "HubTempFolder":
        """Must run before the app's Blocks are created: each Gradio block reads its cache folder then."""
        os.environ["GRADIO_TEMP_DIR"] = str(self.gradio)
        tempfile.tempdir = str(self.scratch)
        return self

    def sweep_before_upload(self, size: int) -> int:
        """Before an upload of `size` bytes: sweep if a second has passed since the last sweep, or if the uploads
        since then (this one included) reach a sixteenth of the budget."""
        with self._lock:
            self._uploaded_since_sweep += size
            due = self._uploaded_since_sweep >= self.budget_bytes / 16
        return self.sweep(min_interval=0.0 if due else UPLOAD_SWEEP_INTERVAL)

    def sweep(self, min_interval: float = 0.0) -> int:
        """Remove files past their age, then the oldest until the folder fits its budget; returns bytes freed."""
        with self._lock:
            now = time.time()
            if now - self._last_sweep < min_interval:
                return 0
            self._last_sweep, self._uploaded_since_sweep = now, 0
            files = []
            for root, _, names in os.walk(self.path):
                for name in names:
                    path = os.path.join(root, name)
                    try:
                        status = os.lstat(path)
                    except OSError:
                        continue
                    files.append((status.st_mtime, status.st_size, path))
            files.sort()
            total = sum(size for _, size, _ in files)
            freed = 0
            for modified, size, path in files:
                if modified > now - self.max_age and total - freed <= self.budget_bytes:
                    break
                try:
                    os.unlink(path)
                    freed += size
                except OSError:
                    pass
            if freed:
                logger.info("swept %.1f MB from %s", freed / 2**20, self.path)
            return freed

    def usage(self) -> int:
        return sum(os.lstat(os.path.join(root, name)).st_size
                   for root, _, names in os.walk(self.path) for name in names)

    def start_sweeper(self, every: float = 30.0) -> threading.Thread:
        def run():
            while self.path.exists():
                time.sleep(every)
                self.sweep()

        thread = threading.Thread(target=run, name="dsl-hub-sweeper", daemon=True)
        thread.start()
        return thread

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
