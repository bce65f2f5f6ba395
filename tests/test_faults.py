"""What real machines do to a run: signals, a full disk, a second run, a careless rerun.

Each fault ends in one sentence or a correct stop, nothing saved is lost, and --resume
then reproduces an uninterrupted run's losses and weights bit for bit.
"""

import contextlib
import errno
import hashlib
import io
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
import time

import numpy as np
import pytest

import gan
import inputs
import safekeeping
from conftest import (
    GAN,
    RUN_ARGS,
    child_env,
    csv_rows,
    generator_weights,
    run_gan,
    start_gan,
    wait_for_line,
)

ARGS = RUN_ARGS  # 60 iterations, a grid every 10, a checkpoint every 20
# TensorFlow's C++ start-up log, which gan.py cannot silence: absl's "I1129 ..." lines
TF_NOISE = re.compile(
    r"^([IWE]\d{4} |WARNING: All log messages|To enable the following)"
)


def errors(stderr):
    """stderr without TensorFlow's own start-up log."""
    return [line for line in stderr.splitlines() if not TF_NOISE.match(line)]


def assert_same_run(cwd, reference):
    """The same losses, row for row, and the same generator, weight for weight."""
    assert csv_rows(cwd) == csv_rows(reference)
    for a, b in zip(generator_weights(cwd), generator_weights(reference), strict=True):
        assert np.array_equal(a, b)


def checkpoint_iteration(cwd):
    path = os.path.join(cwd, gan.CHECKPOINT_PATH)
    return safekeeping.read_checkpoint(path)["iteration"]


def no_temporaries(cwd):
    return not [
        name
        for folder in (gan.IMAGES_DIR, gan.MODEL_DIR)
        for name in os.listdir(os.path.join(cwd, folder))
        if name.startswith(".tmp-")
    ]


@pytest.fixture(scope="module")
def straight(straight_run):
    """The uninterrupted run that every interrupted one must reproduce."""
    return straight_run[0]


# -----------------------------------------------------------------------------
# Signals


@pytest.fixture(scope="module")
def stopped_by_sigterm(tmp_path_factory, mnist_path):
    """A run stopped by SIGTERM after its first log line. It was started from another
    folder, with paths that hold spaces: the printed command must still work when
    pasted into the same terminal."""
    top = tmp_path_factory.mktemp("sigterm")
    cwd, data = top / "my run", top / "my data"
    cwd.mkdir()
    data.mkdir()
    (data / "mnist.npz").symlink_to(mnist_path)
    script = os.path.relpath(GAN, cwd)
    args = [*ARGS, "--mnist-path", str(data / "mnist.npz")]
    process = start_gan(args, cwd, "", script=script)
    first = wait_for_line(process)
    process.send_signal(signal.SIGTERM)
    rest, err = process.communicate(timeout=300)
    return cwd, script, args, process.returncode, (first + rest).splitlines(), err


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c(stopped_by_sigterm):
    cwd, script, args, status, lines, err = stopped_by_sigterm
    assert status == 143, err[-3000:]
    assert errors(err) == []
    assert lines[-2].startswith("Stopped after iteration ")
    last = int(lines[-2].split()[3].rstrip("."))
    assert lines[-1] == shlex.join([sys.executable, script, *args, "--resume"])
    # Everything a stop writes, whole
    assert checkpoint_iteration(cwd) == last
    assert len(csv_rows(cwd)) == last + 2
    for name in ("losses.png", "progress.gif", "0.png"):
        assert (cwd / gan.IMAGES_DIR / name).stat().st_size > 1000
    assert (cwd / gan.MODEL_DIR / "generator.keras").exists()
    assert no_temporaries(cwd)


@pytest.mark.slow
def test_a_fresh_run_over_an_unfinished_one_is_refused_and_changes_nothing(
    stopped_by_sigterm, mnist_path
):
    cwd, _, args, _, _, _ = stopped_by_sigterm
    before = file_digests(cwd)
    rerun = run_gan(args, cwd, mnist=mnist_path)
    assert rerun.returncode == 1
    (line,) = errors(rerun.stderr)
    assert "holds an unfinished run (stopped after iteration" in line
    assert "continue it with --resume, or start over with --start-over" in line
    assert file_digests(cwd) == before


@pytest.mark.slow
def test_the_printed_command_resumes_exactly(stopped_by_sigterm, straight):
    cwd, _, _, _, lines, _ = stopped_by_sigterm
    resumed = subprocess.run(
        lines[-1],
        shell=True,
        cwd=cwd,
        env=child_env(),  # on TensorFlow, as the stopped run, whatever this shell's
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(cwd, straight)


def tiny_mnist(folder, n=64):
    path = os.path.join(folder, "tiny.npz")
    x = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, x_train=x)
    return path


TINY = ["--iterations", "6", "--batch-size", "8", "--sample-interval", "2"]


def run_main(argv, capsys):
    """gan.main in this process: (exit status, stdout, stderr)."""
    try:
        gan.main(argv)
        status = 0
    except SystemExit as stop:
        status = stop.code
    out, err = capsys.readouterr()
    if isinstance(status, str):
        status, err = 1, err + status
    return status, out, err


@pytest.fixture(scope="module")
def tiny_reference(tmp_path_factory):
    """Tiny data, and its uninterrupted run in this process, for reference."""
    folder = tmp_path_factory.mktemp("tiny")
    argv = [*TINY, "--mnist-path", tiny_mnist(folder)]
    reference = folder / "reference"
    reference.mkdir()
    here = os.getcwd()
    os.chdir(reference)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            gan.main(argv)
    finally:
        os.chdir(here)
    return reference, argv


@pytest.fixture
def tiny(tiny_reference, tmp_path, monkeypatch):
    """A scratch folder to run the tiny run in, and the reference to compare with."""
    reference, argv = tiny_reference
    monkeypatch.chdir(tmp_path)
    return tmp_path, reference, argv


def signal_at(monkeypatch, iteration, *signums):
    """Sends this process signals during the given iteration, as a user would."""
    count = iter(range(10**9))
    train_iteration = gan.train_iteration

    def with_signals(*args):
        result = train_iteration(*args)
        if next(count) == iteration:
            for signum in signums:
                os.kill(os.getpid(), signum)
        return result

    monkeypatch.setattr(gan, "train_iteration", with_signals)


@pytest.mark.slow  # trains, in this process
def test_a_second_ctrl_c_still_writes_the_checkpoint_and_skips_the_extras(
    tiny, monkeypatch, capsys
):
    cwd, reference, argv = tiny
    signal_at(monkeypatch, 3, signal.SIGINT)
    save_checkpoint = safekeeping.Run.save_checkpoint

    def another_ctrl_c_meanwhile(*args):
        os.kill(os.getpid(), signal.SIGINT)  # impatient: while the checkpoint is saved
        save_checkpoint(*args)

    monkeypatch.setattr(safekeeping.Run, "save_checkpoint", another_ctrl_c_meanwhile)
    status, out, err = run_main(argv, capsys)
    assert status == 130
    assert "Stopped after iteration 3; skipped the loss plot and the GIF." in out
    assert err == ""
    assert checkpoint_iteration(cwd) == 3
    assert not (cwd / gan.IMAGES_DIR / "progress.gif").exists()
    assert no_temporaries(cwd)
    monkeypatch.undo()
    monkeypatch.chdir(cwd)
    assert run_main([*argv, "--resume"], capsys)[0] == 0
    assert_same_run(cwd, reference)


@pytest.mark.slow  # trains, in this process
def test_ctrl_c_during_the_last_iteration_finishes_the_run(tiny, monkeypatch, capsys):
    cwd, reference, argv = tiny
    signal_at(monkeypatch, 5, signal.SIGINT)
    status, out, err = run_main(argv, capsys)
    assert status == 130
    assert "Stopped while finishing, after the last iteration; skipped" in out
    assert checkpoint_iteration(cwd) == 5
    assert_same_run(cwd, reference)  # the CSV, the checkpoint and the generator
    status, out, _ = run_main([*argv, "--resume"], capsys)
    assert status == 0 and out.startswith("Nothing to do")


@pytest.mark.slow  # trains, in this process
def test_up_to_a_trillion_iterations_start_without_allocating_for_them(
    tiny, monkeypatch, capsys
):
    cwd, _, argv = tiny
    signal_at(monkeypatch, 1, signal.SIGTERM)
    status, out, _ = run_main([*argv, "--iterations", str(10**12)], capsys)
    assert status == 143
    assert "Stopped after iteration 1. To continue:" in out
    checkpoint = safekeeping.read_checkpoint(gan.CHECKPOINT_PATH)
    assert checkpoint["iterations"] == 10**12 and len(checkpoint["history"]) == 2


@pytest.mark.slow
def test_ctrl_c_while_starting_is_one_sentence(tmp_path, mnist_path):
    process = start_gan(ARGS, tmp_path, mnist_path)
    # Once gan.py catches SIGTERM (Linux shows it in SigCgt), it is loading Keras.
    status = f"/proc/{process.pid}/status"
    while not int(Path(status).read_text().split("SigCgt:")[1].split()[0], 16) & (
        1 << (signal.SIGTERM - 1)
    ):
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert errors(err) == ["gan.py: stopped while starting; nothing was written"]
    assert out == ""


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend, words",
    [
        ("pytorch", "Keras could not load its backend (Unable to import"),
        (
            "openvino",
            "Keras could not load its backend (No module named 'openvino'); "
            "`pip install openvino`, or set KERAS_BACKEND",
        ),
    ],
)
def test_a_backend_that_cannot_load_is_one_sentence(tmp_path, backend, words):
    result = run_gan(["--iterations", "2"], tmp_path, backend=backend)
    if backend == "openvino" and "No module named" not in result.stderr:
        pytest.skip("openvino is installed here")
    assert result.returncode == 1
    lines = errors(result.stderr)
    assert len(lines) == 1 and words in lines[0]


# -----------------------------------------------------------------------------
# A second run, a careless rerun


@pytest.mark.slow
def test_a_second_run_in_the_folder_is_refused_and_a_killed_ones_lock_is_not(
    tmp_path, mnist_path
):
    first = start_gan(["--iterations", "100000"], tmp_path, mnist_path)
    wait_for_line(first)
    second = run_gan(["--iterations", "5"], tmp_path, mnist=mnist_path)
    assert second.returncode == 1
    assert errors(second.stderr) == [
        f"gan.py: error: another run (process {first.pid}) is using "
        f"'{tmp_path / gan.IMAGES_DIR}'; wait for it to end or stop it, or run from "
        "another folder"
    ]
    assert second.stdout == ""
    assert first.poll() is None  # untouched, still training
    first.kill()  # SIGKILL: no clean-up at all
    first.communicate()
    folders = (tmp_path / gan.IMAGES_DIR, tmp_path / gan.MODEL_DIR)
    with safekeeping.output_folders(*folders):
        pass  # the next run gets the folders


def test_the_lock_names_the_process_that_holds_it(tmp_path):
    with safekeeping.output_folders(tmp_path):
        with pytest.raises(
            inputs.InputError, match=f"another run \\(process {os.getpid()}"
        ):
            with safekeeping.output_folders(tmp_path):
                pass
    with safekeeping.output_folders(tmp_path):  # released
        pass


def file_digests(cwd):
    digests = {}
    for folder, _, names in os.walk(cwd):
        for name in names:
            if name != ".lock":  # holds the process id of the last run to start
                with open(os.path.join(folder, name), "rb") as f:
                    digests[name] = hashlib.sha256(f.read()).hexdigest()
    return digests


@pytest.mark.slow  # needs the real run
def test_after_a_finished_run_resume_has_nothing_to_do_and_a_rerun_runs(
    straight, monkeypatch, capsys
):
    monkeypatch.chdir(straight)
    before = file_digests(straight)
    assert run_main([*ARGS, "--resume"], capsys) == (
        0,
        "Nothing to do: the checkpoint has done 60 iterations and 60 were asked "
        "for; to go on, ask for more than 60 with --iterations.\n",
        "",
    )
    status, out, _ = run_main([*ARGS, "--resume", "--iterations", "30"], capsys)
    assert status == 0 and out.startswith("Nothing to do")
    assert file_digests(straight) == before  # not even losses.csv is cut short
    # A plain rerun, with edited constants say, is not taken for a careless one
    args = inputs.parse_args(vars(gan), ARGS)
    assert (
        safekeeping.checkpoint_to_continue(inputs.run_config(vars(gan), args), args)
        is None
    )


# -----------------------------------------------------------------------------
# A full disk


def test_a_failed_write_keeps_the_old_file_and_removes_the_partial(tmp_path):
    path = tmp_path / "generator.keras"
    path.write_text("the last good one")
    with pytest.raises(inputs.InputError) as error:
        with safekeeping.atomic_write(path) as temporary:
            with open(temporary, "w") as f:
                f.write("half of a new one")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(error.value) == (
        f"could not write '{path}': No space left on device; free some space or "
        "fix the folder's permissions"
    )
    assert path.read_text() == "the last good one"
    assert os.listdir(tmp_path) == ["generator.keras"]


def test_an_interrupted_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "0.png"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with safekeeping.atomic_write(path) as temporary:
            with open(temporary, "w") as f:
                f.write("ne")
            raise KeyboardInterrupt
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["0.png"]


@pytest.fixture
def small_disk(tmp_path):
    """A 90 MB tmpfs: enough for a run to start, little enough to fill."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=90m", "tmpfs", str(mount)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + done.stderr.decode().strip())
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder):
    with open(os.path.join(folder, "filler"), "wb") as f:
        try:
            while True:
                f.write(bytes(2**20))
                f.flush()
        except OSError:
            pass


@pytest.mark.slow
def test_a_full_disk_is_one_sentence_and_resume_continues_exactly(
    small_disk, mnist_path, straight
):
    process = start_gan(ARGS, small_disk, mnist_path)
    wait_for_line(process, "20 [D loss")  # the checkpoint of iteration 19 is saved
    fill(small_disk)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 1
    (line,) = errors(err)
    assert line.startswith("gan.py: error: could not write '")
    assert line.endswith(
        ": No space left on device; free some space or fix the folder's permissions"
    )
    assert checkpoint_iteration(small_disk) == 19
    assert no_temporaries(small_disk)

    os.remove(small_disk / "filler")
    resumed = run_gan([*ARGS, "--resume"], small_disk, mnist=mnist_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(small_disk, straight)

    fill(small_disk)  # and a run does not start on a full disk at all
    refused = run_gan([*ARGS, "--start-over"], small_disk, mnist=mnist_path)
    assert refused.returncode == 1
    assert "cannot write to output folder" in errors(refused.stderr)[0]
