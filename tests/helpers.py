"""What the tests share besides fixtures: paths, starting a script, reading a run."""

import csv
import glob
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from PIL import Image

import gan  # loads Keras as gan.py does: KERAS_BACKEND, keras.json or TensorFlow
import keras
import safekeeping

ROOT = Path(__file__).resolve().parents[1]
GAN = ROOT / "gan.py"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
CHECKPOINT = os.path.join(gan.MODEL_DIR, "checkpoint.npz")  # below a run's folder
# A short real run: a grid every 10 iterations, a checkpoint every 20.
RUN_ARGS = "--iterations 60 --sample-interval 10 --checkpoint-interval 20".split()
# TensorFlow's C++ start-up log, which gan.py cannot silence: absl's "I1129 ..." lines
TF_NOISE = re.compile(r"^([IWE]\d{4} |WARNING: All log messages|To enable the follow)")


def real_mnist_path():
    path = os.environ.get("MNIST_PATH") or str(SHARED_MNIST)
    return path if os.path.isfile(path) else None


def backends(*names):
    """pytest params for `names`, skipped where the package is not installed."""
    skip = {n: pytest.mark.skipif(not find_spec(n), reason=f"no {n}") for n in names}
    return [pytest.param(n, marks=skip[n]) for n in names]


def child_env(backend="tensorflow", **variables):
    """os.environ for a child on `backend`, TF's C++ log level left to the script."""
    env = dict(os.environ, KERAS_BACKEND=backend, **variables)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def start(script, args=(), cwd=None, backend="tensorflow", **env):
    """`python SCRIPT ARGS` (or `-c` code) in cwd, output piped, MNIST_PATH empty."""
    command = [script] if str(script).endswith(".py") else ["-c", script]
    env = {"MNIST_PATH": "", "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT), **env}
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Not pytest's terminal, nor its process group: a test may signal this one.
    pipes.update(stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd)
    env = child_env(backend, **env)
    return subprocess.Popen([sys.executable, *command, *args], env=env, **pipes)


def run(script, args=(), cwd=None, backend="tensorflow", timeout=600, **env):
    """start(...) run to its end: a CompletedProcess."""
    process = start(script, args, cwd, backend, **env)
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        process.kill()  # only if the timeout left it running
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def wait_for_line(process, prefix="0 [D loss", stream="stdout"):
    """The lines of a started process's stream, read up to one starting with prefix."""
    lines = []
    while not lines or not lines[-1].startswith(prefix):
        lines.append(getattr(process, stream).readline())
        assert lines[-1], f"it ended before {prefix!r}: {''.join(lines)}"
    return lines


def stop_with_ctrl_c(script, args, cwd, after, wait=1, **env):
    """Ctrl-C `wait` s after stderr's `after` line: (status, out, err lines)."""
    process = start(script, args, cwd, **env)
    lines = wait_for_line(process, after, "stderr")
    time.sleep(wait)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert no_temporaries(cwd)
    return process.returncode, out, "".join(lines + [err]).splitlines()


def errors(stderr):
    """stderr without TensorFlow's own start-up log."""
    return [line for line in stderr.splitlines() if not TF_NOISE.match(line)]


def refusal(main, argv, capsys, prog):
    """main(argv)'s refusal, checked to be one sentence from `prog`, nothing before."""
    with mock.patch.object(sys, "argv", [prog]), pytest.raises(SystemExit) as stop:
        main(argv)
    message = stop.value.code
    assert isinstance(message, str), "expected sys.exit('one sentence')"
    assert message.startswith(f"{prog}: error: ")
    assert "\n" not in message
    assert capsys.readouterr() == ("", "")
    return message


def save_model(path, input_dim, output_layers):
    """A Keras model from (input_dim,) noise through output_layers, saved at path."""
    x = noise = keras.Input(shape=(input_dim,))
    for layer in output_layers:
        x = layer(x)
    keras.Model(noise, x).save(path)
    return str(path)


def save_generator(path):
    """An untrained generator of this GAN's shapes, saved at path."""
    keras.utils.set_random_seed(0)
    gan.build_generator().save(path)
    return str(path)


def digits(n, seed=0):
    """n random 28x28 uint8 images."""
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def save_tiny_mnist(folder, n=64):
    """An mnist.npz of n random 28x28 images: enough to train on, quickly."""
    path = os.path.join(folder, "tiny.npz")
    with open(path, "wb") as f:
        np.savez(f, x_train=digits(n))
    return path


def write_pictures(folder, images, labels=None, suffix=".png"):
    """One file per image named by its index, in a subfolder per label if given."""
    for i, image in enumerate(images):
        where = Path(folder, str(labels[i]) if labels is not None else "")
        where.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(where / f"{i:05d}{suffix}")
    return str(folder)


def loaded(data, **constants):
    """gan.load_images()'s images, with DATA and other constants set as flags would."""
    with mock.patch.multiple(gan, DATA=data, **constants):
        return gan.load_images()[0]


def denied(*args, **kwargs):
    """A stand-in for open() on a file this user may not read."""
    raise PermissionError(13, "Permission denied")


def log_lines(text):
    """The original's log lines among a run's output (summaries, stop reports)."""
    return [line for line in text.splitlines() if "[D loss" in line]


def csv_rows(cwd):
    with open(os.path.join(cwd, gan.IMAGES_DIR, "losses.csv"), newline="") as f:
        return list(csv.reader(f))


def generator_weights(cwd):
    path = os.path.join(cwd, gan.MODEL_DIR, "generator.keras")
    return keras.saving.load_model(path).get_weights()


def checkpoint_iteration(cwd):
    return safekeeping.read_checkpoint(os.path.join(cwd, CHECKPOINT))["iteration"]


def assert_same_run(cwd, reference):
    """The same losses, row for row, and the same generator, weight for weight."""
    assert csv_rows(cwd) == csv_rows(reference)
    for a, b in zip(generator_weights(cwd), generator_weights(reference), strict=True):
        assert (a == b).all()


def no_temporaries(cwd):
    return glob.glob("**/.tmp-*", root_dir=cwd, recursive=True) == []


def file_digests(cwd):
    """Every file below cwd with its bytes' digest; not dotfiles (the lock's pid)."""
    files = [Path(cwd, p) for p in glob.glob("**/*", root_dir=cwd, recursive=True)]
    return {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.is_file()}
