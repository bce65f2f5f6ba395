"""Watch, stop and resume: CSV, plot, GIF, checkpoints, --resume and Ctrl-C."""

import csv
import os
import shlex
import shutil
import signal
import sys

import keras
import numpy as np
import pytest
from PIL import Image

import gan
import inputs
import safekeeping
from conftest import (
    GAN,
    RUN_ARGS,
    backends,
    csv_rows,
    generator_weights,
    log_lines,
    run_gan,
    start_gan,
    wait_for_line,
)

ARGS = RUN_ARGS  # 60 iterations, a grid every 10, a checkpoint every 20


def interrupt_after_first_line(cwd, mnist, signals=(signal.SIGINT,)):
    process = start_gan(ARGS, cwd, mnist)
    first = wait_for_line(process)
    for signum in signals:
        process.send_signal(signum)
    rest, err = process.communicate(timeout=300)
    return process.returncode, (first + rest).splitlines(), err


@pytest.fixture(scope="module")
def straight_and_stopped(tmp_path_factory, mnist_path, straight_run):
    straight, straight_lines, _ = straight_run
    stopped = tmp_path_factory.mktemp("stopped")
    status, lines, err = interrupt_after_first_line(stopped, mnist_path)
    return straight, straight_lines, stopped, status, lines, err


@pytest.mark.slow
def test_ctrl_c_stops_with_status_130_a_checkpoint_and_the_resume_command(
    straight_and_stopped,
):
    _, _, stopped, status, lines, err = straight_and_stopped
    assert status == 130, err[-3000:]
    assert "Traceback" not in err
    assert lines[-1] == shlex.join([sys.executable, str(GAN), *ARGS, "--resume"])
    last = int(lines[-2].split()[3].rstrip("."))  # "Stopped after iteration N."
    assert 0 <= last < 59
    path = stopped / gan.CHECKPOINT_PATH
    assert safekeeping.read_checkpoint(str(path))["iteration"] == last
    assert len(csv_rows(stopped)) == last + 2  # header + one row per iteration
    assert (stopped / gan.IMAGES_DIR / "progress.gif").exists()
    assert (stopped / gan.IMAGES_DIR / "losses.png").exists()
    assert (stopped / gan.MODEL_DIR / "generator.keras").exists()


@pytest.mark.slow
def test_resume_after_ctrl_c_matches_a_straight_run_exactly(
    straight_and_stopped, mnist_path
):
    straight, straight_lines, stopped, _, stopped_lines, _ = straight_and_stopped
    result = run_gan([*ARGS, "--resume"], stopped, mnist=mnist_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = [line for line in stopped_lines if "[D loss" in line]
    assert log + log_lines(result.stdout) == straight_lines
    assert csv_rows(stopped) == csv_rows(straight)
    for a, b in zip(generator_weights(stopped), generator_weights(straight)):
        assert np.array_equal(a, b)


@pytest.mark.slow
def test_csv_has_one_row_per_iteration_and_gif_one_frame_per_grid(straight_and_stopped):
    straight = straight_and_stopped[0]
    rows = csv_rows(straight)
    assert rows[0] == ["iteration", "d_loss", "d_accuracy", "g_loss"]
    assert [int(r[0]) for r in rows[1:]] == list(range(60))
    assert all(0 <= float(r[2]) <= 1 for r in rows[1:])
    gif = Image.open(straight / gan.IMAGES_DIR / "progress.gif")
    assert gif.n_frames == 6
    plot = Image.open(straight / gan.IMAGES_DIR / "losses.png")
    assert plot.size[0] > 300


def tiny_data(n=64):
    shape = (n, *gan.IMG_SHAPE)
    return np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")


@pytest.mark.slow  # trains, in this process
def test_grids_reuse_the_same_latent_points(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    drawn = []
    sample_images = gan.sample_images

    def recording(generator, iteration, noise=None):
        drawn.append(noise)
        sample_images(generator, iteration, noise)

    monkeypatch.setattr(gan, "sample_images", recording)
    monkeypatch.setattr(gan, "JIT_COMPILE", False)
    args = inputs.parse_args(
        vars(gan), "--iterations 3 --batch-size 8 --sample-interval 1".split()
    )
    config = inputs.run_config(vars(gan), args)
    config.update(SEED=4, FIXED_GRID_NOISE=True)  # whatever gan.py's constants say
    with safekeeping.output_folders(gan.IMAGES_DIR, gan.MODEL_DIR):
        gan.train(tiny_data(), config)
    assert len(drawn) == 3
    grid = config["GRID_ROWS"] * config["GRID_COLS"]
    expected = np.random.default_rng(4).normal(size=(grid, gan.LATENT_DIM))
    for noise in drawn:
        np.testing.assert_allclose(noise, expected.astype("float32"))
    assert sorted(p.name for p in (tmp_path / gan.IMAGES_DIR).glob("[0-9]*.png")) == [
        "0.png",
        "1.png",
        "2.png",
    ]


@pytest.mark.slow  # trains, in this process
def test_fresh_grid_noise_when_told(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gan, "FIXED_GRID_NOISE", False)
    monkeypatch.setattr(gan, "JIT_COMPILE", False)
    grids, sample_noise = [], gan.sample_noise

    def recording(n):
        noise = sample_noise(n)
        if n == gan.GRID_ROWS * gan.GRID_COLS:  # not a training batch (8)
            grids.append(noise)
        return noise

    monkeypatch.setattr(gan, "sample_noise", recording)
    args = inputs.parse_args(
        vars(gan), "--iterations 3 --batch-size 8 --sample-interval 1".split()
    )
    with safekeeping.output_folders(gan.IMAGES_DIR, gan.MODEL_DIR):
        run = gan.train(tiny_data(), inputs.run_config(vars(gan), args))
    assert len(grids) == 3  # as the original: fresh noise for every grid
    for i, noise in enumerate(grids):
        assert not np.allclose(noise, run.fixed_noise)
        assert all(not np.allclose(noise, other) for other in grids[:i])


@pytest.fixture
def models_and_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs.make_output_dirs([gan.IMAGES_DIR, gan.MODEL_DIR])
    keras.utils.set_random_seed(0)
    models = gan.build_gan()
    config = inputs.run_config(vars(gan), inputs.parse_args(vars(gan), []))
    config["ITERATIONS"] = 10
    run = safekeeping.Run(models, config)
    for _ in range(3):
        run.record(0.5, 0.5, 0.7)
    run.save_checkpoint(2)
    return models, run


def test_a_write_killed_midway_leaves_the_last_checkpoint_loadable(
    models_and_checkpoint, monkeypatch
):
    _, run = models_and_checkpoint

    def dies_midway(f, **arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(safekeeping.np, "savez", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        run.save_checkpoint(9)
    assert safekeeping.read_checkpoint(gan.CHECKPOINT_PATH)["iteration"] == 2
    assert not [p for p in os.listdir(gan.MODEL_DIR) if p.startswith(".tmp-")]


def test_the_csv_on_disk_is_never_behind_the_checkpoint(models_and_checkpoint):
    with open(os.path.join(gan.IMAGES_DIR, "losses.csv"), newline="") as f:
        assert len(list(csv.reader(f))) == 1 + 3


def test_a_truncated_checkpoint_is_refused_with_one_sentence(models_and_checkpoint):
    with open(gan.CHECKPOINT_PATH, "r+b") as f:
        f.truncate(os.path.getsize(gan.CHECKPOINT_PATH) // 2)
    with pytest.raises(inputs.InputError, match="is damaged"):
        safekeeping.read_checkpoint(gan.CHECKPOINT_PATH)


def test_a_checkpoint_of_other_constants_is_refused(models_and_checkpoint, monkeypatch):
    saved = gan.LATENT_DIM
    monkeypatch.setattr(gan, "LATENT_DIM", saved + 1)
    with pytest.raises(SystemExit) as stop:
        gan.main(["--resume"])
    assert (
        f"the checkpoint's run has LATENT_DIM = {saved}, this one {saved + 1}"
        in stop.value.code
    )


def test_a_checkpoint_of_other_layer_sizes_is_refused(models_and_checkpoint):
    checkpoint = safekeeping.read_checkpoint(gan.CHECKPOINT_PATH)
    checkpoint["generator/0"] = np.zeros((100, 128), "float32")
    _, run = models_and_checkpoint
    with pytest.raises(inputs.InputError, match="does not fit this file's generator"):
        run.restore_checkpoint(checkpoint)


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
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    with pytest.raises(SystemExit) as stop:
        gan.main(args)
    assert "does not fit this file's generator" in stop.value.code
    assert not os.path.exists(os.path.join(gan.MODEL_DIR, "generator.keras"))
    # The run never started: its stop handlers must not stay behind
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == handlers


def test_resume_without_a_checkpoint_names_the_folder_it_looked_in(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        gan.main(["--resume"])
    assert f"--resume found no checkpoint in {gan.MODEL_DIR!r} (in {tmp_path})" in str(
        stop.value.code
    )


@pytest.mark.parametrize("name", ["SEED", "BATCH_SIZE", "SAMPLE_INTERVAL"])
def test_resume_refuses_flags_that_contradict_the_checkpoints_run(
    models_and_checkpoint, name
):
    saved = getattr(gan, name)  # the checkpoint's run used the constants
    other = (saved + 1) % 2**32  # a seed stays below 2^32; the others have no top
    with pytest.raises(SystemExit) as stop:
        gan.main(["--resume", inputs.flag(name), str(other)])
    assert (
        f"{name} = {saved}, this one {other}; resume with {inputs.flag(name)} {saved}"
        in stop.value.code
    )
    assert stop.value.code.endswith("as it was, or start over with --start-over")


def test_resume_refuses_an_edited_constant_that_changes_the_numbers(
    models_and_checkpoint, monkeypatch
):
    saved, other = gan.LEARNING_RATE, gan.LEARNING_RATE / 2
    monkeypatch.setattr(gan, "LEARNING_RATE", other)
    with pytest.raises(SystemExit) as stop:
        gan.main(["--resume"])
    assert (
        f"LEARNING_RATE = {saved!r}, this one {other!r}; resume with LEARNING_RATE"
        in stop.value.code
    )


def test_resume_may_change_how_long_and_how_often_to_checkpoint(
    models_and_checkpoint,
):
    config = inputs.run_config(
        vars(gan),
        inputs.parse_args(
            vars(gan), "--resume --iterations 99 --checkpoint-interval 7".split()
        ),
    )
    args = inputs.parse_args(vars(gan), ["--resume"])
    checkpoint = safekeeping.checkpoint_to_continue(config, args)
    assert checkpoint["iteration"] == 2


def test_an_unreadable_checkpoint_is_not_called_damaged(
    models_and_checkpoint, monkeypatch
):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inputs, "open", denied, raising=False)
    with pytest.raises(inputs.InputError) as error:
        safekeeping.read_checkpoint(gan.CHECKPOINT_PATH)
    message = str(error.value)
    assert "cannot be read (Permission denied); make it readable" in message
    assert "damaged" not in message and "delete" not in message


@pytest.mark.slow
@pytest.mark.parametrize("backend", backends("jax", "torch"))
def test_a_run_resumes_under_another_backend(
    straight_run, mnist_path, tmp_path, backend
):
    """The checkpoint holds plain arrays, so a TensorFlow run continues on JAX or
    torch: the weights, optimizer slots and NumPy's noise carry over, and the rows
    before the checkpoint stay; the new rows follow the new backend's arithmetic."""
    straight = straight_run[0]
    for folder in (gan.MODEL_DIR, gan.IMAGES_DIR):
        shutil.copytree(straight / folder, tmp_path / folder)
    args = [*ARGS, "--resume", "--iterations", "70"]
    result = run_gan(args, tmp_path, backend=backend, mnist=mnist_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {"jax": "JAX", "torch": "PyTorch"}[backend] in result.stdout.splitlines()[0]
    assert log_lines(result.stdout)[0].startswith("60 [D loss")
    rows = csv_rows(tmp_path)
    assert rows[:61] == csv_rows(straight) and len(rows) == 71
    d_acc = [float(r[2]) for r in rows[61:]]
    assert np.mean(d_acc) > 0.5  # D still tells real from fake: the weights came along
