"""The MNIST loader: right scaling on good files, one clear sentence on bad ones."""

import gzip

import keras
import numpy as np
import pytest

import gan
import inputs


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
    x = gan.load_images("mnist", write_npz(tmp_path / "m.npz", **arrays))
    assert x.shape == (10, 28, 28, 1)
    assert x.dtype == np.float32
    assert x[0, 0, 0, 0] == -1.0 and x[0, 0, 1, 0] == 1.0
    np.testing.assert_allclose(x[..., 0], arrays["x_train"] / 127.5 - 1, atol=1e-6)


def test_real_mnist_file(mnist_path):
    x = gan.load_images("mnist", mnist_path)
    assert x.shape == (60000, 28, 28, 1)
    assert x.min() == -1.0 and x.max() == 1.0
    # the shared file's documented pixel mean, 33.3184 on 0..255
    assert abs((x.mean() + 1) * 127.5 - 33.3184) < 1e-3


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: str(p / "absent.npz"), "cannot be read (No such file or directory)"),
        (lambda p: str(p), "cannot be read (Is a directory)"),
        (lambda p: gzipped(write_npz(p / "g.npz", **fake_mnist())), "gzip-compressed"),
        (lambda p: (p / "t.npz").write_text("not a zip") and str(p / "t.npz"), ".npz"),
        (
            lambda p: truncate(write_npz(p / "c.npz", **fake_mnist(200))),
            "not a readable .npz",
        ),
        (lambda p: write_npz(p / "k.npz", images=np.zeros((3, 28, 28))), "x_train"),
        (
            lambda p: write_npz(p / "s.npz", x_train=np.zeros((3, 32, 32), np.uint8)),
            "shape",
        ),
        (
            lambda p: write_npz(p / "d.npz", x_train=np.zeros((3, 28, 28), "float32")),
            "dtype",
        ),
        (
            lambda p: write_npz(p / "e.npz", x_train=np.zeros((0, 28, 28), np.uint8)),
            "shape",
        ),
    ],
    ids=[
        "missing",
        "folder",
        "gzip",
        "not-npz",
        "truncated",
        "wrong-keys",
        "wrong-shape",
        "dtype",
        "empty",
    ],
)
def test_bad_files_raise_one_sentence_naming_the_file(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(inputs.InputError) as error:
        gan.load_images("mnist", path)
    message = str(error.value)
    assert words in message
    assert path in message
    assert "\n" not in message


def gzipped(path):
    with open(path, "rb") as f:
        data = gzip.compress(f.read())
    with open(path, "wb") as f:
        f.write(data)
    return path


def test_an_unreadable_file_is_not_called_damaged(tmp_path, monkeypatch):
    path = write_npz(tmp_path / "m.npz", **fake_mnist())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inputs, "open", denied, raising=False)
    with pytest.raises(inputs.InputError) as error:
        gan.load_images("mnist", path)
    assert "cannot be read (Permission denied); make it readable" in str(error.value)
    assert "damaged" not in str(error.value)


def test_the_fix_names_the_flag_the_user_gave(tmp_path):
    missing = str(tmp_path / "absent.npz")
    with pytest.raises(inputs.InputError, match="fix --mnist-path$"):
        gan.load_images("mnist", missing, "--mnist-path")
    with pytest.raises(inputs.InputError, match="fix MNIST_PATH$"):
        gan.load_images("mnist", missing)


def test_a_relative_path_is_shown_with_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(inputs.InputError) as error:
        gan.load_images("mnist", "data/absent.npz")
    assert (
        f"'data/absent.npz' (in {tmp_path}) cannot be read (No such file or directory)"
        in str(error.value)
    )


def truncate(path):
    with open(path, "r+b") as f:
        f.truncate(len(f.read()) // 2)
    return path


def test_no_network_and_no_path_names_the_fix(monkeypatch):
    def offline():
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(inputs.InputError, match="MNIST_PATH"):
        gan.load_images("mnist", "")
