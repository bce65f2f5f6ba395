"""Flags override the constants; bad input stops before training with one sentence."""

import errno
import os

import pytest

import gan
import inputs
from conftest import refusal, run_gan


@pytest.fixture
def no_training(tmp_path, monkeypatch):
    """A scratch folder, and a loud failure should a broken check let training start."""
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        pytest.fail("training started despite bad input")

    monkeypatch.setattr(gan, "load_images", refuse)
    monkeypatch.setattr(gan, "train", refuse)
    return tmp_path


def main_error(argv, capsys):
    return refusal(gan.main, argv, capsys, "gan.py")


def test_flags_override_the_constants(monkeypatch):
    monkeypatch.setattr(gan, "MNIST_PATH", "")
    args = inputs.parse_args(
        vars(gan),
        "--iterations 7 --batch-size 3 --sample-interval 2 --seed 0 "
        "--checkpoint-interval 4 --mnist-path m.npz --resume".split(),
    )
    config = inputs.run_config(vars(gan), args)
    assert (config["ITERATIONS"], config["BATCH_SIZE"]) == (7, 3)
    assert (config["SAMPLE_INTERVAL"], config["CHECKPOINT_INTERVAL"]) == (2, 4)
    assert config["SEED"] == 0  # a falsy flag still overrides
    assert config["MNIST_PATH"] == "m.npz" and args.resume


def test_defaults_are_the_constants_read_when_the_run_starts(monkeypatch):
    monkeypatch.setattr(gan, "BATCH_SIZE", gan.BATCH_SIZE + 1)  # a user's edit
    config = inputs.run_config(vars(gan), inputs.parse_args(vars(gan), []))
    constants = {k: v for k, v in vars(gan).items() if k.isupper()}
    assert config == constants and "LEARNING_RATE" in config


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--iterations", "-5"], "--iterations: must be at least 1"),
        (["--iterations", "many"], "--iterations: expected a whole number"),
        (["--iterations", "1.5"], "--iterations: expected a whole number"),
        (["--iterations", str(10**12 + 1)], "--iterations: must be at most"),
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--sample-interval", "0"], "--sample-interval: must be at least 1"),
        (["--checkpoint-interval", "0"], "--checkpoint-interval: must be at least 1"),
        (["--seed", "-1"], "--seed: must be at least 0"),
        (["--seed", "4294967296"], "--seed: must be at most 4294967295"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_nonsense_flags_are_refused_with_one_sentence(argv, words, capsys):
    message = main_error(argv, capsys)
    assert words in message
    assert len(message.strip().splitlines()) == 1  # no usage block, no traceback


@pytest.mark.parametrize(
    "name, value",
    [
        ("ITERATIONS", 0),
        ("BATCH_SIZE", -3),
        ("SAMPLE_INTERVAL", 2.5),
        ("LATENT_DIM", 0),
        ("SEED", 2**32),
        ("LEARNING_RATE", -1.0),
        ("LEARNING_RATE", float("nan")),
        ("BETA_1", 1.5),
        ("GRID_ROWS", 0),
        ("IMG_SHAPE", (28, 28, 2)),
        ("IMG_SHAPE", (28, 28, 4)),
        ("IMG_SHAPE", (0, 28, 1)),
        ("IMG_SHAPE", (28, 28)),
        ("DATA", "mnsit"),
        ("DATA", "no/such/folder"),
    ],
)
def test_nonsense_constants_are_refused(no_training, monkeypatch, capsys, name, value):
    monkeypatch.setattr(gan, name, value)
    message = main_error([], capsys)
    assert name in message and repr(value) in message


def test_a_batch_larger_than_the_data_is_refused_before_training(
    no_training, monkeypatch, capsys
):
    monkeypatch.setattr(gan, "load_images", lambda *a: [0] * 64)
    message = main_error(["--batch-size", "100000000"], capsys)
    assert (
        "BATCH_SIZE (--batch-size) must be at most 64, the number of training"
        in message
    )


def test_resume_and_start_over_together_are_refused(no_training, capsys):
    message = main_error(["--resume", "--start-over"], capsys)
    assert "argument --start-over: not allowed with argument --resume" in message


def test_unwritable_output_folder_is_refused(no_training, capsys):
    (no_training / gan.IMAGES_DIR).write_text("a file where the folder should be")
    message = main_error([], capsys)
    assert f"cannot write to output folder {gan.IMAGES_DIR!r}" in message
    assert str(no_training) in message  # a relative path, with where it resolved


def test_a_full_output_folder_is_refused(no_training, monkeypatch, capsys):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(inputs.tempfile, "TemporaryFile", full_disk)
    message = main_error([], capsys)
    assert f"cannot write to output folder {gan.IMAGES_DIR!r}" in message
    assert "(No space left on device); make it writable, free some space" in message


@pytest.mark.slow
def test_bad_data_file_exits_with_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    result = run_gan(["--iterations", "3"], tmp_path, mnist=str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gan.py: error: MNIST file") and str(bad) in last
    assert "MNIST_PATH" in last  # where the path came from: the fix names it
    assert result.stdout == ""  # nothing trained
    assert not (tmp_path / gan.MODEL_DIR / "generator.keras").exists()
