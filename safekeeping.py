"""What keeps a run of gan.py safe and watchable, beside the GAN itself: files written
aside and renamed into place, one run per folder, checkpoints that continue a run
exactly, and the Run, which records the losses (CSV, plot, progress bar), makes the
GIF, and ends the loop after the current iteration on Ctrl-C or SIGTERM.
"""

import contextlib
import csv
import json
import os
import shlex
import signal
import sys

import keras
import numpy as np
from matplotlib.figure import Figure  # not pyplot: a notebook keeps its own backend
from PIL import Image, ImageDraw

import inputs
from inputs import InputError, shown

try:
    import fcntl
except ImportError:  # Windows: no lock, the rest works
    fcntl = None

TEMPORARY_PREFIX = ".tmp-"  # then the process id: each run writes its own names


@contextlib.contextmanager
def atomic_write(path, sync=False):
    """Yields a temporary path beside `path`, with its extension, and renames it into
    place once written, synced to the disk if `sync` (a checkpoint, for a power cut).
    On any failure `path` stays as it was; an OSError becomes one sentence naming it."""
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
        cause = err  # libraries re-raise an OSError as their own errors
        while cause is not None and not isinstance(cause, (OSError, InputError)):
            cause = cause.__cause__ or cause.__context__
        if not isinstance(cause, OSError):
            raise
        raise InputError(
            f"could not write {shown(path)}: {cause.strerror or cause}; free some "
            "space or fix the folder's permissions"
        ) from None


def save_figure(fig, path):
    with atomic_write(path) as temporary:
        fig.savefig(temporary)


@contextlib.contextmanager
def output_folders(*folders):
    """Creates and checks the folders and holds a lock in each while the block runs,
    refusing if another run holds one. The system drops a lock when its process ends,
    however it ends; what a killed run left half-written is then cleared."""
    inputs.make_output_dirs(folders)
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
            print(os.getpid(), file=lock, flush=True)
            for name in os.listdir(folder):
                if name.startswith(TEMPORARY_PREFIX):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(folder, name))
        yield


# -----------------------------------------------------------------------------
# Checkpoints: weights, optimizer slots, random state, losses and the settings that
# decide what is computed (--resume must keep those), to continue a run exactly.

KEPT_BY_RESUME = ("SEED", "BATCH_SIZE", "SAMPLE_INTERVAL", "LEARNING_RATE", "BETA_1")
KEPT_BY_RESUME += ("LATENT_DIM", "IMG_SHAPE", "DATA")


def checkpointed_variables(generator, discriminator, combined):
    # Optimizers make their slots lazily; build them now, for the weights each trains.
    for model, trained in [(discriminator, discriminator), (combined, generator)]:
        if not model.optimizer.built:
            model.optimizer.build(trained.trainable_variables)
    return {
        "generator": generator.variables,
        "discriminator": discriminator.variables,
        "discriminator_optimizer": discriminator.optimizer.variables,
        "combined_optimizer": combined.optimizer.variables,
    }


def read_checkpoint(path):
    """The checkpoint's arrays; iteration and iterations as ints, settings a dict."""
    keys, fix = ("iteration", "iterations"), "start over with --start-over"
    checkpoint = inputs.read_npz(path, "checkpoint", fix, keys)
    for key in keys:
        checkpoint[key] = int(checkpoint[key])
    checkpoint["settings"] = json.loads(str(checkpoint.get("settings", "{}")))
    return checkpoint


def checkpoint_to_continue(config, args):
    """The checkpoint that --resume continues; None for a run from scratch, which an
    unfinished run's checkpoint refuses unless told to start over. A resumed run
    must keep the settings that decide what is computed; with no work left, it says
    so and exits (status 0)."""
    path, iterations = config["CHECKPOINT_PATH"], config["ITERATIONS"]
    if args.start_over or not (args.resume or os.path.exists(path)):
        return None
    if not os.path.exists(path):
        folder = shown(os.path.dirname(path) or ".")
        raise InputError(
            f"--resume found no checkpoint in {folder}; run without --resume first"
        )
    checkpoint = read_checkpoint(path)
    done = checkpoint["iteration"] + 1
    if not args.resume:
        if done < checkpoint["iterations"]:
            raise InputError(
                f"{shown(path)} holds an unfinished run (stopped after iteration "
                f"{done - 1} of {checkpoint['iterations']}); continue it with "
                "--resume, or start over with --start-over"
            )
        return None
    wanted = json.loads(json.dumps({k: config[k] for k in KEPT_BY_RESUME}))  # lists
    for name, value in wanted.items():
        saved = checkpoint["settings"].get(name, value)
        if saved != value:
            way = name  # or the flag that sets it back
            if name in inputs.FLAGS:
                way = f"{inputs.flag(name)} {shlex.quote(str(saved))}"
            raise InputError(
                f"the checkpoint's run has {name} = {saved!r}, this one {value!r}; "
                f"resume with {way} as it was, or start over with --start-over"
            )
    if done >= iterations:
        print(
            f"Nothing to do: the checkpoint has done {done} iterations and "
            f"{iterations} were asked for; to go on, ask for more than {done} with "
            "--iterations."
        )
        sys.exit(0)
    return checkpoint


# -----------------------------------------------------------------------------
# A run: what it writes as it goes and when it ends
class Run:
    """One run of gan.py's loop: where it starts, its losses, grid noise and
    checkpoints, and the files it writes when it ends. Ctrl-C or SIGTERM asks the loop
    to stop after the current iteration, another one to hurry: the checkpoint still,
    the plot and GIF not. None raises."""

    LOSSES = ("D loss", "D acc", "G loss")

    def __init__(self, models, config, checkpoint=None):
        self.models, self.config, self.checkpoint = models, config, checkpoint
        self.images = config["IMAGES_DIR"]
        self.stop_signals = []  # Ctrl-C's SIGINT, SIGTERM: as they come
        self.saved = -1  # the iteration of the last checkpoint
        self.history = []  # D loss, D accuracy and G loss of every iteration
        self.progbar = None
        # The same latent points in every grid show one set of digits forming.
        shape = (config["GRID_ROWS"] * config["GRID_COLS"], config["LATENT_DIM"])
        rng = np.random.default_rng(config["SEED"])
        self.fixed_noise = rng.normal(size=shape).astype("float32")

    def __enter__(self):
        if self.checkpoint is not None:
            self.restore_checkpoint(self.checkpoint)
        self.start = self.saved + 1
        if sys.stdout.isatty() or inputs.ipython():  # a log file would keep each redraw
            self.progbar = keras.utils.Progbar(
                self.config["ITERATIONS"] - self.start,
                unit_name="iteration",
                stateful_metrics=self.LOSSES,  # this batch's own, not running means
            )
        # Last: if anything above fails, no handler is left behind.
        stops = (signal.SIGINT, signal.SIGTERM)
        self.previous = {s: signal.getsignal(s) for s in stops}
        for s in stops:
            if self.previous[s] is not signal.SIG_IGN:  # as `nohup` or `&` left it
                signal.signal(s, lambda signum, _: self.stop_signals.append(signum))
        return self

    @property
    def last(self):
        """The last iteration done, -1 before the first."""
        return len(self.history) - 1

    def record(self, d_loss, d_acc, g_loss):
        self.history.append((d_loss, d_acc, g_loss))
        if self.progbar:
            self.progbar.add(1, list(zip(self.LOSSES, (d_loss, d_acc, g_loss))))

    def print(self, line):
        if self.progbar:  # the line replaces the bar: spaces over it, as Keras's do
            sys.stdout.write("\r" + " " * self.progbar._prev_total_width + "\r")
        print(line, flush=True)

    def write_csv(self):
        path = os.path.join(self.images, "losses.csv")
        with atomic_write(path) as temporary, open(temporary, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(("iteration", "d_loss", "d_accuracy", "g_loss"))
            writer.writerows((i, *row) for i, row in enumerate(self.history))

    def plot_losses(self):
        """Raw values faint, a moving average on top."""
        history = np.array(self.history, "float64").reshape(-1, 3)
        steps = np.arange(len(history))
        window = max(1, len(history) // 100)
        fig = Figure(figsize=(8, 6))
        ax_loss, ax_acc = fig.subplots(2, 1, sharex=True)
        for column, label in enumerate(["D loss", "D accuracy", "G loss"]):
            ax = ax_acc if label == "D accuracy" else ax_loss
            (line,) = ax.plot(steps, history[:, column], alpha=0.2, linewidth=0.5)
            smooth = np.convolve(history[:, column], np.ones(window) / window, "valid")
            ax.plot(steps[window - 1 :], smooth, color=line.get_color(), label=label)
            ax.legend(loc="upper right")
        ax_loss.set_ylabel("binary cross-entropy")
        ax_acc.set(xlabel="iteration", ylabel="accuracy")
        save_figure(fig, os.path.join(self.images, "losses.png"))

    def save_checkpoint(self, iteration):
        self.write_csv()  # never behind the checkpoint
        _, keys, pos, has_gauss, gauss = np.random.get_state()  # gan.py's noise
        arrays = dict(
            iteration=iteration,
            iterations=self.config["ITERATIONS"],
            settings=json.dumps({k: self.config[k] for k in KEPT_BY_RESUME}),
            history=np.array(self.history, "float64").reshape(-1, 3),
            grid_noise=self.fixed_noise,
            numpy_random_keys=keys,
            numpy_random_rest=[pos, has_gauss, gauss],
        )
        for name, variables in checkpointed_variables(*self.models).items():
            for i, variable in enumerate(variables):
                arrays[f"{name}/{i}"] = keras.ops.convert_to_numpy(variable)
        path = self.config["CHECKPOINT_PATH"]
        with atomic_write(path, sync=True) as temporary, open(temporary, "wb") as f:
            np.savez(f, **arrays)
        self.saved = iteration

    def restore_checkpoint(self, checkpoint):
        for name, variables in checkpointed_variables(*self.models).items():
            for i, variable in enumerate(variables):
                value = checkpoint.get(f"{name}/{i}")
                if value is None or value.shape != tuple(variable.shape):
                    raise InputError(
                        f"checkpoint {shown(self.config['CHECKPOINT_PATH'])} does not "
                        f"fit this file's {name} (made with other layer sizes?); "
                        "restore them, or start over with --start-over"
                    )
                variable.assign(value)
        pos, has_gauss, gauss = checkpoint["numpy_random_rest"]
        keys = checkpoint["numpy_random_keys"]
        np.random.set_state(("MT19937", keys, int(pos), int(has_gauss), gauss))
        self.saved = checkpoint["iteration"]
        self.history = [tuple(row) for row in checkpoint["history"][: self.saved + 1]]
        self.fixed_noise = checkpoint["grid_noise"]

    def __exit__(self, kind, error, traceback):
        try:
            if kind is None:
                self.finish()
        finally:
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
        extras = [("the loss plot", self.plot_losses), ("the GIF", self.gif)]
        for name, write in extras:
            if len(self.stop_signals) > (0 if self.finished else 1):
                self.skipped.append(name)  # asked to hurry
            else:
                write()

    def gif(self):
        """The grids that exist, in order, each frame labelled with its iteration."""
        frames, mode = [], "RGB" if self.config["IMG_SHAPE"][-1] == 3 else "L"
        for i in range(0, self.last + 1, self.config["SAMPLE_INTERVAL"]):
            grid = os.path.join(self.images, f"{i}.png")
            if os.path.exists(grid):
                frames.append(Image.open(grid).convert(mode))
                ImageDraw.Draw(frames[-1]).text(
                    (10, 10), f"iteration {i}", fill="black"
                )
        options = dict(save_all=True, duration=self.config["GIF_FRAME_MS"], loop=0)
        if frames:
            with atomic_write(os.path.join(self.images, "progress.gif")) as temporary:
                frames[0].save(temporary, append_images=frames[1:], **options)

    def stop_report(self, script, argv):
        """What a stopped run prints: where it stopped, what it skipped, and the
        command that continues it, ready to paste into the same terminal."""
        skipped = f"; skipped {' and '.join(self.skipped)}" if self.skipped else ""
        if self.finished:
            return f"Stopped while finishing, after the last iteration{skipped}."
        invoked = ["python", script]  # called in-process, by a test say
        if os.path.basename(sys.argv[0]) == script:  # the interpreter, options, path
            invoked = sys.orig_argv[: len(sys.orig_argv) - len(sys.argv) + 1]
            if inputs.ipython():  # the kernel's interpreter: the user typed %run
                invoked = ["%run", sys.argv[0]]
        args = sys.argv[1:] if argv is None else argv
        args = [a for a in args if a not in ("--resume", "--start-over")]
        command = shlex.join([*invoked, *args, "--resume"])
        return f"Stopped after iteration {self.last}{skipped}. To continue:\n{command}"
