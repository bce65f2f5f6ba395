"""The MNIST loader: scaling, the line of what was read, one sentence per bad file."""

import gzip

import keras
import numpy as np
import pytest

import pictures
from helpers import denied, digits, loaded


def write_npz(path, **arrays):
    np.savez(path, **arrays)  # path ends in .npz: nothing appended
    return str(path)


def fake_mnist(n=10):
    x = digits(n)
    x[0, 0, 0], x[0, 0, 1] = 0, 255
    return dict(x_train=x, y_train=np.zeros(n, np.uint8))


def test_scales_pixels_to_minus_one_one_with_a_channel_axis(tmp_path):
    arrays = fake_mnist()
    x = loaded("mnist", MNIST_PATH=write_npz(tmp_path / "m.npz", **arrays))
    assert x.shape == (10, 28, 28, 1) and x.dtype == np.float32
    assert x[0, 0, 0, 0] == -1.0 and x[0, 0, 1, 0] == 1.0
    np.testing.assert_allclose(x[..., 0], arrays["x_train"] / 127.5 - 1, atol=1e-6)


def test_real_mnist_file(mnist_path):
    x = loaded("mnist", MNIST_PATH=mnist_path)
    assert x.shape == (60000, 28, 28, 1) and x.min() == -1.0 and x.max() == 1.0
    # the shared file's documented pixel mean, 33.3184 on 0..255
    assert abs((x.mean() + 1) * 127.5 - 33.3184) < 1e-3


def test_one_line_says_what_was_read(tmp_path):
    test = dict(x_test=fake_mnist(4)["x_train"], y_test=np.arange(4, dtype=np.uint8))
    path = write_npz(tmp_path / "m.npz", **fake_mnist(), **test)
    both = pictures.read_data("mnist", (28, 28, 1), path, ("train", "test"), True)
    read = "Read 14 pictures from mnist at (28, 28, 1): 10 train, 4 test, 10 classes"
    assert pictures.describe("mnist", both) == read
    train = pictures.read_data("mnist", (14, 14, 3), path)  # what was asked, as fitted
    assert pictures.describe("mnist", train) == (
        "Read 10 pictures from mnist at (14, 14, 3): 10 train, 10 classes"
    )


BAD_FILES = {  # what m.npz holds (arrays, or bytes made from a good file's), and words
    "missing": (None, "cannot be read (No such file or directory)"),
    "folder": ("a folder", "cannot be read (Is a directory)"),
    "unreadable": ("denied", "cannot be read (Permission denied); make it readable"),
    "gzip": (gzip.compress, "gzip-compressed"),
    "not-npz": (lambda good: b"not a zip", "not an .npz (zip) file"),
    "truncated": (lambda good: good[: len(good) // 2], "not a readable .npz"),
    "wrong-keys": (dict(images=np.zeros((3, 28, 28))), "has no x_train"),
    "wrong-shape": (dict(x_train=np.zeros((3, 32, 32), np.uint8)), "shape (3, 32, 32)"),
    "dtype": (dict(x_train=np.zeros((3, 28, 28), "float32")), "dtype float32"),
    "empty": (dict(x_train=np.zeros((0, 28, 28), np.uint8)), "shape (0, 28, 28)"),
}


@pytest.mark.parametrize("holds, words", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_are_one_sentence_naming_them(tmp_path, monkeypatch, holds, words):
    path = tmp_path / "m.npz"
    if holds == "a folder":
        path.mkdir()
    elif holds == "denied":
        write_npz(path, **fake_mnist())
        monkeypatch.setattr(pictures.inputs, "open", denied, raising=False)
    elif isinstance(holds, dict):
        write_npz(path, **holds)
    elif holds:  # a function of a good file's bytes
        path.write_bytes(holds(open(write_npz(path, **fake_mnist(200)), "rb").read()))
    with pytest.raises(pictures.InputError) as error:
        loaded("mnist", MNIST_PATH=str(path))
    message = str(error.value)
    assert words in message and str(path) in message and "\n" not in message
    assert holds != "denied" or "damaged" not in message  # unreadable is not damaged


NO_FILE = "MNIST file 'data/absent.npz' (in {cwd}) cannot be read (No such file or "
NO_FILE += "directory); download it again or fix MNIST_PATH (--mnist-path)"
OFFLINE = "could not download MNIST (no network?); set MNIST_PATH (--mnist-path) to a "
OFFLINE += "local mnist.npz in Keras's layout"


@pytest.mark.parametrize("path, fix", [("data/absent.npz", NO_FILE), ("", OFFLINE)])
def test_a_missing_file_or_network_names_the_fix(tmp_path, monkeypatch, path, fix):
    """A relative path is shown with its folder; the fix names the flag."""
    monkeypatch.chdir(tmp_path)

    def offline():
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(pictures.InputError) as error:
        loaded("mnist", MNIST_PATH=path)
    assert str(error.value) == fix.format(cwd=tmp_path)
