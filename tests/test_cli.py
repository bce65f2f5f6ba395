"""Flags override the constants; bad input stops before training with one sentence."""

import pytest

import gan
from conftest import run_gan


def main_error(argv, capsys):
    """Runs gan.main(argv) expecting an early exit; returns (status, message)."""
    with pytest.raises(SystemExit) as stop:
        gan.main(argv)
    code = stop.value.code
    if isinstance(code, str):  # sys.exit("message"): status 1, message on stderr
        return 1, code
    return code, capsys.readouterr().err


def test_flags_override_the_constants():
    args = gan.parse_args(
        "--iterations 7 --batch-size 3 --sample-interval 2 --seed 9 "
        "--checkpoint-interval 4 --mnist-path m.npz --resume".split()
    )
    assert (args.iterations, args.batch_size, args.sample_interval) == (7, 3, 2)
    assert (args.seed, args.checkpoint_interval, args.resume) == (9, 4, True)
    assert args.mnist_path == "m.npz"


def test_defaults_are_the_constants(monkeypatch):
    monkeypatch.setattr(gan, "BATCH_SIZE", 64)
    args = gan.parse_args([])
    assert (args.iterations, args.sample_interval, args.batch_size) == (30001, 500, 64)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--iterations", "-5"], "--iterations: must be at least 1"),
        (["--iterations", "many"], "--iterations: expected a whole number"),
        (["--iterations", "1.5"], "--iterations: expected a whole number"),
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--sample-interval", "0"], "--sample-interval: must be at least 1"),
        (["--checkpoint-interval", "0"], "--checkpoint-interval: must be at least 1"),
        (["--seed", "-1"], "--seed: must be at least 0"),
    ],
)
def test_nonsense_flags_are_refused(argv, words, capsys):
    status, message = main_error(argv, capsys)
    assert status != 0
    assert words in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    "name, value",
    [
        ("ITERATIONS", 0),
        ("BATCH_SIZE", -3),
        ("SAMPLE_INTERVAL", 2.5),
        ("LATENT_DIM", 0),
        ("LEARNING_RATE", -1.0),
        ("BETA_1", 1.5),
    ],
)
def test_nonsense_constants_are_refused(monkeypatch, capsys, name, value):
    monkeypatch.setattr(gan, name, value)
    status, message = main_error([], capsys)
    assert status == 1
    assert name in message and repr(value) in message


def test_unwritable_output_folder_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "images").write_text("a file where the folder should be")
    monkeypatch.chdir(tmp_path)
    status, message = main_error([], capsys)
    assert status == 1
    assert "cannot write to output folder 'images'" in message


def test_bad_data_file_exits_with_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    result = run_gan(["--iterations", "3"], tmp_path, mnist=str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gan.py: error: MNIST file") and str(bad) in last
    assert result.stdout == ""  # nothing trained
    assert not (tmp_path / "saved_model" / "generator.keras").exists()
