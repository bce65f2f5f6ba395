"""What keeps a run of gan.py safe and watchable, beside the GAN itself.

- atomic_write: every file a run writes goes to a name unique to the run, then is
  renamed into place, so a run killed at any moment leaves the old file or the new one.
- one_run_per_folder: a second run in the same output folders is refused.
- LossLog, plot_losses, make_progress_gif: the losses as CSV and a plot, the grids as
  an animation.
- Checkpoints: everything needed to continue a run exactly, in one .npz.
- Run: one run of the loop; Ctrl-C or SIGTERM ends it after the current iteration.
"""

import contextlib
import csv
import json
import os
import shlex
import signal
import sys

import keras
import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt
from PIL import Image, ImageDraw

import inputs
from inputs import InputError, read_npz, shown

try:
    import fcntl
except ImportError:  # Windows: no lock, the rest works
    fcntl = None


class WriteError(InputError):
    """A file could not be written (a full disk, say): one sentence, then exit."""


# -----------------------------------------------------------------------------
# Writing files atomically

TEMPORARY_PREFIX = ".tmp-"  # then the process id: each run writes its own names


@contextlib.contextmanager
def atomic_write(path, sync=False):
    """Yields a temporary path beside `path` (same extension, for writers that go by
    it); once the block has written it, renames it into place, after syncing it to
    the disk if `sync` (the checkpoint, which a resume reads after a power cut).

    On any failure the temporary is removed and `path` stays as it was; an OSError
    (a full disk, a read-only folder) becomes a WriteError naming the file.
    """
    folder, name = os.path.split(os.fspath(path))
    temporary = os.path.join(folder, f"{TEMPORARY_PREFIX}{os.getpid()}-{name}")
    try:
        yield temporary
        if sync:
            with open(temporary, "r+b") as f:
                os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        cause = os_error(err)
        if cause is None:
            raise
        raise write_error(path, cause) from None


def write_error(path, err):
    return WriteError(
        f"could not write {shown(path)}: {err.strerror or err}; free some space or "
        "fix the folder's permissions"
    )


def os_error(err):
    """The OSError behind err, if any: libraries re-raise it as their own errors."""
    while err is not None and not isinstance(err, WriteError):
        if isinstance(err, OSError):
            return err
        err = err.__cause__ or err.__context__
    return None


# -----------------------------------------------------------------------------
# One run per folder. The operating system drops the lock when its process ends,
# however it ends, so a killed run never blocks the next one.


@contextlib.contextmanager
def one_run_per_folder(folders):
    """Holds a lock in each folder while the block runs; refuses if another run has
    one, naming its process id. Then clears what killed runs left half-written."""
    with contextlib.ExitStack() as stack:
        for folder in dict.fromkeys(os.path.realpath(f) for f in folders):
            lock = stack.enter_context(open(os.path.join(folder, ".lock"), "a+"))
            try:
                if fcntl:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.seek(0)
                raise InputError(
                    f"another run (process {lock.read().strip() or 'unknown'}) is "
                    f"using {shown(folder)}; wait for it to end or stop it, or run "
                    "from another folder"
                ) from None
            lock.truncate(0)
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            for name in os.listdir(folder):
                if name.startswith(TEMPORARY_PREFIX):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(folder, name))
        yield


# -----------------------------------------------------------------------------
# The loss record: CSV, progress bar, plot and GIF


class LossLog:
    """Every iteration's losses: in memory (for checkpoints and the plot), as CSV, and
    as a progress bar when stdout is a terminal."""

    COLUMNS = ("iteration", "d_loss", "d_accuracy", "g_loss")

    def __init__(self, path, iterations, history=()):
        self.path = path
        self.history = [tuple(row) for row in history]  # grows: no up-front size
        # Rewritten from the history, so rows after the checkpoint do not repeat.
        with atomic_write(path) as temporary, open(temporary, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.COLUMNS)
            writer.writerows((i, *row) for i, row in enumerate(self.history))
        self.file = open(path, "a", newline="")
        self.csv = csv.writer(self.file)
        self.progbar = None
        if sys.stdout.isatty():  # Keras's bar would rewrite lines in a log file too
            self.progbar = keras.utils.Progbar(
                iterations - len(self.history),
                unit_name="iteration",
                stateful_metrics=["D loss", "D acc", "G loss"],
            )

    def add(self, iteration, d_loss, d_acc, g_loss):
        self.history.append((d_loss, d_acc, g_loss))
        self.write(lambda: self.csv.writerow((iteration, d_loss, d_acc, g_loss)))
        if self.progbar:
            self.progbar.add(
                1, [("D loss", d_loss), ("D acc", d_acc), ("G loss", g_loss)]
            )

    def print(self, line):
        if self.progbar:
            sys.stdout.write("\r\033[K")  # the log line replaces the bar
        print(line, flush=True)

    def save(self):
        """To the disk now: a checkpoint follows, and the CSV must not lag behind it."""
        self.write(lambda: (self.file.flush(), os.fsync(self.file.fileno())))

    def write(self, action):
        try:
            action()
        except OSError as err:
            raise write_error(self.path, err) from None

    def array(self):
        return np.array(self.history, dtype="float64").reshape(-1, 3)

    def close(self):
        with contextlib.suppress(OSError):
            self.file.close()


def plot_losses(history, path):
    """Raw values faint, a moving average on top."""
    window = max(1, len(history) // 100)
    kernel = np.ones(window) / window
    steps = np.arange(len(history))
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, sharex=True, figsize=(8, 6))
    for ax, column, label in [
        (ax_loss, 0, "D loss"),
        (ax_loss, 2, "G loss"),
        (ax_acc, 1, "D accuracy"),
    ]:
        raw = history[:, column]
        (line,) = ax.plot(steps, raw, alpha=0.2, linewidth=0.5)
        smooth = np.convolve(raw, kernel, mode="valid")
        ax.plot(steps[window - 1 :], smooth, color=line.get_color(), label=label)
        ax.legend(loc="upper right")
    ax_loss.set_ylabel("binary cross-entropy")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_xlabel("iteration")
    save_figure(fig, path)


def save_figure(fig, path):
    try:
        with atomic_write(path) as temporary:
            fig.savefig(temporary)
    finally:
        plt.close(fig)


def make_progress_gif(grids, path, frame_ms):
    """The grids {iteration: png path} that exist, in order, labelled, as one GIF."""
    frames = []
    for iteration, grid in sorted(grids.items()):
        if os.path.exists(grid):
            frame = Image.open(grid).convert("L")
            ImageDraw.Draw(frame).text((10, 10), f"iteration {iteration}", fill=0)
            frames.append(frame)
    if frames:
        with atomic_write(path) as temporary:
            frames[0].save(
                temporary,
                save_all=True,
                append_images=frames[1:],
                duration=frame_ms,
                loop=0,
            )


# -----------------------------------------------------------------------------
# Checkpoints: weights, optimizer slots, random state, losses and the settings that
# decide what is computed, so that --resume continues the run as it was.


def checkpointed_variables(generator, discriminator, combined):
    # Optimizers make their slots lazily; build them now, for the weights each trains.
    if not discriminator.optimizer.built:
        discriminator.optimizer.build(discriminator.trainable_variables)
    if not combined.optimizer.built:
        combined.optimizer.build(generator.trainable_variables)
    return {
        "generator": generator.variables,
        "discriminator": discriminator.variables,
        "discriminator_optimizer": discriminator.optimizer.variables,
        "combined_optimizer": combined.optimizer.variables,
    }


def save_checkpoint(path, models, iteration, iterations, losses, grid_noise, settings):
    losses.save()
    arrays = {
        "iteration": np.array(iteration),
        "iterations": np.array(iterations),
        "settings": np.array(json.dumps(settings)),
        "history": losses.array(),
        "grid_noise": grid_noise,
    }
    _, keys, pos, has_gauss, gauss = np.random.get_state()  # gan.py's noise
    arrays["numpy_random_keys"] = keys
    arrays["numpy_random_rest"] = np.array([pos, has_gauss, gauss])
    for name, variables in checkpointed_variables(*models).items():
        for i, variable in enumerate(variables):
            arrays[f"{name}/{i}"] = keras.ops.convert_to_numpy(variable)
    with atomic_write(path, sync=True) as temporary, open(temporary, "wb") as f:
        np.savez(f, **arrays)


def read_checkpoint(path, keys=None, fix="start over with --start-over"):
    """The checkpoint's arrays (only `keys`, if given), iteration and iterations as
    ints and the settings as a dict."""
    checkpoint = read_npz(path, "checkpoint", fix, keys)
    try:
        checkpoint["iteration"] = int(checkpoint["iteration"])
        checkpoint["iterations"] = int(checkpoint["iterations"])
        if "settings" in checkpoint:
            checkpoint["settings"] = json.loads(str(checkpoint["settings"]))
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(
            f"checkpoint {shown(path)} is damaged ({type(err).__name__}); {fix}"
        ) from None
    return checkpoint


def restore_checkpoint(models, checkpoint, path):
    for name, variables in checkpointed_variables(*models).items():
        for i, variable in enumerate(variables):
            value = checkpoint.get(f"{name}/{i}")
            if value is None or value.shape != tuple(variable.shape):
                raise InputError(
                    f"checkpoint {shown(path)} does not fit this file's {name} (made "
                    "with other layer sizes?); restore them, or start over with "
                    "--start-over"
                )
            variable.assign(value)
    pos, has_gauss, gauss = checkpoint["numpy_random_rest"]
    keys = checkpoint["numpy_random_keys"]
    np.random.set_state(("MT19937", keys, int(pos), int(has_gauss), gauss))


# What decides the numbers a run computes: --resume must keep all of it.
KEPT_BY_RESUME = ("SEED", "BATCH_SIZE", "SAMPLE_INTERVAL", "LEARNING_RATE", "BETA_1")
KEPT_BY_RESUME += ("LATENT_DIM", "IMG_SHAPE")


def kept_by_resume(config):
    return {name: config[name] for name in KEPT_BY_RESUME}


def checkpoint_to_continue(config, args):
    """The checkpoint that --resume continues; None for a run from scratch.

    A run from scratch over an unfinished run's checkpoint is refused unless told to
    start over; a resumed run must keep the settings that decide what is computed.
    """
    path = config["CHECKPOINT_PATH"]
    if args.start_over and args.resume:
        raise InputError("--resume and --start-over contradict each other; pick one")
    if args.start_over:
        return None
    if not args.resume:
        if not os.path.exists(path):
            return None
        fix = "delete it, or start over with --start-over"
        done = read_checkpoint(path, ["iteration", "iterations"], fix)
        if done["iteration"] + 1 < done["iterations"]:
            raise InputError(
                f"{shown(path)} holds an unfinished run (stopped after iteration "
                f"{done['iteration']} of {done['iterations']}); continue it with "
                "--resume, or start over with --start-over"
            )
        return None
    if not os.path.exists(path):
        folder = os.path.dirname(path) or "."
        raise InputError(
            f"--resume found no checkpoint in {shown(folder)}; run without "
            "--resume first"
        )
    checkpoint = read_checkpoint(path)
    saved = checkpoint.get("settings", {})
    wanted = json.loads(json.dumps(kept_by_resume(config)))  # tuples as lists
    for name, value in wanted.items():
        if name in saved and saved[name] != value:
            way = f"{inputs.flag(name)} {saved[name]}" if name in inputs.FLAGS else name
            raise InputError(
                f"the checkpoint's run has {name} = {saved[name]!r}, this one "
                f"{value!r}; resume with {way} as it was, or start over with "
                "--start-over"
            )
    return checkpoint


def nothing_to_do(checkpoint, iterations):
    done = checkpoint["iteration"] + 1
    return (
        f"Nothing to do: the checkpoint has done {done} iterations and {iterations} "
        f"were asked for; to go on, ask for more than {done} with --iterations."
    )


# -----------------------------------------------------------------------------
# A run: its output folders, and what it writes as it goes and when it ends


@contextlib.contextmanager
def output_folders(images_dir, model_dir):
    """Creates and checks the folders, holds them for this run alone, and clears
    what killed runs left half-written there."""
    inputs.make_output_dirs([images_dir, model_dir])
    with one_run_per_folder([images_dir, model_dir]):
        yield


class Run:
    """One run of gan.py's loop: where it starts, its losses and grid noise, its
    checkpoints, and the files it writes when it ends.

    Ctrl-C or SIGTERM asks the loop to stop after the current iteration; the run
    then writes its checkpoint and exits with 128 + the signal's number. Another one
    asks it to hurry: the checkpoint still, the plot and GIF not. None raises.
    """

    STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, models, config, checkpoint=None):
        self.models, self.config, self.checkpoint = models, config, checkpoint
        self.images = config["IMAGES_DIR"]
        self.signals = []  # the stop signals received
        self.saved = -1  # the iteration of the last checkpoint
        # The same latent points in every grid show one set of digits forming.
        noise = np.random.default_rng(config["SEED"]).normal(
            size=(config["GRID_ROWS"] * config["GRID_COLS"], config["LATENT_DIM"])
        )
        self.fixed_noise = noise.astype("float32")

    @property
    def grid_noise(self):
        return self.fixed_noise if self.config["FIXED_GRID_NOISE"] else None

    @property
    def stopping(self):
        return bool(self.signals)

    @property
    def exit_status(self):
        return 128 + self.signals[0]

    @property
    def last(self):
        """The last iteration done, -1 before the first."""
        return len(self.losses.history) - 1

    def __enter__(self):
        history = ()
        if self.checkpoint is not None:
            path = self.config["CHECKPOINT_PATH"]
            restore_checkpoint(self.models, self.checkpoint, path)
            self.saved = self.checkpoint["iteration"]
            history = self.checkpoint["history"][: self.saved + 1]
            self.fixed_noise = self.checkpoint["grid_noise"]
        self.start = self.saved + 1
        csv_path = os.path.join(self.images, "losses.csv")
        self.losses = LossLog(csv_path, self.config["ITERATIONS"], history)
        # Last: if anything above fails, no handler is left behind.
        self.previous = {s: signal.getsignal(s) for s in self.STOP_SIGNALS}
        for signum, previous in self.previous.items():
            if previous is not signal.SIG_IGN:  # as `nohup` or `&` left it
                signal.signal(signum, lambda signum, frame: self.signals.append(signum))
        return self

    def save_checkpoint(self, iteration):
        save_checkpoint(
            self.config["CHECKPOINT_PATH"],
            self.models,
            iteration,
            self.config["ITERATIONS"],
            self.losses,
            self.fixed_noise,
            kept_by_resume(self.config),
        )
        self.saved = iteration

    def plot_losses(self):
        plot_losses(self.losses.array(), os.path.join(self.images, "losses.png"))

    def __exit__(self, kind, error, traceback):
        try:
            if kind is None:
                self.finish()
        finally:
            self.losses.close()
            for signum, handler in self.previous.items():
                # After a run, a stop must not say that nothing was written: ignore.
                if isinstance(handler, inputs.ExitOnStop):
                    handler = signal.SIG_IGN
                signal.signal(signum, handler)

    def finish(self):
        """The checkpoint where the loop ended and the generator, always; the plot and
        the GIF unless a stop request came after the one that ended the loop."""
        if self.last > self.saved:
            self.save_checkpoint(self.last)
        path = os.path.join(self.config["MODEL_DIR"], "generator.keras")
        with atomic_write(path) as temporary:
            self.models[0].save(temporary)
        self.finished = self.last + 1 >= self.config["ITERATIONS"]
        self.skipped = []
        for name, write in [("the loss plot", self.plot_losses), ("the GIF", self.gif)]:
            if len(self.signals) > (0 if self.finished else 1):
                self.skipped.append(name)  # asked to hurry
            else:
                write()

    def gif(self):
        interval = self.config["SAMPLE_INTERVAL"]
        grids = {
            i: os.path.join(self.images, f"{i}.png")
            for i in range(0, self.last + 1, interval)
        }
        path = os.path.join(self.images, "progress.gif")
        make_progress_gif(grids, path, self.config["GIF_FRAME_MS"])

    def stop_report(self, resume_command):
        """What a stopped run prints: where it stopped, what it skipped, what next."""
        skipped = f"; skipped {' and '.join(self.skipped)}" if self.skipped else ""
        if self.finished:
            return f"Stopped while finishing, after the last iteration{skipped}."
        return (
            f"Stopped after iteration {self.last}{skipped}. To continue:\n"
            f"{resume_command}"
        )


def resume_command(script, argv):
    """The command that continues this run, ready to paste into the same terminal."""
    invoked = ["python", script]  # called in-process, by a test say
    if os.path.basename(sys.argv[0]) == script:  # interpreter, options, path as typed
        invoked = sys.orig_argv[: len(sys.orig_argv) - len(sys.argv) + 1]
    args = sys.argv[1:] if argv is None else argv
    args = [a for a in args if a not in ("--resume", "--start-over")]
    return shlex.join([*invoked, *args, "--resume"])
