"""Your own images (Fashion-MNIST, folders in grey or colour) through every script."""

import os
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import evaluate
import gan
import inputs
import pictures
import safekeeping
import sample
from helpers import CHECKPOINT, GAN, csv_rows, digits, loaded, log_lines, refusal, run
from helpers import save_generator, write_pictures


def colour_pictures(n, height=12, width=16):
    """n colour pictures: each a red, green or blue field with one white row."""
    rng = np.random.default_rng(5)
    images = np.zeros((n, height, width, 3), np.uint8)
    for i, image in enumerate(images):
        image[..., i % 3] = 200
        image[rng.integers(height)] = 255
    return images


# Reading: any source, one reader ------------------------------------------------------
def test_a_folder_reads_as_the_npz_does_fitted_transparency_on_black(tmp_path):
    images, npz = digits(40), tmp_path / "m.npz"
    np.savez(npz, x_train=images)
    from_folder = loaded(write_pictures(tmp_path / "pictures", images))
    np.testing.assert_array_equal(from_folder, loaded("mnist", MNIST_PATH=str(npz)))
    assert from_folder.shape == (40, 28, 28, 1) and from_folder.dtype == np.float32
    folder = write_pictures(tmp_path / "c", colour_pictures(6), suffix=".jpg")
    grey = pictures.read_data(folder, (20, 10, 1))["x_train"]
    assert grey.shape == (6, 20, 10, 1) and grey.dtype == np.uint8
    colour = pictures.read_data(folder, (12, 16, 3))["x_train"]
    assert colour.shape == (6, 12, 16, 3)
    assert colour[0, ..., 0].mean() > 100 > colour[0, ..., 2].mean()  # red stays red
    # White on a transparent white background (RGBA, LA, palette): white on black.
    ink = np.zeros((28, 28), np.uint8)
    ink[6:22, 12:16] = 255  # where the picture is opaque
    white, folder = np.full_like(ink, 255), tmp_path / "t"
    write_pictures(folder, [np.dstack([white] * 3 + [ink]), np.dstack([white, ink])])
    palette = Image.frombytes("P", (28, 28), (ink < 255).astype(np.uint8).tobytes())
    palette.putpalette([255] * 6)  # 0: stroke, 1: background, both white
    palette.save(folder / "2.png", transparency=1)
    for channels in (1, 3):
        x = pictures.read_data(str(folder), (28, 28, channels))["x_train"]
        assert x.shape == (3, 28, 28, channels) and (x == ink[..., None]).all()


def test_classes_splits_and_the_line_that_says_what_was_read(tmp_path):
    images, labels = digits(30), np.array(["cat", "dog", "emu"] * 10)
    folder = str(tmp_path / "d")
    write_pictures(tmp_path / "d" / "train", images[:24], labels[:24])
    write_pictures(tmp_path / "d" / "test", images[24:], labels[24:], ".bmp")
    for skipped in ("notes.txt", ".DS_Store", "train/cat/._00000.png"):
        (tmp_path / "d" / skipped).write_bytes(b"\0\0")  # not pictures: skipped
    data = pictures.read_data(folder, (28, 28, 1), splits=("train", "test"))
    read = f"Read 30 pictures from {folder!r} at (28, 28, 1): 24 train, 6 test, 3 "
    read += "classes (skipped 3 files that are not pictures)"
    assert pictures.describe(folder, data) == read
    assert data["classes"] == ["cat", "dog", "emu"]
    assert len(data["x_train"]) == 24 and len(data["x_test"]) == 6
    # sorted paths: cat/00000, cat/00003, ... then dog/...
    np.testing.assert_array_equal(data["x_train"][0, ..., 0], images[0])
    np.testing.assert_array_equal(data["x_train"][1, ..., 0], images[3])
    np.testing.assert_array_equal(data["y_train"], np.repeat([0, 1, 2], 8))
    np.testing.assert_array_equal(data["y_test"], np.repeat([0, 1, 2], 2))
    write_pictures(tmp_path / "d" / "train", digits(1))  # outside a class: no labels
    data = pictures.read_data(folder, (28, 28, 1), splits=("train", "test"))
    assert set(data) == {"x_train", "x_test"} and len(data["x_train"]) == 25


def test_fashion_mnist_reads_the_npz_its_constant_or_flag_names(tmp_path, monkeypatch):
    path = str(tmp_path / "fashion.npz")
    np.savez(path, x_train=digits(12))
    monkeypatch.setattr(gan, "FASHION_MNIST_PATH", path)
    assert loaded("fashion_mnist").shape == (12, 28, 28, 1)
    with inputs.settings_for_run(vars(gan), ["--fashion-mnist-path", "f.npz"]):
        assert gan.FASHION_MNIST_PATH == "f.npz"
    with pytest.raises(inputs.InputError, match=r"fix FASHION_MNIST_PATH \(--fash"):
        loaded("fashion_mnist", FASHION_MNIST_PATH=str(tmp_path / "nope.npz"))


# Bad input: one sentence, before anything is trained or any picture written -----------
@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Folders gan.py cannot train on: empty, too few, unreadable, too big, a file."""
    top = tmp_path_factory.mktemp("bad")
    (top / "empty" / "sub").mkdir(parents=True)
    (top / "empty" / "notes.txt").write_text("no pictures here")
    write_pictures(top / "few", digits(5))
    (top / "x.png").write_bytes(b"")
    write_pictures(top / "big", digits(40))
    png = Path(write_pictures(top / "broken", digits(40)), "00001.png").read_bytes()
    (top / "broken" / "00002.png").write_bytes(png[: len(png) // 2])
    (top / "broken" / "00007.png").write_bytes(b"\x89PNG but not really")
    for name in ("00003.png", "00004.png", "00005.png", "sub/0.png", "sub/1.png"):
        (top / "broken" / name).parent.mkdir(exist_ok=True)
        (top / "broken" / name).write_bytes(b"")
    return top


BROKEN = "gan.py: error: folder '{}/broken' has 7 files that cannot be read: '00002"
BROKEN += ".png' (truncated), '00003.png' (empty), '00004.png' (empty), '00005.png' "
BROKEN += "(empty), '00007.png' (not an image) and 2 more; replace or remove them"
FOLDERS = [  # (--data, words of the sentence, or the whole of it)
    ("empty", "folder '{}/empty' holds no images"),
    ("few", "BATCH_SIZE (--batch-size) must be at most 5, the number of training"),
    ("x.png", "neither one of Keras's datasets (mnist, fashion_mnist) nor a"),
    ("broken", BROKEN),  # every file that cannot be read, named
    ("big", "40 at IMG_SHAPE (30000, 30000, 3)) need about"),  # GiB of memory
]


@pytest.mark.parametrize("data, words", FOLDERS)
def test_data_that_cannot_be_trained_on(
    folders, tmp_path, monkeypatch, capsys, data, words
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gan, "train", lambda *a: pytest.fail("trained on bad input"))
    if data == "big":  # checked before any picture is read
        monkeypatch.setattr(gan, "IMG_SHAPE", (30000, 30000, 3))
        monkeypatch.setattr(pictures, "pixels", lambda *a: pytest.fail("read them"))
    message = refusal(gan.main, ["--data", f"{folders}/{data}"], capsys, "gan.py")
    words = words.format(folders)
    assert message == words if data == "broken" else words in message
    assert data != "big" or "GiB of memory" in message
    assert not os.path.exists(CHECKPOINT)


# Training on them ---------------------------------------------------------------------
@pytest.mark.slow
def test_a_folder_of_mnist_pngs_trains_as_the_npz(tmp_path, mnist_path):
    images = np.load(mnist_path)["x_train"][:300]
    folder = write_pictures(tmp_path / "pngs", images)
    npz = str(tmp_path / "same.npz")
    np.savez(npz, x_train=images)
    args = ["--iterations", "3", "--sample-interval", "1"]
    runs = {}
    for name, extra, path in [("folder", ["--data", folder], ""), ("npz", [], npz)]:
        (tmp_path / name).mkdir()
        result = run(GAN, args + extra, tmp_path / name, MNIST_PATH=path)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[name] = log_lines(result.stdout), csv_rows(tmp_path / name)
    assert len(runs["folder"][0]) == 3
    assert runs["folder"] == runs["npz"]


# evaluate.py and sample.py on the run's data ------------------------------------------
@pytest.fixture
def small_evaluation(monkeypatch):
    monkeypatch.setattr(evaluate, "N_SAMPLES", 60)
    monkeypatch.setattr(evaluate, "CLASSIFIER_EPOCHS", 1)
    monkeypatch.setattr(sample, "GRID_SIZE", 3)


@pytest.mark.slow
def test_evaluate_and_sample_on_a_folder_with_labels_and_a_test_split(
    tmp_path, small_evaluation, monkeypatch, capsys, mnist_path
):
    monkeypatch.chdir(tmp_path)
    mnist = np.load(mnist_path)
    x, y = mnist["x_train"][:600], mnist["y_train"][:600]
    write_pictures(tmp_path / "digits" / "train", x[:480], y[:480])
    write_pictures(tmp_path / "digits" / "test", x[480:], y[480:])
    generator = save_generator(tmp_path / "g.keras")  # untrained: any figures do
    evaluate.main([generator, "--data", "digits"])
    table = capsys.readouterr().out
    assert "against the 120 digits test images" in table
    assert "| Real digits (x_train[:80]) |" in table
    assert "left out" not in table and "Goodfellow" not in table
    row = next(line for line in table.splitlines() if line.startswith("| This gen"))
    assert all(cell.strip() for cell in row.split("|")[1:-1])  # every figure there
    assert "| Memorization |" in table
    sample.main([generator, "--data", "digits", "--n", "3"])
    for name in sample.PICTURES:
        assert (tmp_path / sample.OUTPUT_DIR / name).stat().st_size > 0


@pytest.mark.slow
def test_a_colour_folder_trains_in_colour_and_the_scripts_read_its_run(
    tmp_path, small_evaluation, monkeypatch, capsys
):
    """gan.py on 12x16 colour pictures, IMG_SHAPE edited; evaluate.py and sample.py."""
    folder = write_pictures(tmp_path / "pictures", colour_pictures(48))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gan, "IMG_SHAPE", (12, 16, 3))
    monkeypatch.setattr(gan, "JIT_COMPILE", False)
    gan.main(["--data", folder, "--iterations", "3", "--sample-interval", "1"])
    generator = keras.saving.load_model(tmp_path / gan.MODEL_DIR / "generator.keras")
    assert generator.output_shape == (None, 12, 16, 3)
    for name in ("2.png", "progress.gif"):
        picture = Image.open(tmp_path / gan.IMAGES_DIR / name).convert("RGB")
        channels = np.asarray(picture).astype(int)
        assert np.abs(channels[..., 0] - channels[..., 1]).max() > 30, name  # not grey
    settings = safekeeping.read_checkpoint(tmp_path / CHECKPOINT)["settings"]
    assert settings["IMG_SHAPE"] == [12, 16, 3] and settings["DATA"] == folder
    monkeypatch.setattr(gan, "IMG_SHAPE", (28, 28, 1))  # the checkpoint's is used
    capsys.readouterr()
    evaluate.main([])  # no labels, no test split: says so, and ends without an error
    assert capsys.readouterr().out.startswith("Nothing to measure: every figure needs")
    sample.main(["--n", "2"])
    picture = Image.open(tmp_path / sample.OUTPUT_DIR / "samples.png").convert("RGB")
    channels = np.asarray(picture).astype(int)
    assert np.abs(channels[..., 0] - channels[..., 2]).max() > 0  # colour, not grey
