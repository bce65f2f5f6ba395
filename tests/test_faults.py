"""Signals, a full disk, a second run: one sentence or a clean stop, exact resume."""

import errno
import io
import os
import shlex
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout, suppress
from pathlib import Path

import pytest

import gan
import inputs
import safekeeping
from helpers import CHECKPOINT, GAN, RUN_ARGS, assert_same_run, checkpoint_iteration
from helpers import child_env, csv_rows, errors, log_lines, no_temporaries, run
from helpers import save_tiny_mnist, start, wait_for_line


# Signals ------------------------------------------------------------------------------
@pytest.mark.slow
def test_sigterm_stops_after_the_iteration_and_the_printed_command_resumes(
    tmp_path, mnist_path, straight_run
):
    """SIGTERM to a run and its group at once (GNU timeout), paths with spaces."""
    cwd, data = tmp_path / "my run", tmp_path / "my data"
    cwd.mkdir()
    data.mkdir()
    (data / "mnist.npz").symlink_to(mnist_path)
    script = os.path.relpath(GAN, cwd)
    args = [*RUN_ARGS, "--mnist-path", str(data / "mnist.npz")]
    process = start(script, args, cwd)
    out = "".join(wait_for_line(process))
    process.send_signal(signal.SIGTERM)
    os.killpg(process.pid, signal.SIGTERM)  # its own group: start() made it one
    rest, err = process.communicate(timeout=300)
    out += rest
    assert process.returncode == 143, err[-3000:]
    assert errors(err) == []  # no traceback
    *_, report, command = out.splitlines()
    assert report.startswith("Stopped after iteration ")
    last = int(report.split()[3].rstrip("."))
    assert 0 <= last < 59
    assert command == shlex.join([sys.executable, script, *args, "--resume"])
    # Everything a stop writes, whole
    assert checkpoint_iteration(cwd) == last
    assert len(csv_rows(cwd)) == last + 2  # header + one row per iteration
    for name in ("losses.png", "progress.gif", "0.png"):
        assert (cwd / gan.IMAGES_DIR / name).stat().st_size > 1000
    assert (cwd / gan.MODEL_DIR / "generator.keras").exists()
    assert no_temporaries(cwd)
    # pasted into the same terminal, on TensorFlow as the stopped run
    where = dict(cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=300)
    resumed = subprocess.run(command, shell=True, **where)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert log_lines(out) + log_lines(resumed.stdout) == straight_run[1]
    assert_same_run(cwd, straight_run[0])


def run_main(argv, capsys):
    """gan.main in this process: (exit status, stdout)."""
    try:
        gan.main(argv)
    except SystemExit as stop:
        return stop.code, capsys.readouterr().out
    return 0, capsys.readouterr().out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny data and its uninterrupted run in this process."""
    folder = tmp_path_factory.mktemp("tiny")
    argv = "--iterations 6 --batch-size 8 --sample-interval 2 --mnist-path".split()
    argv.append(save_tiny_mnist(folder))
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(io.StringIO()):
        patch.chdir(folder)
        gan.main(argv)
    return folder, argv


def signal_at(monkeypatch, iteration, signum):
    """Sends this process `signum` during the given iteration, as a user would."""
    count, train_iteration = iter(range(10**9)), gan.train_iteration

    def with_signal(*args):
        result = train_iteration(*args)
        if next(count) == iteration:
            os.kill(os.getpid(), signum)
        return result

    monkeypatch.setattr(gan, "train_iteration", with_signal)


TRILLION = ["--iterations", str(10**12)]


@pytest.mark.slow  # trains, in this process
@pytest.mark.parametrize(
    "at, signum, impatient, extra, status, words",
    [  # a second Ctrl-C while the checkpoint is saved: the checkpoint still, no GIF
        (3, signal.SIGINT, True, [], 130, "after iteration 3; skipped the loss plot"),
        (5, signal.SIGINT, False, [], 130, "while finishing, after the last iteration"),
        # up to a trillion iterations start without allocating for them
        (1, signal.SIGTERM, False, TRILLION, 143, "after iteration 1. To continue:"),
    ],
)
def test_a_stop_in_process_writes_the_checkpoint_and_resumes_exactly(
    tiny, tmp_path, monkeypatch, capsys, at, signum, impatient, extra, status, words
):
    cwd, (reference, argv) = tmp_path, tiny
    monkeypatch.chdir(cwd)
    signal_at(monkeypatch, at, signum)
    save_checkpoint = safekeeping.Run.save_checkpoint

    def ctrl_c_meanwhile(*args):
        time.sleep(safekeeping.StopRequests.SAME_REQUEST)  # a second press, later
        os.kill(os.getpid(), signal.SIGINT)  # impatient: while the checkpoint is saved
        save_checkpoint(*args)

    if impatient:
        monkeypatch.setattr(safekeeping.Run, "save_checkpoint", ctrl_c_meanwhile)
    code, out = run_main([*argv, *extra], capsys)  # a traceback would raise
    assert code == status and f"Stopped {words}" in out
    checkpoint = safekeeping.read_checkpoint(CHECKPOINT)
    assert checkpoint["iteration"] == at and no_temporaries(cwd)
    if extra:  # nothing allocated for 10**12 iterations: the history is 2 rows
        assert checkpoint["iterations"] == 10**12 and len(checkpoint["history"]) == 2
        return
    assert not (cwd / gan.IMAGES_DIR / "progress.gif").exists()  # asked to hurry
    monkeypatch.undo()
    monkeypatch.chdir(cwd)
    assert run_main([*argv, "--resume"], capsys)[0] == 0
    assert_same_run(cwd, reference)


def test_one_request_delivered_twice_at_once_counts_once():
    with safekeeping.StopRequests() as stop:
        os.kill(os.getpid(), signal.SIGINT)  # GNU timeout: to the process,
        os.kill(os.getpid(), signal.SIGINT)  # then to its group, at once
        assert stop.signals == [signal.SIGINT]
        time.sleep(stop.SAME_REQUEST)  # a person pressing Ctrl-C again: hurry
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signals == [signal.SIGINT, signal.SIGTERM]


OPENVINO = "(No module named 'openvino'); `pip install openvino`, or set KERAS_BACKEND"
BACKENDS = [("pytorch", "(Unable to import"), ("openvino", OPENVINO)]


@pytest.mark.slow
def test_ctrl_c_while_starting_is_one_sentence(tmp_path, mnist_path):
    process = start(GAN, RUN_ARGS, tmp_path, MNIST_PATH=mnist_path)
    # Once gan.py catches SIGTERM (Linux shows it in SigCgt), it is loading Keras.
    status, sigterm = Path(f"/proc/{process.pid}/status"), 1 << (signal.SIGTERM - 1)
    while not int(status.read_text().split("SigCgt:")[1].split()[0], 16) & sigterm:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert (process.returncode, out) == (130, "")
    assert errors(err) == ["gan.py: stopped while starting; nothing was written"]


@pytest.mark.slow
@pytest.mark.parametrize("backend, words", BACKENDS)
def test_a_backend_that_cannot_load_is_one_sentence(tmp_path, backend, words):
    result = run(GAN, ["--iterations", "2"], tmp_path, backend)
    if backend == "openvino" and "No module named" not in result.stderr:
        pytest.skip("openvino is installed here")
    assert result.returncode == 1
    (line,) = errors(result.stderr)
    assert "Keras could not load its backend " + words in line


# A second run in the folder -----------------------------------------------------------
@pytest.mark.slow
def test_a_second_run_is_refused_a_killed_ones_lock_not(tmp_path, mnist_path):
    first = start(GAN, ["--iterations", "100000"], tmp_path, MNIST_PATH=mnist_path)
    wait_for_line(first)
    second = run(GAN, ["--iterations", "5"], tmp_path, MNIST_PATH=mnist_path)
    assert (second.returncode, second.stdout) == (1, "")
    assert errors(second.stderr) == [
        f"gan.py: error: another run (process {first.pid}) is using "
        f"'{tmp_path / gan.IMAGES_DIR}'; wait for it to end or stop it, or run from "
        "another folder"
    ]
    assert first.poll() is None  # untouched, still training
    first.kill()  # SIGKILL: no clean-up at all
    first.communicate()
    folders = (tmp_path / gan.IMAGES_DIR, tmp_path / gan.MODEL_DIR)
    with safekeeping.output_folders(*folders):  # the next run gets the folders
        pass


def test_the_lock_names_the_process_that_holds_it_until_released(tmp_path):
    lock, held = safekeeping.output_folders, f"process {os.getpid()}\\)"
    with lock(tmp_path), pytest.raises(inputs.InputError, match=held), lock(tmp_path):
        pass
    with lock(tmp_path):  # released
        pass


# A full disk --------------------------------------------------------------------------
FULL = "No space left on device; free some space or fix the folder's permissions"
NO_SPACE = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


FAULTS = [(NO_SPACE, inputs.InputError, "could not write '{path}': " + FULL)]
FAULTS += [(KeyboardInterrupt(), KeyboardInterrupt, "")]


@pytest.mark.parametrize("fault, caught, words", FAULTS)
def test_a_failed_write_leaves_the_old_file_whole(tmp_path, fault, caught, words):
    path = tmp_path / "generator.keras"
    path.write_text("the last good one")
    with pytest.raises(caught) as error:
        with safekeeping.atomic_write(path) as temporary:
            Path(temporary).write_text("half of a new one")
            raise fault
    assert str(error.value) == words.format(path=path)
    assert path.read_text() == "the last good one"
    assert os.listdir(tmp_path) == ["generator.keras"]


@pytest.fixture
def small_disk(tmp_path):
    """A 90 MB tmpfs: enough for a run to start, little enough to fill."""
    mount = tmp_path / "disk"
    mount.mkdir()
    tmpfs = ["mount", "-t", "tmpfs", "-o", "size=90m", "tmpfs", str(mount)]
    done = subprocess.run(tmpfs, capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + done.stderr.decode().strip())
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder):
    with suppress(OSError), open(os.path.join(folder, "filler"), "wb") as f:
        while f.write(bytes(2**20)):
            f.flush()


@pytest.mark.slow
def test_a_full_disk_is_one_sentence_then_resumes(small_disk, mnist_path, straight_run):
    process = start(GAN, RUN_ARGS, small_disk, MNIST_PATH=mnist_path)
    wait_for_line(process, "20 [D loss")  # the checkpoint of iteration 19 is saved
    fill(small_disk)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 1
    (line,) = errors(err)
    assert line.startswith("gan.py: error: could not write '")
    assert line.endswith(": " + FULL)
    assert checkpoint_iteration(small_disk) == 19
    assert no_temporaries(small_disk)

    os.remove(small_disk / "filler")
    resumed = run(GAN, [*RUN_ARGS, "--resume"], small_disk, MNIST_PATH=mnist_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(small_disk, straight_run[0])

    fill(small_disk)  # and a run does not start on a full disk at all
    args = [*RUN_ARGS, "--start-over"]
    refused = run(GAN, args, small_disk, MNIST_PATH=mnist_path)
    assert refused.returncode == 1
    assert "cannot write to output folder" in errors(refused.stderr)[0]
