"""The hub over real HTTP, as `make demo` serves it: the digit classifier's API and its refusals."""

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from conftest import DATASETS, REPO_ROOT, digit_pictures

pytestmark = pytest.mark.skipif(not (REPO_ROOT / "pretrained" / "mnist-cnn" / "config.json").is_file(),
                                reason="no shipped mnist-cnn weights")


@pytest.fixture(scope="module")
def client(hub):
    return Client(hub.url, verbose=False)


def test_classifies_handwritten_digits(client, tmp_path):
    pictures = digit_pictures(tmp_path, DATASETS / "mnist")
    answers = [client.predict(handle_file(str(path)), api_name="/mnist_cnn_classify") for path, _ in pictures]
    correct = sum(answer["label"] == label for answer, (_, label) in zip(answers, pictures))
    assert correct >= len(pictures) - 1, [(a["label"], label) for a, (_, label) in zip(answers, pictures)]
    confidences = answers[0]["confidences"]
    assert len(confidences) == 3 and confidences[0]["confidence"] >= confidences[1]["confidence"]


def test_concurrent_requests_get_the_answers_of_single_requests(client, tmp_path):
    """Concurrent digits share forward passes on the server (plugins/batching.py); each gets its own answer."""
    pictures = digit_pictures(tmp_path, DATASETS / "mnist", count=8)
    alone = [client.predict(handle_file(str(path)), api_name="/mnist_cnn_classify") for path, _ in pictures]
    jobs = [client.submit(handle_file(str(path)), api_name="/mnist_cnn_classify") for path, _ in pictures]
    together = [job.result(timeout=120) for job in jobs]
    for one, many in zip(alone, together):
        assert one["label"] == many["label"]
        assert [entry["label"] for entry in one["confidences"]] == [entry["label"] for entry in many["confidences"]]
        np.testing.assert_allclose([entry["confidence"] for entry in many["confidences"]],
                                   [entry["confidence"] for entry in one["confidences"]], rtol=0, atol=1e-6)


def test_a_client_given_one_tls_context_classifies_too(hub, tmp_path):
    # the README's faster client (bench/bench_mnist.py --http): gradio_client hands `ssl_verify` on to
    # httpx's `verify`, which also takes a ready SSLContext (documented by httpx, not by gradio_client)
    import ssl

    import certifi

    client = Client(hub.url, verbose=False, ssl_verify=ssl.create_default_context(cafile=certifi.where()))
    (path, label), *_ = digit_pictures(tmp_path, DATASETS / "mnist", count=1)
    assert client.predict(handle_file(str(path)), api_name="/mnist_cnn_classify")["label"] == label


def test_explain_returns_the_model_input_and_feature_maps(client, tmp_path):
    (path, label), *_ = digit_pictures(tmp_path, DATASETS / "mnist", count=1)
    prediction, model_input, feature_maps = client.predict(handle_file(str(path)), "best (ours)",
                                                           api_name="/mnist_cnn_explain")
    assert prediction["label"] == label
    assert Image.open(model_input).size == (224, 224)  # the 28x28 input, enlarged 8 times
    assert Image.open(feature_maps).size[0] > 200


def test_lecture_model_is_offered_too(client, tmp_path):
    if not (REPO_ROOT / "pretrained" / "mnist-cnn-lecture-01a").is_dir():
        pytest.skip("lecture-01a weights not shipped")
    (path, label), *_ = digit_pictures(tmp_path, DATASETS / "mnist", count=1)
    assert client.predict(handle_file(str(path)), "lecture-01a", api_name="/mnist_cnn_classify")["label"] == label


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b"%PDF-1.7\n1 0 obj << >> endobj"), "not an image"),
    (lambda p: Image.new("L", (200, 200), 255).save(p), "blank"),
    (lambda p: Image.new("RGB", (60, 40), (200, 30, 30)).save(p), "blank"),
    (lambda p: Image.new("L", (5, 5), 0).save(p), "at least 8x8"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)), "not an image"),
])
def test_unusable_uploads_get_a_clear_message_and_the_server_keeps_serving(client, tmp_path, make, message):
    path = tmp_path / "upload.png"
    make(path)
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(path)), api_name="/mnist_cnn_classify")
    (good, label), *_ = digit_pictures(tmp_path, DATASETS / "mnist", count=1)
    assert client.predict(handle_file(str(good)), api_name="/mnist_cnn_classify")["label"] == label


def test_unknown_model_choice_is_refused(client, tmp_path):
    (path, _), *_ = digit_pictures(tmp_path, DATASETS / "mnist", count=1)
    with pytest.raises(AppError, match="Unknown model|not in the list of choices|choices"):
        client.predict(handle_file(str(path)), "a model that does not exist", api_name="/mnist_cnn_classify")


def test_uploads_over_the_size_limit_are_refused(client, tmp_path):
    path = tmp_path / "huge.png"
    noise = np.random.default_rng(0).integers(0, 256, (2400, 2400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)  # about 17 MB of incompressible pixels
    assert path.stat().st_size > 10 * 2**20
    with pytest.raises(Exception, match="(?i)file size|too large|exceed"):
        client.predict(handle_file(str(path)), api_name="/mnist_cnn_classify")


def test_the_hub_starts_on_its_shipped_weights_when_the_hub_stalls(hub):
    """The session's hub runs online against a Hub that accepts connections and never answers (conftest):
    every call has a deadline, the first miss sends every later folder straight to its shipped copy, and
    each tab says where its weights came from and why."""
    import json
    import urllib.request

    assert hub.start_seconds < 30, f"the hub took {hub.start_seconds:.0f} s to start against a stalled Hub"
    with urllib.request.urlopen(hub.url + "config", timeout=30) as response:
        page = json.dumps(json.load(response))
    assert "the copy shipped with the hub, pretrained/mnist-cnn" in page
    assert "the Hugging Face Hub did not answer within" in page
    assert "Traceback" not in page
