"""The suite's fixtures and hooks; what tests share besides these is in helpers.py."""

import os
import signal

import pytest

from helpers import GAN, RUN_ARGS, SHARED_MNIST, log_lines, real_mnist_path, run


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


@pytest.fixture(scope="session")
def straight_run(tmp_path_factory, mnist_path):
    """`python gan.py RUN_ARGS` uninterrupted: what stopped and resumed runs must
    reproduce. Returns (folder, its log lines, its whole stdout)."""
    cwd = tmp_path_factory.mktemp("straight")
    result = run(GAN, RUN_ARGS, cwd, MNIST_PATH=mnist_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, log_lines(result.stdout), result.stdout
