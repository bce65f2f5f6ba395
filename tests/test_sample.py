"""Tests for sample.py: the walks, the pictures, one sentence for each bad input.

A generator built but not trained and a few synthetic digits are enough for the
quick tests; the one marked slow runs the script on real MNIST in its own process.
"""

import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from keras import layers
from PIL import Image

import evaluate
import gan
import inputs
import sample
from conftest import (
    child_env,
    refusal,
    save_generator,
    save_model,
    stopped_with_ctrl_c,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PICTURES = sample.PICTURES


@pytest.fixture(scope="module")
def generator_path(tmp_path_factory):
    """A generator.keras of this GAN's shapes, untrained."""
    return save_generator(tmp_path_factory.mktemp("model") / "generator.keras")


@pytest.fixture(autouse=True)
def as_the_script(monkeypatch):
    """Errors name the script from sys.argv[0], as `python sample.py` sets it."""
    monkeypatch.setattr(sys, "argv", ["sample.py"])


@pytest.fixture(scope="module")
def mnist_file(tmp_path_factory):
    """A small mnist.npz: 120 random training digits."""
    path = tmp_path_factory.mktemp("data") / "mnist.npz"
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        np.savez(f, x_train=rng.integers(0, 256, (120, 28, 28), dtype=np.uint8))
    return str(path)


def pixels(folder):
    return [np.asarray(Image.open(os.path.join(folder, name))) for name in PICTURES]


def run_sample(folder, monkeypatch, argv):
    """sample.main(argv) run in a new folder; the three pictures' pixels."""
    os.mkdir(folder)
    monkeypatch.chdir(folder)
    sample.main(argv)
    return pixels(os.path.join(folder, gan.IMAGES_DIR))


# -----------------------------------------------------------------------------
# Interpolation: linear walks in z


def test_walks_start_and_end_at_their_ends_in_equal_steps():
    ends = evaluate.latent_points(6, seed=3)
    z = sample.walks(ends[:3], ends[3:], steps=5)
    assert z.shape == (3, 5, gan.LATENT_DIM)
    np.testing.assert_array_equal(z[:, 0], ends[:3])
    np.testing.assert_array_equal(z[:, -1], ends[3:])
    step = (ends[3:] - ends[:3]) / 4
    np.testing.assert_allclose(np.diff(z, axis=1), np.stack([step] * 4, 1), atol=1e-6)


def test_interpolation_rows_start_and_end_at_their_endpoints_images():
    keras.utils.set_random_seed(1)
    generator = gan.build_generator()
    ends = evaluate.latent_points(4, seed=4)
    z = sample.walks(ends[:2], ends[2:], steps=7)
    images = evaluate.images_from_noise(generator, z.reshape(-1, gan.LATENT_DIM))
    rows = images.reshape(2, 7, -1)
    ends_images = evaluate.images_from_noise(generator, ends)
    np.testing.assert_allclose(rows[:, 0], ends_images[:2], atol=1e-6)
    np.testing.assert_allclose(rows[:, -1], ends_images[2:], atol=1e-6)
    assert not np.allclose(rows[:, 0], rows[:, -1], atol=1e-3)  # they do move


# -----------------------------------------------------------------------------
# The three pictures


def test_three_pictures_and_the_same_seed_makes_the_same_ones(
    tmp_path, monkeypatch, capsys, generator_path, mnist_file
):
    argv = [generator_path, "--mnist-path", mnist_file, "--n", "3"]
    first = run_sample(tmp_path / "a", monkeypatch, argv)
    assert capsys.readouterr() == (
        # images/samples.png, images/interpolation.png, images/nearest.png
        f"Wrote {', '.join(os.path.join(gan.IMAGES_DIR, n) for n in PICTURES)}.\n",
        inputs.platform_line() + "\n",  # what it runs on, once the inputs are checked
    )
    again = run_sample(tmp_path / "b", monkeypatch, argv)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    folder = tmp_path / "a" / gan.IMAGES_DIR
    assert sorted(os.listdir(folder)) == sorted(PICTURES)  # nothing half-written
    assert all(os.path.getsize(folder / name) < 2**20 for name in PICTURES)
    # Another seed, another grid size: every picture changes, the grid by one column.
    other = run_sample(tmp_path / "c", monkeypatch, [*argv, "--n", "4", "--seed", "7"])
    for a, c in zip(first[1:], other[1:]):
        assert a.shape == c.shape and not np.array_equal(a, c)
    # The canvas is n images and n - 1 gaps wide, sample.SCALE screen pixels a pixel.
    for grid, n in [(first[0], 3), (other[0], 4)]:
        assert grid.shape[1] == (n * (28 + sample.GAP) - sample.GAP) * sample.SCALE


# -----------------------------------------------------------------------------
# Bad input: one sentence, with nothing printed before it


def error_of(argv, capsys):
    return refusal(sample.main, argv, capsys, "sample.py")


@pytest.mark.parametrize(
    "flags, says",
    [
        ("--n 0", "--n: must be at least 1, got 0"),
        ("--n abc", "--n: expected a whole number, got 'abc'"),
        ("--n 101", "--n: must be at most 100"),
        ("--seed -1", "--seed: must be at least 0, got -1"),
        ("--seed 1.5", "--seed: expected a whole number"),
        ("--colour", "unrecognized arguments: --colour"),
    ],
)
def test_a_bad_flag(flags, says, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert says in error_of(flags.split(), capsys)
    assert os.listdir(tmp_path) == []  # refused before anything was made


def test_a_missing_generator_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    message = error_of([], capsys)  # the default, saved_model/generator.keras
    assert f"generator file {evaluate.GENERATOR_PATH!r}" in message
    assert "No such file or directory" in message and "python gan.py" in message


def test_a_damaged_generator_file(tmp_path, monkeypatch, capsys, generator_path):
    monkeypatch.chdir(tmp_path)
    with open(generator_path, "rb") as f:
        half = f.read()[:5000]  # a copy cut short, as a killed download leaves it
    (tmp_path / "generator.keras").write_bytes(half)
    (tmp_path / "text.keras").write_text("not a model")
    for name in ("generator.keras", "text.keras"):
        assert "is damaged or not a Keras model" in error_of([name], capsys)


def test_a_generator_of_other_shapes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    wrong_in = save_model(
        tmp_path / "in.keras", 50, [layers.Dense(784), layers.Reshape((28, 28, 1))]
    )
    message = error_of([wrong_in], capsys)
    assert "maps (None, 50)" in message and f"(None, {gan.LATENT_DIM})" in message
    wrong_out = save_model(tmp_path / "out.keras", gan.LATENT_DIM, [layers.Dense(10)])
    message = error_of([wrong_out], capsys)
    assert "to (None, 10)" in message and "(None, 28, 28, 1) images" in message


def test_a_generator_whose_training_diverged(tmp_path, monkeypatch, capsys, mnist_file):
    monkeypatch.chdir(tmp_path)
    keras.utils.set_random_seed(0)
    generator = gan.build_generator()
    last = generator.layers[-2]  # the tanh Dense layer
    last.bias.assign(np.full(last.bias.shape, np.nan, "float32"))
    generator.save(tmp_path / "nan.keras")
    # Found while drawing, after the platform line: one sentence all the same.
    with pytest.raises(SystemExit, match="NaN or infinite pixels") as stop:
        sample.main(["nan.keras", "--mnist-path", mnist_file])
    assert "\n" not in stop.value.code


def test_an_output_folder_that_cannot_be_written(
    tmp_path, monkeypatch, capsys, generator_path
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / gan.IMAGES_DIR).write_text("a file where the folder should be")
    assert "cannot write to output folder" in error_of([generator_path], capsys)


def test_a_bad_mnist_file(tmp_path, monkeypatch, capsys, generator_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist.npz").write_text("not a zip")
    message = error_of([generator_path, "--mnist-path", "mnist.npz"], capsys)
    assert "MNIST file 'mnist.npz'" in message and "--mnist-path" in message


# -----------------------------------------------------------------------------
# The script itself, on real MNIST


@pytest.mark.slow
def test_the_script_on_real_mnist(tmp_path, generator_path, mnist_path):
    env = child_env(MNIST_PATH=mnist_path)  # on TensorFlow
    script = os.path.join(REPO, "sample.py")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, script, generator_path],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 120
    assert result.stdout.startswith(f"Wrote {gan.IMAGES_DIR}/samples.png")
    for name in PICTURES:
        assert 0 < os.path.getsize(tmp_path / gan.IMAGES_DIR / name) < 2**20
    bad = subprocess.run(
        [sys.executable, script, "--n", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and bad.stdout == ""
    assert bad.stderr.strip().splitlines()[-1].startswith("sample.py: error: ")
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_ctrl_c_says_its_files_are_whole(tmp_path, generator_path, mnist_path):
    # Stopped while it draws (the platform line comes after the checks, before the
    # pictures): a picture is there whole or not at all.
    status, out, err = stopped_with_ctrl_c(
        "sample.py", [generator_path], tmp_path, mnist_path, after="Keras ", wait=0
    )
    assert (status, out) == (130, "")  # 128 + SIGINT
    assert err[-1] == "sample.py: stopped; its files are whole"
    for name in os.listdir(tmp_path / gan.IMAGES_DIR):
        assert name in PICTURES
        Image.open(tmp_path / gan.IMAGES_DIR / name).load()
