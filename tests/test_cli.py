"""Flags override the constants; bad input stops before training with one sentence."""

import errno
import os

import pytest

import gan
import inputs
from helpers import GAN, errors, refusal, run


def test_flags_override_the_constants_for_one_run(monkeypatch):
    monkeypatch.setattr(gan, "BATCH_SIZE", gan.BATCH_SIZE + 1)  # a user's edit
    edited = {k: v for k, v in vars(gan).items() if k.isupper()}
    flags = "--iterations 7 --batch-size 3 --sample-interval 2 --seed 0 "
    flags += "--checkpoint-interval 4 --mnist-path m.npz --resume"
    with inputs.settings_for_run(vars(gan), flags.split()):
        assert (gan.ITERATIONS, gan.BATCH_SIZE) == (7, 3)
        assert (gan.SAMPLE_INTERVAL, gan.CHECKPOINT_INTERVAL) == (2, 4)
        assert gan.SEED == 0  # a falsy flag still overrides
        assert gan.MNIST_PATH == "m.npz" and gan.RESUME
    assert {k: v for k, v in vars(gan).items() if k.isupper()} == edited
    with inputs.settings_for_run(vars(gan), []):
        assert {k: v for k, v in vars(gan).items() if k.isupper()} == edited


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def constant(name, value):  # an edited constant: its sentence names it and its value
    return [], {f"gan.{name}": value}, [name, repr(value)]


NOT_A_FOLDER, UNWRITABLE = "a file, not a folder", "cannot write to output folder"
READ, A_FILE = ([0] * 64, "Read 64"), f"{UNWRITABLE} {NOT_A_FOLDER!r} (in {{cwd}})"
AT_MOST_64 = "BATCH_SIZE (--batch-size) must be at most 64, the number of training"
FULL_DISK = f"{UNWRITABLE} {gan.IMAGES_DIR!r} (in {{cwd}}) (No space left on device); "
FULL_DISK += "make it writable, free some space"
EDITED = [("ITERATIONS", 0), ("BATCH_SIZE", -3), ("SAMPLE_INTERVAL", 2.5)]
EDITED += [("SEED", 2**32), ("LATENT_DIM", 0), ("BETA_1", 1.5), ("GRID_ROWS", 0)]
EDITED += [("LEARNING_RATE", -1.0), ("LEARNING_RATE", float("nan"))]
EDITED += [("DATA", "mnsit"), ("DATA", "no/such/folder")]
EDITED += [("IMG_SHAPE", s) for s in [(28, 28, 2), (28, 28, 4), (0, 28, 1), (28, 28)]]
REFUSALS = [  # (flags, what is patched first, words of the one sentence)
    (["--iterations", "-5"], {}, ["ITERATIONS (--iterations) must be at least 1"]),
    (["--iterations", "many"], {}, ["--iterations: invalid int value: 'many'"]),
    (["--iterations", "1.5"], {}, ["--iterations: invalid int value: '1.5'"]),
    (["--iterations", str(10**12 + 1)], {}, ["(--iterations) must be at most"]),
    (["--batch-size", "0"], {}, ["BATCH_SIZE (--batch-size) must be at least 1"]),
    (["--sample-interval", "0"], {}, ["(--sample-interval) must be at least 1"]),
    (["--checkpoint-interval", "0"], {}, ["(--checkpoint-interval) must be at least"]),
    (["--seed", "-1"], {}, ["SEED (--seed) must be at least 0"]),
    (["--seed", "4294967296"], {}, ["(--seed) must be at most 4294967295"]),
    ([], {"gan.RESUME": True, "gan.START_OVER": True}, ["RESUME and START_OVER"]),
    (["--no-such-flag"], {}, ["unrecognized arguments: --no-such-flag"]),
    (["--resume", "--start-over"], {}, ["--start-over: not allowed with argument"]),
    *[constant(*edited) for edited in EDITED],  # an edited constant
    (["--batch-size", "100000000"], {"gan.load_images": lambda: READ}, [AT_MOST_64]),
    ([], {"gan.IMAGES_DIR": NOT_A_FOLDER}, [A_FILE]),
    ([], {"inputs.tempfile.TemporaryFile": full_disk}, [FULL_DISK]),
]


@pytest.mark.parametrize("argv, patches, words", REFUSALS)
def test_bad_input_is_refused_in_one_sentence_before_anything_starts(
    argv, patches, words, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / NOT_A_FOLDER).write_text("")

    def refuse(*args, **kwargs):
        pytest.fail("training started despite bad input")

    monkeypatch.setattr(gan, "load_images", refuse)
    monkeypatch.setattr(gan, "train", refuse)
    for target, value in patches.items():
        monkeypatch.setattr(target, value)
    message = refusal(gan.main, argv, capsys, "gan.py")
    for fragment in words:
        assert fragment.format(cwd=tmp_path) in message


@pytest.mark.slow
def test_bad_data_file_exits_with_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    result = run(GAN, ["--iterations", "3"], tmp_path, MNIST_PATH=str(bad))
    assert (result.returncode, result.stdout) == (1, "")  # nothing trained
    (line,) = errors(result.stderr)
    assert line.startswith("gan.py: error: MNIST file") and str(bad) in line
    assert "MNIST_PATH" in line  # where the path came from: the fix names it
    assert not (tmp_path / gan.MODEL_DIR / "generator.keras").exists()
