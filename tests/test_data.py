"""The MNIST loader: right scaling on good files, one clear sentence on bad ones, and
the line that says what was read."""

import gzip

import keras
import numpy as np
import pytest

import inputs
from helpers import loaded


def write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return str(path)


def fake_mnist(n=10):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    x[0, 0, 0], x[0, 0, 1] = 0, 255
    return dict(x_train=x, y_train=np.zeros(n, np.uint8))


def test_scales_pixels_to_minus_one_one_with_a_channel_axis(tmp_path):
    arrays = fake_mnist()
    x = loaded("mnist", MNIST_PATH=write_npz(tmp_path / "m.npz", **arrays))
    assert x.shape == (10, 28, 28, 1)
    assert x.dtype == np.float32
    assert x[0, 0, 0, 0] == -1.0 and x[0, 0, 1, 0] == 1.0
    np.testing.assert_allclose(x[..., 0], arrays["x_train"] / 127.5 - 1, atol=1e-6)


def test_real_mnist_file(mnist_path):
    x = loaded("mnist", MNIST_PATH=mnist_path)
    assert x.shape == (60000, 28, 28, 1)
    assert x.min() == -1.0 and x.max() == 1.0
    # the shared file's documented pixel mean, 33.3184 on 0..255
    assert abs((x.mean() + 1) * 127.5 - 33.3184) < 1e-3


def test_one_line_says_what_was_read(tmp_path):
    test = dict(x_test=fake_mnist(4)["x_train"], y_test=np.arange(4, dtype=np.uint8))
    path = write_npz(tmp_path / "m.npz", **fake_mnist(), **test)
    both = inputs.read_data("mnist", (28, 28, 1), path, ("train", "test"), True)
    assert inputs.describe("mnist", both) == (
        "Read 14 pictures from mnist at (28, 28, 1): 10 train, 4 test, 10 classes"
    )
    train = inputs.read_data("mnist", (14, 14, 3), path)  # what was asked, as fitted
    assert inputs.describe("mnist", train) == (
        "Read 10 pictures from mnist at (14, 14, 3): 10 train, 10 classes"
    )


BAD_FILES = {  # what m.npz holds (arrays, or bytes made from a good file's), and words
    "missing": (None, "cannot be read (No such file or directory)"),
    "folder": ("a folder", "cannot be read (Is a directory)"),
    "gzip": (gzip.compress, "gzip-compressed"),
    "not-npz": (lambda good: b"not a zip", "not an .npz (zip) file"),
    "truncated": (lambda good: good[: len(good) // 2], "not a readable .npz"),
    "wrong-keys": (dict(images=np.zeros((3, 28, 28))), "has no x_train"),
    "wrong-shape": (dict(x_train=np.zeros((3, 32, 32), np.uint8)), "shape (3, 32, 32)"),
    "dtype": (dict(x_train=np.zeros((3, 28, 28), "float32")), "dtype float32"),
    "empty": (dict(x_train=np.zeros((0, 28, 28), np.uint8)), "shape (0, 28, 28)"),
}


@pytest.mark.parametrize("holds, words", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_raise_one_sentence_naming_the_file(tmp_path, holds, words):
    path = tmp_path / "m.npz"
    if holds == "a folder":
        path.mkdir()
    elif isinstance(holds, dict):
        write_npz(path, **holds)
    elif holds:  # a function of a good file's bytes
        path.write_bytes(holds(open(write_npz(path, **fake_mnist(200)), "rb").read()))
    with pytest.raises(inputs.InputError) as error:
        loaded("mnist", MNIST_PATH=str(path))
    message = str(error.value)
    assert words in message and str(path) in message and "\n" not in message


def test_an_unreadable_file_is_not_called_damaged(tmp_path, monkeypatch):
    path = write_npz(tmp_path / "m.npz", **fake_mnist())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inputs, "open", denied, raising=False)
    with pytest.raises(inputs.InputError) as error:
        loaded("mnist", MNIST_PATH=path)
    assert "cannot be read (Permission denied); make it readable" in str(error.value)
    assert "damaged" not in str(error.value)


def test_a_relative_path_is_shown_with_its_folder_and_the_fix_names_the_flag(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(inputs.InputError) as error:
        loaded("mnist", MNIST_PATH="data/absent.npz")
    assert str(error.value) == (
        f"MNIST file 'data/absent.npz' (in {tmp_path}) cannot be read (No such file or "
        "directory); download it again or fix MNIST_PATH (--mnist-path)"
    )


def test_no_network_and_no_path_names_the_fix(monkeypatch):
    def offline():
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(inputs.InputError) as error:
        loaded("mnist", MNIST_PATH="")
    assert str(error.value) == (
        "could not download MNIST (no network?); set MNIST_PATH (--mnist-path) to a "
        "local mnist.npz in Keras's layout"
    )
