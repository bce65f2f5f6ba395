"""What keeps a run of gan.py safe and watchable: atomic writes, one run per folder,
the losses and the GIF, checkpoints that continue a run exactly, stop requests, a
progress line, and the Run that ties them to gan.py's loop and constants."""

import contextlib
import csv
import json
import os
import shlex
import signal
import sys
import time

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
    """Yields a temporary path beside `path` and renames it into place once written
    (synced first if `sync`, for a power cut): on any failure `path` is as it was."""
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
        if not isinstance(
            err, OSError
        ):  # a full disk or a denied folder is, everywhere
            raise
        raise InputError(
            f"could not write {shown(path)}: {err.strerror or err}; free some "
            "space or fix the folder's permissions"
        ) from None


def save_figure(fig, path, show=False):
    """Writes the figure to path and, if `show`, shows it in a notebook's output."""
    with atomic_write(path) as temporary:
        fig.savefig(temporary)
    if show and hasattr(inputs.ipython_shell(), "kernel"):  # not a terminal's IPython
        from IPython.display import Image as Picture, display

        display(Picture(filename=path))


@contextlib.contextmanager
def output_folders(*folders):
    """Creates, checks and locks the folders while the block runs. A lock ends with its
    process, however it ends; what a killed run left half-written is then cleared."""
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


# --- What a run writes as it goes: its losses (a CSV and a plot), at the end a GIF
def write_losses_csv(history, folder):
    path = os.path.join(folder, "losses.csv")
    with atomic_write(path) as temporary, open(temporary, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("iteration", "d_loss", "d_accuracy", "g_loss"))
        writer.writerows((i, *row) for i, row in enumerate(history))


def plot_losses(history, folder, show=False):
    """Raw values faint, a moving average on top."""
    history = np.array(history, "float64").reshape(-1, 3)
    steps, window = np.arange(len(history)), max(1, len(history) // 100)
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
    save_figure(fig, os.path.join(folder, "losses.png"), show)


def write_gif(settings, done):
    """The grids of the first `done` iterations, in order, each frame labelled."""
    folder, frames = settings["IMAGES_DIR"], []
    mode = "RGB" if settings["IMG_SHAPE"][-1] == 3 else "L"  # colour or grey
    for i in range(0, done, settings["SAMPLE_INTERVAL"]):
        if os.path.exists(grid := os.path.join(folder, f"{i}.png")):
            frames.append(Image.open(grid).convert(mode))
            ImageDraw.Draw(frames[-1]).text((10, 10), f"iteration {i}", fill="black")
    if frames:
        with atomic_write(os.path.join(folder, "progress.gif")) as temporary:
            options = dict(save_all=True, duration=settings["GIF_FRAME_MS"], loop=0)
            frames[0].save(temporary, append_images=frames[1:], **options)


# --- Checkpoints: weights, optimizer slots, random state, losses and the settings
# that decide what is computed (a resumed run must keep them): a run goes on exactly.
KEPT_BY_RESUME = ("SEED", "BATCH_SIZE", "SAMPLE_INTERVAL", "LEARNING_RATE", "BETA_1")
KEPT_BY_RESUME += ("LATENT_DIM", "IMG_SHAPE", "DATA")
CHECKPOINT = "checkpoint.npz"  # in MODEL_DIR


def trained_variables(generator, discriminator, combined):
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


def save_checkpoint(settings, models, history, grid_noise):
    _, keys, pos, has_gauss, gauss = np.random.get_state()  # gan.py's noise
    arrays = dict(
        iteration=len(history) - 1,
        iterations=settings["ITERATIONS"],
        settings=json.dumps({k: settings[k] for k in KEPT_BY_RESUME}),
        history=np.array(history, "float64").reshape(-1, 3),
        grid_noise=grid_noise,
        numpy_random_keys=keys,
        numpy_random_rest=[pos, has_gauss, gauss],
    )
    for name, variables in trained_variables(*models).items():
        for i, variable in enumerate(variables):
            arrays[f"{name}/{i}"] = keras.ops.convert_to_numpy(variable)
    path = os.path.join(settings["MODEL_DIR"], CHECKPOINT)
    with atomic_write(path, sync=True) as temporary, open(temporary, "wb") as f:
        np.savez(f, **arrays)


def read_checkpoint(path):
    """The checkpoint's arrays; iteration and iterations as ints, settings a dict."""
    keys, fix = ("iteration", "iterations"), "start over with --start-over"
    checkpoint = inputs.read_npz(path, "checkpoint", fix, keys)
    for key in keys:
        checkpoint[key] = int(checkpoint[key])
    checkpoint["settings"] = json.loads(str(checkpoint.get("settings", "{}")))
    return checkpoint


def restore_checkpoint(checkpoint, models, path):
    """Puts the weights and the random state back; returns the losses so far."""
    for name, variables in trained_variables(*models).items():
        for i, variable in enumerate(variables):
            value = checkpoint.get(f"{name}/{i}")
            if value is None or value.shape != tuple(variable.shape):
                raise InputError(
                    f"checkpoint {shown(path)} does not fit this "
                    f"file's {name} (made with other layer sizes?); restore them, or "
                    "start over with --start-over"
                )
            variable.assign(value)
    pos, has_gauss, gauss = checkpoint["numpy_random_rest"]
    keys = checkpoint["numpy_random_keys"]
    np.random.set_state(("MT19937", keys, int(pos), int(has_gauss), gauss))
    return [tuple(row) for row in checkpoint["history"][: checkpoint["iteration"] + 1]]


def checkpoint_to_continue(settings):
    """The checkpoint that RESUME continues, if its settings are this run's; None for
    a run from scratch, which an unfinished run refuses unless START_OVER; False,
    once said, when no work is left."""
    path = os.path.join(settings["MODEL_DIR"], CHECKPOINT)
    iterations = settings["ITERATIONS"]
    if settings["START_OVER"] or not (settings["RESUME"] or os.path.exists(path)):
        return None
    if not os.path.exists(path):
        folder = shown(os.path.dirname(path) or ".")
        raise InputError(
            f"--resume found no checkpoint in {folder}; run without --resume first"
        )
    checkpoint = read_checkpoint(path)
    done = checkpoint["iteration"] + 1
    if not settings["RESUME"]:
        if done < checkpoint["iterations"]:
            raise InputError(
                f"{shown(path)} holds an unfinished run (stopped after iteration "
                f"{done - 1} of {checkpoint['iterations']}); continue it with "
                "--resume, or start over with --start-over"
            )
        return None
    wanted = json.loads(json.dumps({k: settings[k] for k in KEPT_BY_RESUME}))  # lists
    for name, value in wanted.items():
        saved = checkpoint["settings"].get(name, value)
        if saved != value:
            as_it_was = name  # or the flag that sets it back
            if name in inputs.FLAGS:
                as_it_was = f"{inputs.flag(name)} {shlex.quote(str(saved))}"
            raise InputError(
                f"the checkpoint's run has {name} = {saved!r}, this one {value!r}; "
                f"resume with {as_it_was} as it was, or start over with --start-over"
            )
    if done >= iterations:
        print(
            f"Nothing to do: the checkpoint has done {done} iterations and "
            f"{iterations} were asked for; to go on, ask for more than {done} with "
            "--iterations."
        )
        return False
    return checkpoint


# --- Watching and stopping a run
class StopRequests:
    """While in effect, Ctrl-C or SIGTERM (a notebook's stop button too) is counted,
    not raised: the first asks the loop to stop after this iteration, a later one to
    hurry. One within SAME_REQUEST seconds of the last counted is that one again."""

    SAME_REQUEST = 0.2  # GNU timeout signals the process, then its group

    def __init__(self):
        self.signals = []  # one per request, as they came: SIGINT, SIGTERM
        self.counted_at = -float("inf")  # time.monotonic() of the last one counted
        self.previous = {}  # the handlers to put back

    def receive(self, signum, frame):
        if time.monotonic() - self.counted_at >= self.SAME_REQUEST:
            self.signals.append(signum)
            self.counted_at = time.monotonic()

    def __enter__(self):
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.getsignal(signum)
            if self.previous[signum] is not signal.SIG_IGN:  # as `nohup` left it
                signal.signal(signum, self.receive)
        return self

    def __exit__(self, *error):
        for signum, handler in self.previous.items():
            # After a run, a stop must not say that nothing was written: ignore.
            if isinstance(handler, inputs.ExitOnStop):
                handler = signal.SIG_IGN
            signal.signal(signum, handler)


class ProgressLine:
    """Iterations done, time left and the losses, redrawn in place ten times a second
    at most; a log line blanks it with spaces (a notebook ignores escape codes)."""

    def __init__(self, total):
        self.total, self.done, self.width = total, 0, 0
        self.started = self.drawn = time.monotonic()

    def update(self, d_loss, d_acc, g_loss):
        self.done, now = self.done + 1, time.monotonic()
        if now - self.drawn < 0.1 and self.done < self.total:
            return
        self.drawn, step = now, (now - self.started) / self.done
        left = int(step * (self.total - self.done))
        bar = "━" * (20 * self.done // self.total)
        text = f"{self.done}/{self.total} {bar:<20} {1000 * step:.0f}ms/iteration - "
        text += f"{left // 60}:{left % 60:02d} left - D loss: {d_loss:.4f} - D acc: "
        text += f"{d_acc:.4f} - G loss: {g_loss:.4f}"
        end = "\n" if self.done == self.total else ""  # the last one stays
        print("\r" + text.ljust(self.width), end=end, flush=True)
        self.width = 0 if end else len(text)

    def clear(self):
        print("\r" + " " * self.width, end="\r")
        self.width = 0


class Run:
    """gan.py's loop, from scratch or from a checkpoint: its losses, grid noise, stop
    requests and progress line, and what it writes: a checkpoint when asked and at the
    end, with the generator; then the loss plot and the GIF, unless hurried."""

    def __init__(self, models, settings, checkpoint=None):
        self.models, self.settings = models, settings
        self.history = []  # (D loss, D accuracy, G loss) of every iteration
        # The same latent points in every grid show one set of digits forming.
        shape = (settings["GRID_ROWS"] * settings["GRID_COLS"], settings["LATENT_DIM"])
        rng = np.random.default_rng(settings["SEED"])
        self.grid_noise = rng.normal(size=shape).astype("float32")
        if checkpoint is not None:
            path = os.path.join(settings["MODEL_DIR"], CHECKPOINT)
            self.history = restore_checkpoint(checkpoint, models, path)
            self.grid_noise = checkpoint["grid_noise"]
        self.start = self.checkpointed = len(self.history)  # iterations done
        self.stop = StopRequests()
        watched = sys.stdout.isatty() or inputs.ipython_shell()  # not a log file
        left = settings["ITERATIONS"] - self.start
        self.progress = ProgressLine(left) if watched else None
        self.finished = self.hurried = False

    def __enter__(self):
        self.stop.__enter__()
        return self

    def __exit__(self, kind, error, traceback):
        try:
            if kind is None:
                self.finish()
        finally:
            self.stop.__exit__()

    def record(self, d_loss, d_acc, g_loss):
        self.history.append((d_loss, d_acc, g_loss))
        if self.progress:
            self.progress.update(d_loss, d_acc, g_loss)

    def print(self, line):
        if self.progress:
            self.progress.clear()
        print(line, flush=True)

    def write_losses(self):
        write_losses_csv(self.history, self.settings["IMAGES_DIR"])
        plot_losses(self.history, self.settings["IMAGES_DIR"])

    def save_checkpoint(self):
        """The CSV first: it is never behind the checkpoint."""
        write_losses_csv(self.history, self.settings["IMAGES_DIR"])
        save_checkpoint(self.settings, self.models, self.history, self.grid_noise)
        self.checkpointed = len(self.history)

    def finish(self):
        if len(self.history) > self.checkpointed:
            self.save_checkpoint()
        path = os.path.join(self.settings["MODEL_DIR"], "generator.keras")
        with atomic_write(path) as temporary:
            self.models[0].save(temporary)
        self.finished = len(self.history) >= self.settings["ITERATIONS"]
        # The request that ended the loop early is not one to hurry.
        self.hurried = len(self.stop.signals) > (0 if self.finished else 1)
        if not self.hurried:  # the CSV is whole: the checkpoint above wrote it
            plot_losses(self.history, self.settings["IMAGES_DIR"], show=True)
            write_gif(self.settings, len(self.history))

    def stop_report(self, argv, module):
        """Where it stopped, what it skipped, and how to continue: the command, ready
        to paste into the same terminal, or a notebook's line."""
        skipped = "; skipped the loss plot and the GIF" if self.hurried else ""
        if self.finished:
            return f"Stopped while finishing, after the last iteration{skipped}."
        if argv is None:  # a notebook's cells, or `import gan` and gan.main()
            prefix = "" if module == "__main__" else f"{module}."
            command = f"{prefix}RESUME = True; {prefix}main()"
        else:
            invoked = ["python", "gan.py"]  # main(argv) called in-process, by a test
            if os.path.basename(sys.argv[0]) == "gan.py":  # its options and path
                invoked = sys.orig_argv[: len(sys.orig_argv) - len(sys.argv) + 1]
                if inputs.ipython_shell():  # the kernel's interpreter: it was %run
                    invoked = ["%run", sys.argv[0]]
            args = [a for a in argv if a not in ("--resume", "--start-over")]
            command = shlex.join([*invoked, *args, "--resume"])
        stopped = f"Stopped after iteration {len(self.history) - 1}{skipped}"
        return f"{stopped}. To continue:\n{command}"
