"""Checkpoints and --resume: what a resumed run refuses, keeps and may change."""

import os
import shutil
import signal

import keras
import numpy as np
import pytest

import gan
import inputs
import safekeeping
from helpers import CHECKPOINT, GAN, RUN_ARGS, backends, checkpoint_iteration, csv_rows
from helpers import denied, file_digests, log_lines, no_temporaries, refusal, run
from helpers import save_tiny_mnist


@pytest.fixture
def checkpointed(tmp_path, monkeypatch):
    """A scratch folder with the checkpoint of iteration 2 of 10; its Run."""
    monkeypatch.chdir(tmp_path)
    inputs.make_output_dirs([gan.IMAGES_DIR, gan.MODEL_DIR])
    keras.utils.set_random_seed(0)
    run = safekeeping.Run(gan.build_gan(), dict(vars(gan), ITERATIONS=10))
    for _ in range(3):
        run.record(0.5, 0.5, 0.7)
    run.save_checkpoint()
    return run


def test_a_checkpoint_is_written_aside_csv_never_behind(checkpointed, monkeypatch):
    assert len(csv_rows(".")) == 1 + 3

    def dies_midway(f, **arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(safekeeping.np, "savez", dies_midway)
    checkpointed.record(0.5, 0.5, 0.7)
    with pytest.raises(KeyboardInterrupt):
        checkpointed.save_checkpoint()
    assert checkpoint_iteration(".") == 2 and no_temporaries(".")


def truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def resume(name, flag=None, other=None):
    """--resume with a flag (or else an edited constant) that contradicts the run."""
    saved = getattr(gan, name)
    other = other if other is not None else (saved + 1) % 2**32  # a seed < 2^32
    argv = ["--resume", flag, str(other)] if flag else ["--resume"]
    words = f"the checkpoint's run has {name} = {saved!r}, this one {other!r}; resume "
    words += f"with {f'{flag} {saved}' if flag else name} as it was, or start over "
    return argv, {} if flag else {f"gan.{name}": other}, None, words + "with --start"


R, UNREADABLE = ["--resume"], "cannot be read (Permission denied); make it readable"
UNFINISHED = f"{CHECKPOINT!r} (in {{cwd}}) holds an unfinished run (stopped after "
UNFINISHED += "iteration 2 of 10); continue it with --resume, or start over with"
NOTHING = f"--resume found no checkpoint in {gan.MODEL_DIR!r} (in {{cwd}})"
OTHER = f"DATA = {gan.DATA!r}, this one '{{cwd}}/mine'; resume with --data {gan.DATA} "
OTHER += "as it was, or start over"
REFUSALS = [  # (flags, what is patched, what befalls the checkpoint, the sentence)
    resume("SEED", "--seed"),
    resume("BATCH_SIZE", "--batch-size"),
    resume("SAMPLE_INTERVAL", "--sample-interval"),
    resume("LATENT_DIM"),
    resume("LEARNING_RATE", other=gan.LEARNING_RATE / 2),
    ([], {}, None, UNFINISHED + " --start-over"),
    (R, {}, os.remove, NOTHING),
    (R, {}, truncate, "is damaged"),
    (R, {"inputs.open": denied}, None, UNREADABLE),
    # another folder, named by its absolute path
    ([*R, "--data", "mine"], {}, lambda _: os.mkdir("mine"), OTHER),
]


@pytest.mark.parametrize("argv, patches, damage, words", REFUSALS)
def test_resume_refusals_are_one_sentence_and_change_nothing(
    checkpointed, argv, patches, damage, words, tmp_path, monkeypatch, capsys
):
    if damage:
        damage(CHECKPOINT)
    before = file_digests(tmp_path)
    for target, value in patches.items():
        monkeypatch.setattr(target, value, raising=False)
    message = refusal(gan.main, argv, capsys, "gan.py")
    assert words.format(cwd=tmp_path) in message
    assert "damaged" not in message or damage is truncate  # unreadable is not damaged
    assert file_digests(tmp_path) == before


def test_a_finished_run_has_nothing_to_resume_and_reruns_from_scratch(
    checkpointed, tmp_path, monkeypatch, capsys
):
    for _ in range(7):
        checkpointed.record(0.5, 0.5, 0.7)
    checkpointed.save_checkpoint()  # iteration 9 of 10: finished
    before = file_digests(tmp_path)
    for argv in ("--iterations 10", "--iterations 3 --checkpoint-interval 7"):
        gan.main(["--resume", *argv.split()])  # asking for fewer: not refused either
    done = "Nothing to do: the checkpoint has done 10 iterations and 10 were asked for"
    done += "; to go on, ask for more than 10 with --iterations."
    assert capsys.readouterr().out.splitlines()[0] == done
    assert file_digests(tmp_path) == before  # not even losses.csv is cut short

    def train(x_train, checkpoint=None):
        assert checkpoint is None  # a plain rerun, not taken for a careless one
        raise LookupError("started")

    monkeypatch.setattr(gan, "load_images", lambda: (np.zeros((64, 28, 28, 1)), ""))
    monkeypatch.setattr(gan, "train", train)
    with pytest.raises(LookupError, match="started"):
        gan.main(["--iterations", "10"])


def test_a_checkpoint_of_other_layer_sizes_is_one_sentence(checkpointed, tmp_path):
    checkpoint = dict(np.load(CHECKPOINT))
    checkpoint["generator/0"] = np.zeros((100, 128), "float32")
    np.savez(CHECKPOINT, **checkpoint)  # a .npz already: nothing appended
    args = ["--resume", "--iterations", "9", "--mnist-path", save_tiny_mnist(tmp_path)]
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    with pytest.raises(SystemExit) as stop:
        gan.main(args)
    assert "does not fit this file's generator" in stop.value.code
    assert not os.path.exists(os.path.join(gan.MODEL_DIR, "generator.keras"))
    # The run never started: its stop handlers must not stay behind
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == handlers


@pytest.mark.slow
@pytest.mark.parametrize("fixed", [True, False])
def test_grids_reuse_the_same_latent_points_unless_told(tmp_path, monkeypatch, fixed):
    monkeypatch.chdir(tmp_path)
    for name, value in dict(SEED=4, FIXED_GRID_NOISE=fixed, JIT_COMPILE=False).items():
        monkeypatch.setattr(gan, name, value)
    drawn, sample_images = [], gan.sample_images

    def recording(generator, iteration, noise=None):
        if noise is None:  # as sample_images draws it
            noise = gan.sample_noise(gan.GRID_ROWS * gan.GRID_COLS)
        drawn.append(noise)
        sample_images(generator, iteration, noise)

    monkeypatch.setattr(gan, "sample_images", recording)
    flags = "--iterations 3 --batch-size 8 --sample-interval 1 --mnist-path".split()
    gan.main([*flags, save_tiny_mnist(tmp_path)])
    shape = (gan.GRID_ROWS * gan.GRID_COLS, gan.LATENT_DIM)
    fixed_noise = np.random.default_rng(4).normal(size=shape).astype("float32")
    assert len(drawn) == 3
    for i, noise in enumerate(drawn):
        assert np.allclose(noise, fixed_noise) == fixed
        # as the original, when told: fresh noise for every grid
        assert fixed or all(not np.allclose(noise, other) for other in drawn[:i])


@pytest.mark.slow
@pytest.mark.parametrize("backend", backends("jax", "torch"))
def test_resumes_under_another_backend(straight_run, mnist_path, tmp_path, backend):
    """A TensorFlow run's checkpoint (plain arrays) continues on JAX or torch."""
    straight = straight_run[0]
    for folder in (gan.MODEL_DIR, gan.IMAGES_DIR):
        shutil.copytree(straight / folder, tmp_path / folder)
    args = [*RUN_ARGS, "--resume", "--iterations", "70"]
    result = run(GAN, args, tmp_path, backend, MNIST_PATH=mnist_path)
    assert result.returncode == 0, result.stderr[-3000:]
    platform = result.stdout.splitlines()[1]  # after the line of what was read
    assert {"jax": "JAX", "torch": "PyTorch"}[backend] in platform
    assert log_lines(result.stdout)[0].startswith("60 [D loss")
    rows = csv_rows(tmp_path)
    assert rows[:61] == csv_rows(straight) and len(rows) == 71
    assert np.mean([float(r[2]) for r in rows[61:]]) > 0.5  # D's weights came along
