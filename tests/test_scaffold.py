"""A new topic is one folder: `python -m plugins new` in a copy of the repository gives a plugin that trains,
is listed, has a current Space, and is served over HTTP with no other edit."""

import shutil
import subprocess
import sys

from conftest import REPO_ROOT, HubServer, clean_env
from hub_api import Api, assert_refused, png

from plugins.spaces import stale_space_files


def test_generated_space_folders_are_current():
    assert stale_space_files() == [], "run `python -m plugins spaces` and commit spaces/"


def run(command: list[str], cwd, timeout=300) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *command], cwd=cwd, env=clean_env(), capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def test_a_scaffolded_plugin_trains_and_is_served(tmp_path):
    from PIL import Image, ImageDraw

    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("plugins", "models", "spaces"):
        shutil.copytree(REPO_ROOT / name, copy / name, ignore=ignore)
    for name in ("train.py", "requirements.txt"):
        shutil.copy(REPO_ROOT / name, copy / name)

    run(["-m", "plugins", "new", "toy-topic"], copy)
    assert (copy / "plugins" / "toy_topic" / "test_toy_topic.py").is_file()
    assert "toy-topic:" in run(["train.py", "--list"], copy).stdout
    run(["-m", "plugins", "spaces", "--check"], copy)  # the new Space folder was written with the plugin
    run(["train.py", "toy-topic", "--synthetic", "64", "--max-steps", "5", "--batch-size", "16",
         "--output-dir", "runs/toy"], copy)
    shutil.copytree(copy / "runs" / "toy" / "model", copy / "pretrained" / "toy-topic")

    server = HubServer(copy / "spaces" / "toy-topic" / "app.py", clean_env(), tmp_path / "server.log")
    try:
        api = Api(server.url)
        picture = Image.new("L", (56, 56), 255)
        ImageDraw.Draw(picture).line([(28, 6), (28, 50)], fill=0, width=4)
        kind, data = api.call("toy_topic_classify", [api.upload("bar.png", png(picture)), "toy-topic"])
        assert kind == "complete" and data[0]["label"] in ("horizontal", "vertical"), data
        assert_refused(api.call("toy_topic_classify", [{"path": "/etc/passwd"}, "toy-topic"]), "upload")
    finally:
        server.stop()
