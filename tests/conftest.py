import csv
import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
GAN = ROOT / "gan.py"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"


def real_mnist_path():
    path = os.environ.get("MNIST_PATH") or str(SHARED_MNIST)
    return path if os.path.isfile(path) else None


def keras_backend():
    """The backend Keras runs on in this process, as gan.py picks it: KERAS_BACKEND,
    else ~/.keras/keras.json, else TensorFlow."""
    import inputs

    inputs.load_keras()
    import keras

    return keras.backend.backend()


def only_on(backend):
    """Skips a test that runs Keras in this process unless it runs on `backend`."""
    return pytest.mark.skipif(
        keras_backend() != backend,
        reason=f"needs Keras on {backend} in-process; this run's is {keras_backend()}",
    )


def pytest_configure(config):
    """A shell that starts pytest in the background (`pytest &` in a script, no job
    control) has it ignore Ctrl-C, and gan.py keeps an ignored Ctrl-C ignored, as
    `nohup` means it: the tests that press Ctrl-C need it on, here and in children."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header(config):
    import inputs

    inputs.load_keras()
    return [
        f"in-process tests: {inputs.platform_line()} (KERAS_BACKEND picks it)",
        "tests that start a script set KERAS_BACKEND for it, tensorflow unless named",
    ]


def child_env(backend="tensorflow", **variables):
    """This process's environment for a child, with Keras on `backend` and TensorFlow's
    C++ log level left to what the script sets (inputs.load_keras), as in a learner's
    fresh shell, whatever the shell that started pytest set."""
    env = dict(os.environ, KERAS_BACKEND=backend, **variables)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def pytest_sessionstart(session):
    """Under CI a missing MNIST file fails the run at once: skipping every training
    test would let it pass having tested nothing."""
    if os.environ.get("CI") and real_mnist_path() is None:
        wanted = os.environ.get("MNIST_PATH") or SHARED_MNIST
        pytest.exit(f"CI: real MNIST not found at {wanted}; set MNIST_PATH", 3)


@pytest.fixture
def original_constants(monkeypatch):
    """gan.py's constants that shape the models as the original has them, whatever a
    learner edited at the top of gan.py (the models read them when built)."""
    import gan

    original = dict(LATENT_DIM=100, IMG_SHAPE=(28, 28, 1), LEARNING_RATE=0.0002)
    for name, value in dict(original, BETA_1=0.5).items():
        monkeypatch.setattr(gan, name, value)


@pytest.fixture(scope="session")
def mnist_path():
    path = real_mnist_path()
    if path is None:
        pytest.skip("real MNIST not found: set MNIST_PATH or lay ../shared beside")
    return path


# A short real run: a grid every 10 iterations, a checkpoint every 20.
RUN_ARGS = [
    "--iterations",
    "60",
    "--sample-interval",
    "10",
    "--checkpoint-interval",
    "20",
]


@pytest.fixture(scope="session")
def straight_run(tmp_path_factory, mnist_path):
    """`python gan.py RUN_ARGS` uninterrupted: what stopped and resumed runs must
    reproduce. Returns (folder, its log lines, its whole stdout)."""
    cwd = tmp_path_factory.mktemp("straight")
    result = run_gan(RUN_ARGS, cwd, mnist=mnist_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, log_lines(result.stdout), result.stdout


def run_gan(args, cwd, backend="tensorflow", mnist=None, timeout=600):
    """Runs `python gan.py ARGS` in `cwd`; returns the CompletedProcess."""
    env = child_env(backend, PYTHONHASHSEED="0", MNIST_PATH=mnist or "")
    return subprocess.run(
        [sys.executable, str(GAN), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,  # not the terminal pytest runs in
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_python(code, backend, timeout=600):
    """Runs `code` in a fresh interpreter on `backend` (Keras picks it at import)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(backend, PYTHONPATH=str(ROOT)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def backend_available(name):
    try:
        __import__({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[name])
    except ImportError:
        return False
    return True


def backends(*names):
    """pytest params for `names`, skipped where the package is not installed."""
    return [
        pytest.param(
            n,
            marks=pytest.mark.skipif(
                not backend_available(n), reason=f"{n} is not installed"
            ),
        )
        for n in names
    ]


def save_model(path, input_dim, output_layers):
    """A Keras model from (input_dim,) noise through output_layers, saved at path."""
    import keras

    noise = keras.Input(shape=(input_dim,))
    x = noise
    for layer in output_layers:
        x = layer(x)
    keras.Model(noise, x).save(path)
    return str(path)


def refusal(main, argv, capsys, prog):
    """main(argv), run as `prog` and expected to stop on bad input: its message,
    checked to be one sentence from `prog`, with nothing printed before it on stdout
    or stderr (no summaries, no start-up line, no progress)."""
    with mock.patch.object(sys, "argv", [prog]), pytest.raises(SystemExit) as stop:
        main(argv)
    message = stop.value.code
    assert isinstance(message, str), "expected sys.exit('one sentence')"
    assert message.startswith(f"{prog}: error: ")
    assert "\n" not in message
    assert capsys.readouterr() == ("", "")
    return message


def start_gan(args, cwd, mnist, script=GAN):
    """`python gan.py ARGS` started in `cwd` on TensorFlow, its output piped."""
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=child_env(MNIST_PATH=mnist),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process, prefix="0 [D loss"):
    """Reads stdout up to the log line that starts with prefix; returns what it read."""
    lines = []
    while not lines or not lines[-1].startswith(prefix):
        line = process.stdout.readline()
        assert line, "gan.py ended before " + prefix
        lines.append(line)
    return "".join(lines)


def log_lines(text):
    """The original's log lines among a run's output (summaries, stop reports)."""
    return [line for line in text.splitlines() if "[D loss" in line]


def csv_rows(cwd):
    import gan

    with open(os.path.join(cwd, gan.IMAGES_DIR, "losses.csv"), newline="") as f:
        return list(csv.reader(f))


def generator_weights(cwd):
    import keras

    import gan

    path = os.path.join(cwd, gan.MODEL_DIR, "generator.keras")
    return keras.saving.load_model(path).get_weights()


def save_generator(path):
    """An untrained generator of this GAN's shapes, saved at path."""
    import keras

    import gan

    keras.utils.set_random_seed(0)
    gan.build_generator().save(path)
    return str(path)


def stopped_with_ctrl_c(script, args, cwd, mnist, after, wait=1):
    """Starts `python script ARGS` in cwd, sends it SIGINT (Ctrl-C) `wait` seconds
    after the stderr line that starts with `after`; returns (exit status, stdout,
    stderr lines), once it has checked that no temporary file is left below cwd."""
    process = start_gan(args, cwd, mnist, script=ROOT / script)
    lines = []
    while not lines or not lines[-1].startswith(after):
        line = process.stderr.readline()
        assert line, f"{script} ended before {after!r}: {''.join(lines)}"
        lines.append(line)
    time.sleep(wait)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert glob.glob("**/.tmp-*", root_dir=cwd, recursive=True) == []
    return process.returncode, out, "".join(lines + [err]).splitlines()
