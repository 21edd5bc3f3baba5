"""Bounded attacks on a running hub, over real HTTP on loopback, as a stranger on the internet could send them.

Each attack is count- and time-limited. After each one the hub must still answer a
stranger's digit request: an attack that wedges or crashes it fails the test.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import REPO_ROOT, HubServer, clean_env
from hub_api import (COMPOSER_MODEL, DIGIT_MODEL, MELODY_MODEL, STYLE_MODEL, Api, assert_refused, assert_still_serving,
                     bomb, control_change_flood, drawn_one, hub_folder, png, rss_bytes)

pytestmark = pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "mnist-cnn" / "config.json").is_file(),
                                reason="no shipped mnist-cnn weights")


@pytest.fixture(scope="module")
def api(hub):
    return Api(hub.url)


# -------------------------------------------------------------------- server files are never read
FILE_ENDPOINTS = [
    ("mnist_cnn_classify", lambda ref: [ref, DIGIT_MODEL]),
    ("mnist_cnn_explain", lambda ref: [ref, DIGIT_MODEL]),
    ("mnist_cnn_explain_drawing", lambda ref: [{"background": None, "layers": [], "composite": ref}, DIGIT_MODEL]),
    ("font_style_classify", lambda ref: [ref, STYLE_MODEL]),
    ("font_style_explain", lambda ref: [ref, STYLE_MODEL]),
    ("font_style_explain_drawing", lambda ref: [{"background": ref, "layers": [ref], "composite": ref}, STYLE_MODEL]),
    ("lstm_composer_compose", lambda ref: [COMPOSER_MODEL, "greedy", 1.0, 0, 0.95, 4, 16, 0, "upload", None, ref,
                                           "Acoustic Grand Piano", 100, 1.2, 12, ""]),
    ("melody_vae_interpolate", lambda ref: [MELODY_MODEL, None, ref, None, ref, 3, "slerp", "", ""]),
]
MIDI_ENDPOINTS = {"lstm_composer_compose", "melody_vae_interpolate"}  # file inputs that take MIDI, not pictures


@pytest.mark.parametrize(("endpoint", "arguments"), FILE_ENDPOINTS, ids=[name for name, _ in FILE_ENDPOINTS])
@pytest.mark.parametrize("reference", [
    {"path": str(REPO_ROOT / "docs" / "hub.png")},  # a server file, without Gradio's meta (the old hole)
    {"path": str(REPO_ROOT / "docs" / "hub.png"), "meta": {"_type": "gradio.FileData"}},
    {"path": "../../../../../../etc/passwd", "meta": {"_type": "gradio.FileData"}},
    {"url": "http://127.0.0.1:9/digit.png", "meta": {"_type": "gradio.FileData"}},
    str(REPO_ROOT / "docs" / "hub.png"),
], ids=["no-meta", "with-meta", "traversal", "url", "bare-string"])
def test_files_the_hub_did_not_receive_as_uploads_are_refused(api, endpoint, arguments, reference):
    message = assert_refused(api.call(endpoint, arguments(reference)), "upload")
    assert "Traceback" not in message


def test_pipes_devices_and_proc_entries_never_block_a_worker(api, tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    upload_folder = hub_folder(api) / "gradio"
    planted = upload_folder / "planted-pipe.png"  # even a pipe inside the upload folder itself
    os.mkfifo(planted)
    try:
        paths = [str(fifo), str(planted), "/proc/self/fd/0", "/proc/self/fd/1", "/dev/zero", "/dev/stdin",
                 "/proc/self/environ", "/dev/urandom", str(planted), str(fifo)]
        events = []
        for path in paths:  # more than the light tabs' eight workers
            response = api.submit("mnist_cnn_classify", [{"path": path, "meta": {"_type": "gradio.FileData"}},
                                                         DIGIT_MODEL])
            events.append(response.json()["event_id"])
        for event_id in events:
            assert_refused(api.result("mnist_cnn_classify", event_id), "upload")
        assert_still_serving(api)
    finally:
        planted.unlink()


def test_a_link_planted_in_the_upload_folder_is_not_followed(api):
    link = hub_folder(api) / "gradio" / "planted-link.png"
    link.symlink_to(REPO_ROOT / "docs" / "hub.png")
    try:
        assert_refused(api.call("mnist_cnn_classify", [{"path": str(link)}, DIGIT_MODEL]), "upload")
    finally:
        link.unlink()


# -------------------------------------------------------------------- image bombs
@pytest.mark.parametrize(("endpoint", "arguments"), [case for case in FILE_ENDPOINTS if case[0] not in MIDI_ENDPOINTS],
                         ids=[name for name, _ in FILE_ENDPOINTS if name not in MIDI_ENDPOINTS])
def test_image_bombs_are_refused_from_their_header_without_growing_the_server(hub, api, endpoint, arguments):
    reference = api.upload("bomb.png", bomb(12000))
    before = rss_bytes(hub.process.pid)
    assert_refused(api.call(endpoint, arguments(reference)), "limit is 4096 pixels per side")
    assert rss_bytes(hub.process.pid) - before < 100 * 2**20  # decoding it would take 550 MB
    assert_still_serving(api)


def test_a_data_url_beside_an_uploaded_path_is_refused(api):
    import base64

    reference = api.upload("one.png", drawn_one())
    reference["url"] = "data:image/png;base64," + base64.b64encode(bomb(12000)).decode()  # Gradio decodes it first
    drawing = {"background": None, "layers": [], "composite": reference}
    assert_refused(api.call("mnist_cnn_explain_drawing", [drawing, DIGIT_MODEL]), "data URL")
    assert_still_serving(api)


def test_an_image_just_over_the_side_limit_is_refused_with_its_size(api):
    wide = api.upload("wide.png", png(Image.new("L", (4100, 10), 255)))
    assert_refused(api.call("mnist_cnn_classify", [wide, DIGIT_MODEL]), "4100x10 pixels")


def test_files_that_only_claim_to_be_images_are_refused(api):
    for name, data in [("fake.png", b"%PDF-1.7 not an image"), ("eps.png", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox")]:
        assert_refused(api.call("font_style_classify", [api.upload(name, data), STYLE_MODEL]), "not an image")


# -------------------------------------------------------------------- disk
def test_a_composition_is_kept_once_inside_the_swept_folder(api):
    folder = hub_folder(api)
    kind, (wav, midi, roll, notes) = api.call("lstm_composer_compose", [
        COMPOSER_MODEL, "greedy", 1.0, 0, 0.95, 4, 64, 12345, "random", None, None, "Acoustic Grand Piano", 100,
        1.2, 12, ""])
    assert kind == "complete"
    copies = [path for path in folder.rglob("lstm-composer-seed12345.wav")]
    assert len(copies) == 1 and Path(wav["path"]) == copies[0]
    assert Path(midi["path"]).is_relative_to(folder)


def test_the_sweeper_removes_old_files_and_keeps_the_folder_under_its_budget(tmp_path):
    from plugins.tempfiles import HubTempFolder

    folder = HubTempFolder(tmp_path, budget_bytes=3 * 2**20, max_age=600)
    now = time.time()
    files = []
    for index, age in enumerate([3600, 300, 200, 100, 0]):  # one stale file, then four 1 MB files
        path = folder.gradio / f"file{index}.bin"
        path.write_bytes(bytes(2**20))
        os.utime(path, (now - age, now - age))
        files.append(path)
    folder.sweep()
    assert [path.exists() for path in files] == [False, False, True, True, True]
    assert folder.usage() <= 3 * 2**20
    folder.remove()
    assert not folder.path.exists()


def test_small_uploads_sweep_the_folder_once_a_second_and_large_ones_at_every_sixteenth_of_the_budget(
        tmp_path, monkeypatch):
    """Every upload used to walk the whole folder in the event loop. Now a burst of small uploads sweeps once,
    the next one a second later sweeps again, and large uploads sweep as soon as they add up to a sixteenth of
    the budget, so a flood cannot push the folder far past it."""
    from plugins import tempfiles

    folder = tempfiles.HubTempFolder(tmp_path, budget_bytes=2**20, max_age=600)
    over = [folder.gradio / f"over{index}.bin" for index in range(3)]

    def fill():
        for path in over:
            path.write_bytes(bytes(2**20))

    fill()
    assert folder.sweep_before_upload(100) > 0 and folder.usage() <= 2**20
    fill()
    assert folder.sweep_before_upload(100) == 0, "a burst of small uploads sweeps once"
    assert folder.sweep_before_upload(2**20 // 16) > 0 and folder.usage() <= 2**20, "a sixteenth of the budget"
    fill()
    assert folder.sweep_before_upload(100) == 0
    clock = time.time()
    monkeypatch.setattr(tempfiles.time, "time", lambda: clock + tempfiles.UPLOAD_SWEEP_INTERVAL + 0.1)
    assert folder.sweep_before_upload(100) > 0 and folder.usage() <= 2**20
    folder.remove()


# -------------------------------------------------------------------- fair use
def test_a_few_clients_cannot_fill_the_queue_for_a_stranger(api, hub):
    flood = [COMPOSER_MODEL, "sample", 1.0, 0, 0.95, 4, 512, 0, "random", None, None, "Acoustic Grand Piano", 100,
             1.2, 12, ""]
    refused = {}
    for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"):
        attacker = Api(hub.url, address)
        codes = [attacker.submit("lstm_composer_compose", flood).status_code for _ in range(12)]
        refused[address] = codes.count(503)
        assert codes[:8] == [200] * 8, codes  # a visitor's own first requests all get in
    assert all(count >= 1 for count in refused.values()), refused  # 12 at once is more than one visitor may have
    stranger = Api(hub.url, "127.0.0.6")
    for _ in range(6):
        assert_still_serving(stranger)


def test_request_bodies_and_uploads_are_bounded(api, hub):
    folder = hub_folder(api)
    response = api.http.post(f"{api.url}/gradio_api/upload",
                             files=[("files", (f"flood{index}.bin", os.urandom(2**20))) for index in range(200)])
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    response = api.http.post(f"{api.url}/gradio_api/upload",
                             files=[("files", (f"flood{index}.bin", b"x" * 100)) for index in range(50)])
    assert response.status_code == 413 and "files" in response.json()["detail"]
    assert not list(folder.rglob("flood*.bin")), "nothing of a refused upload is kept"
    response = api.submit("mnist_cnn_classify", '{"data": ["' + "a" * (2 * 2**20) + '"]}')
    assert response.status_code == 413
    chunked = api.http.post(f"{api.url}/gradio_api/call/mnist_cnn_classify", content=iter([b'{"data": []}']),
                            headers={"content-type": "application/json"})
    assert chunked.status_code == 411
    assert_still_serving(api)


def test_the_hub_shows_strangers_no_traffic_monitoring(api):
    """Gradio's monitoring pages would show anyone every endpoint's request counts and timings (the summary
    route has no key); the hub turns them off."""
    for path in ("/monitoring/summary", "/gradio_api/monitoring"):
        response = api.http.get(f"{api.url}{path}")
        assert response.status_code in (403, 404), (path, response.status_code, response.text[:200])
        assert "process_time" not in response.text


# -------------------------------------------------------------------- malformed requests
@pytest.mark.parametrize(("body", "phrase"), [
    ('{"data": [null, "best (ours)"]}', "No image"),
    ('{"data": [{"path": 5}, "best (ours)"]}', "must be a file uploaded"),
    ('{"data": [[1, 2, 3], "best (ours)"]}', "upload"),
    ('{"data": [null]}', "takes 2 inputs"),
    ('{"data": [null, 7]}', "must be text"),
], ids=["no-image", "path-not-text", "list-for-a-file", "missing-argument", "number-for-a-choice"])
def test_malformed_digit_requests_get_a_sentence(api, body, phrase):
    assert_refused(api.call("mnist_cnn_classify", body), phrase)


@pytest.mark.parametrize(("position", "value", "phrase"), [
    (2, '"hot"', "must be a number"), (7, "NaN", "finite"), (7, "Infinity", "finite"), (6, "[64]", "must be a number"),
    (6, "true", "must be a number"), (1, "3", "must be text"), (10, '"/etc/passwd"', "uploaded file"),
    (13, '"strong"', "must be a number"), (14, "2", "at least 3"), (15, "60", "must be text"),
    (15, '"C4 H4"', "is not a note"), (15, '"' + "C4 " * 65 + '"', "at most 64"),
], ids=["text-for-a-slider", "nan-seed", "infinite-seed", "list-for-a-length", "bool-for-a-length",
        "number-for-a-strategy", "path-for-a-file", "text-for-a-penalty", "too-short-n-grams", "number-for-a-melody",
        "bad-note-in-a-melody", "too-long-a-melody"])
def test_wrong_types_for_the_composer_get_a_sentence_and_no_traceback(api, hub, position, value, phrase):
    arguments = [f'"{COMPOSER_MODEL}"', '"greedy"', "1.0", "0", "0.95", "4", "16", "0", '"random"', "null", "null",
                 '"Acoustic Grand Piano"', "100", "1.2", "12", '""']
    arguments[position] = value
    assert_refused(api.call("lstm_composer_compose", '{"data": [' + ", ".join(arguments) + "]}"), phrase)
    assert "Traceback" not in hub.log.read_text()[-20000:]


def test_a_midi_flood_as_primer_is_refused_with_a_message(api):
    reference = api.upload("flood.mid", control_change_flood())
    assert_refused(api.call("lstm_composer_compose", [COMPOSER_MODEL, "greedy", 1.0, 0, 0.95, 4, 16, 0, "upload", None,
                                                      reference, "Acoustic Grand Piano", 100, 1.2, 12, ""]),
                   "too many", "at most", "MB")
    assert_still_serving(api)


# -------------------------------------------------------------------- disk and shutdown
def test_sigterm_removes_the_hubs_files_and_a_new_hub_removes_stale_ones(tmp_path):
    stale = tmp_path / "dsl-hub-999999999-leftover"  # a pid no process can have
    (stale / "gradio").mkdir(parents=True)
    (stale / "gradio" / "old.wav").write_bytes(b"RIFF" + bytes(1000))
    server = HubServer(REPO_ROOT / "spaces" / "mnist-cnn" / "app.py", clean_env(TMPDIR=str(tmp_path)),
                       tmp_path / "server.log")
    try:
        api = Api(server.url)
        assert_still_serving(api)
        assert not stale.exists()
        own = [path for path in tmp_path.glob("dsl-hub-*")]
        assert len(own) == 1 and any(own[0].rglob("one.png"))
    finally:
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
    assert not own[0].exists(), "SIGTERM must leave no files behind"
