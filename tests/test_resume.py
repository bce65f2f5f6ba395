"""Watch, stop and resume: CSV, plot, GIF, checkpoints, --resume and Ctrl-C."""

import csv
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

import gan
from conftest import GAN, run_gan

ARGS = ["--iterations", "200", "--sample-interval", "10", "--checkpoint-interval", "50"]


def generator_weights(cwd):
    return keras.saving.load_model(
        cwd / "saved_model" / "generator.keras"
    ).get_weights()


def interrupt_after_first_line(cwd, mnist):
    env = dict(os.environ, MNIST_PATH=mnist, KERAS_BACKEND="tensorflow")
    process = subprocess.Popen(
        [sys.executable, str(GAN), *ARGS],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=300)
    return process.returncode, (first + rest).splitlines(), err


@pytest.fixture(scope="module")
def straight_and_stopped(tmp_path_factory, mnist_path):
    straight = tmp_path_factory.mktemp("straight")
    result = run_gan(ARGS, straight, mnist=mnist_path)
    assert result.returncode == 0, result.stderr[-3000:]
    stopped = tmp_path_factory.mktemp("stopped")
    status, lines, err = interrupt_after_first_line(stopped, mnist_path)
    return straight, result.stdout.splitlines(), stopped, status, lines, err


def csv_rows(cwd):
    with open(cwd / "images" / "losses.csv", newline="") as f:
        return list(csv.reader(f))


def test_ctrl_c_stops_with_status_130_a_checkpoint_and_the_resume_command(
    straight_and_stopped,
):
    _, _, stopped, status, lines, err = straight_and_stopped
    assert status == 130, err[-3000:]
    assert "Traceback" not in err
    assert lines[-1] == "python gan.py " + " ".join(ARGS) + " --resume"
    last = int(lines[-2].split()[3].rstrip("."))  # "Stopped after iteration N."
    assert 0 <= last < 199
    checkpoint = gan.load_checkpoint(str(stopped / "saved_model" / "checkpoint.npz"))
    assert checkpoint["iteration"] == last
    assert len(csv_rows(stopped)) == last + 2  # header + one row per iteration
    assert (stopped / "images" / "progress.gif").exists()
    assert (stopped / "images" / "losses.png").exists()


def test_resume_after_ctrl_c_matches_a_straight_run_exactly(
    straight_and_stopped, mnist_path
):
    straight, straight_lines, stopped, _, stopped_lines, _ = straight_and_stopped
    result = run_gan([*ARGS, "--resume"], stopped, mnist=mnist_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = [line for line in stopped_lines if "[D loss" in line]
    assert log + result.stdout.splitlines() == straight_lines
    assert csv_rows(stopped) == csv_rows(straight)
    for a, b in zip(generator_weights(stopped), generator_weights(straight)):
        assert np.array_equal(a, b)


def test_csv_has_one_row_per_iteration_and_gif_one_frame_per_grid(straight_and_stopped):
    straight = straight_and_stopped[0]
    rows = csv_rows(straight)
    assert rows[0] == ["iteration", "d_loss", "d_accuracy", "g_loss"]
    assert [int(r[0]) for r in rows[1:]] == list(range(200))
    assert all(0 <= float(r[2]) <= 1 for r in rows[1:])
    gif = Image.open(straight / "images" / "progress.gif")
    assert gif.n_frames == 20
    plot = Image.open(straight / "images" / "losses.png")
    assert plot.size[0] > 300


@pytest.mark.parametrize("fixed", [True, False])
def test_grids_reuse_the_same_latent_points_unless_told_not_to(
    tmp_path, monkeypatch, fixed
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gan, "FIXED_GRID_NOISE", fixed)
    gan.make_output_dirs()
    drawn = []
    sample_images = gan.sample_images

    def recording(generator, iteration, noise=None):
        drawn.append(noise)
        sample_images(generator, iteration, noise)

    monkeypatch.setattr(gan, "sample_images", recording)
    x_train = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    gan.train(x_train, iterations=3, batch_size=8, sample_interval=1, seed=4)
    assert len(drawn) == 3
    if fixed:
        expected = np.random.default_rng(4).normal(size=(25, gan.LATENT_DIM))
        for noise in drawn:
            np.testing.assert_allclose(noise, expected.astype("float32"))
    else:
        assert all(noise is None for noise in drawn)  # fresh noise, as the original
    assert sorted(p.name for p in (tmp_path / "images").glob("[0-9]*.png")) == [
        "0.png",
        "1.png",
        "2.png",
    ]


@pytest.fixture
def models_and_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gan.make_output_dirs()
    keras.utils.set_random_seed(0)
    generator = gan.build_generator()
    discriminator = gan.build_discriminator()
    models = generator, discriminator, gan.build_combined(generator, discriminator)
    log = gan.LossLog(10)
    for i in range(3):
        log.add(i, 0.5, 0.5, 0.7)
    gan.save_checkpoint(models, 2, log, np.zeros((25, gan.LATENT_DIM), "float32"))
    log.close()
    return models, log


def test_a_write_killed_midway_leaves_the_last_checkpoint_loadable(
    models_and_checkpoint, monkeypatch
):
    models, log = models_and_checkpoint

    def dies_midway(f, **arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(gan.np, "savez", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        gan.save_checkpoint(models, 9, log, np.zeros((25, gan.LATENT_DIM), "float32"))
    assert gan.load_checkpoint()["iteration"] == 2


def test_a_truncated_checkpoint_is_refused_with_one_sentence(models_and_checkpoint):
    with open(gan.CHECKPOINT_PATH, "r+b") as f:
        f.truncate(os.path.getsize(gan.CHECKPOINT_PATH) // 2)
    with pytest.raises(gan.InputError, match="is damaged.*delete it to start over"):
        gan.load_checkpoint()


def test_a_checkpoint_of_other_constants_is_refused(models_and_checkpoint, monkeypatch):
    monkeypatch.setattr(gan, "LATENT_DIM", 64)
    with pytest.raises(gan.InputError, match="LATENT_DIM=100"):
        gan.load_checkpoint()


def test_a_checkpoint_of_other_layer_sizes_is_refused(models_and_checkpoint):
    checkpoint = gan.load_checkpoint()
    checkpoint["generator/0"] = np.zeros((100, 128), "float32")
    models, _ = models_and_checkpoint
    with pytest.raises(gan.InputError, match="does not fit this file's generator"):
        gan.restore_checkpoint(models, checkpoint)


def test_resume_with_a_checkpoint_of_other_layer_sizes_exits_with_one_sentence(
    models_and_checkpoint, tmp_path
):
    checkpoint = dict(np.load(gan.CHECKPOINT_PATH))
    checkpoint["generator/0"] = np.zeros((100, 128), "float32")
    with open(gan.CHECKPOINT_PATH, "wb") as f:
        np.savez(f, **checkpoint)
    mnist = tmp_path / "tiny.npz"
    with open(mnist, "wb") as f:
        np.savez(f, x_train=np.zeros((64, 28, 28), np.uint8))
    args = ["--resume", "--iterations", "9", "--mnist-path", str(mnist)]
    with pytest.raises(SystemExit) as stop:
        gan.main(args)
    assert "does not fit this file's generator" in stop.value.code
    assert not os.path.exists(os.path.join(gan.MODEL_DIR, "generator.keras"))


def test_resume_without_a_checkpoint_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        gan.main(["--resume"])
    assert "--resume found no checkpoint" in stop.value.code
