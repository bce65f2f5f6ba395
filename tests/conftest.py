"""The suite's fixtures and hooks; what tests share besides these is in helpers.py."""

import os
import signal

import pytest

import inputs
from helpers import GAN, RUN_ARGS, SHARED_MNIST, log_lines, real_mnist_path, run


def pytest_configure(config):
    """`pytest &` ignores Ctrl-C, as gan.py then would: the Ctrl-C tests need it on."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header(config):
    inputs.load_keras()
    return [
        f"in-process tests: {inputs.platform_line()} (KERAS_BACKEND picks it)",
        "tests that start a script set KERAS_BACKEND for it, tensorflow unless named",
    ]


def pytest_sessionstart(session):
    """Under CI a missing MNIST fails at once, not by skipping every training test."""
    if os.environ.get("CI") and real_mnist_path() is None:
        wanted = os.environ.get("MNIST_PATH") or SHARED_MNIST
        pytest.exit(f"CI: real MNIST not found at {wanted}; set MNIST_PATH", 3)


@pytest.fixture
def original_constants(monkeypatch):
    """The original's model constants, whatever a learner edited in gan.py."""
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
    """`python gan.py RUN_ARGS` uninterrupted: (folder, log lines, stdout)."""
    cwd = tmp_path_factory.mktemp("straight")
    result = run(GAN, RUN_ARGS, cwd, MNIST_PATH=mnist_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, log_lines(result.stdout), result.stdout
