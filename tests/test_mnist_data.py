"""Reading MNIST: the IDX format, its checks, the fixed validation split, and the real files."""

import gzip
import struct

import numpy as np
import pytest

from plugins.errors import DataError
from plugins.mnist_cnn.data import IDX_FILES, load_mnist, read_idx


def write_idx(path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def make_mnist_folder(folder, train=100, test=20, compress=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (train, 28, 28)), "train_labels": rng.integers(0, 10, train),
        "test_images": rng.integers(0, 256, (test, 28, 28)), "test_labels": rng.integers(0, 10, test),
    }
    for key, stem in IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if compress else "")), arrays[key], compress)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("x.gz" if compress else "x")
    write_idx(path, array, compress)
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_rejects_wrong_magic_and_truncation(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"abc")
    with pytest.raises(DataError, match="promises 10"):
        read_idx(tmp_path / "short")


def test_local_folder_split_is_fixed_and_disjoint(tmp_path):
    arrays = make_mnist_folder(tmp_path, train=6000, compress=False)
    first, second = load_mnist(tmp_path), load_mnist(tmp_path)
    assert len(first.train) == 1000 and len(first.validation) == 5000 and len(first.test) == 20
    assert (first.validation.fields["pixel_values"] == second.validation.fields["pixel_values"]).all()
    train = {bytes(x) for x in (first.train.fields["pixel_values"] * 255).round().byte().numpy()}
    validation = {bytes(x) for x in (first.validation.fields["pixel_values"] * 255).round().byte().numpy()}
    assert not train & validation
    assert sorted(train | validation) == sorted(bytes(x[None]) for x in arrays["train_images"].astype(np.uint8))


def test_missing_data_names_both_ways(tmp_path, monkeypatch):
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path)
    assert "--data-dir" in str(caught.value) and "ylecun/mnist" in str(caught.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="HF_HUB_OFFLINE"):
        load_mnist(None)


def test_real_mnist(mnist_dir):
    data = load_mnist(mnist_dir)
    assert (len(data.train), len(data.validation), len(data.test)) == (55_000, 5_000, 10_000)
    labels = data.test.fields["labels"].numpy()
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    pixels = data.train.fields["pixel_values"]
    assert pixels.shape[1:] == (1, 28, 28) and 0.0 <= float(pixels.min()) and float(pixels.max()) == 1.0


def cut_short(data: bytes) -> bytes:
    compressed = gzip.compress(data)
    return compressed[: len(compressed) // 2]


def flip_deflate_bytes(data: bytes) -> bytes:
    compressed = bytearray(gzip.compress(data))
    compressed[20:40] = bytes(byte ^ 0xFF for byte in compressed[20:40])
    return bytes(compressed)


# Each turns the uncompressed bytes of a good train-images file into what lands on disk as the .gz file.
DAMAGED_GZ = {
    "gzip cut short": cut_short,
    "not gzip at all": lambda data: data,
    "deflate stream corrupt": flip_deflate_bytes,
    "IDX header cut short": lambda data: gzip.compress(data[:10]),
    "wrong IDX magic": lambda data: gzip.compress(b"\x00\x00\x0d" + data[3:]),
    "fewer bytes than the header promises": lambda data: gzip.compress(data[:-5]),
    "images of the wrong size": lambda data: gzip.compress(
        bytes([0, 0, 8, 3]) + struct.pack(">3I", 100, 27, 28) + data[16:16 + 100 * 27 * 28]),
}


@pytest.mark.parametrize("damage", DAMAGED_GZ)
def test_a_damaged_gz_file_is_one_line_naming_it(tmp_path, damage, capsys):
    """Through the loader and through `train.py`: a DataError naming the file, exit code 2, no traceback."""
    import train

    make_mnist_folder(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(DAMAGED_GZ[damage](gzip.decompress(path.read_bytes())))
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)

    capsys.readouterr()
    code = train.main(["mnist-cnn", "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines() == [f"error: {caught.value}"], err[-2000:]
