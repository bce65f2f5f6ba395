"""What a run is given, checked before it starts: Python, Keras and its backend, the
constants and flags, the files it reads and the folders it writes. Every problem is an
InputError, one sentence on what to fix."""

import argparse
import contextlib
import functools
import importlib.util
import os
import signal
import sys
import tempfile


def ipython_shell():
    """The IPython shell running this (a notebook's kernel, say), or None."""
    return "IPython" in sys.modules and sys.modules["IPython"].get_ipython() or None


def program():
    return os.path.basename(sys.argv[0]) or "python"


# A SystemExit, uncaught, ends a script with `<script>: error: <sentence>` and status 1;
# in IPython it comes with notes and a warning, so there it is an Exception that shows
# one line in place of a traceback.
class InputError(Exception if ipython_shell() else SystemExit):
    """Bad input, or a folder or disk that fails a run: one sentence on what to fix."""

    def __init__(self, sentence):
        super().__init__(f"{program()}: error: {sentence}")
        self.sentence = sentence

    def __str__(self):
        return self.sentence

    def _render_traceback_(self):  # what IPython shows
        return [f"error: {self.sentence}"]


def check_python():
    """Python 3.9 and older are past their end of life; 3.10 to 3.13 are tested."""
    if sys.version_info < (3, 10):
        raise InputError(
            f"Python {'.'.join(map(str, sys.version_info[:3]))} is running this "
            "script, which needs Python 3.10 or newer (3.10 to 3.13 are tested); run "
            "it with python3.10 or newer"
        )


check_python()  # on import, before NumPy: the scripts import inputs first
import numpy as np


def shown(path):
    """A path as the user can find it: relative ones with the folder they resolve in."""
    path = os.fspath(path)
    return repr(path) if os.path.isabs(path) else f"{path!r} (in {os.getcwd()})"


# --- Start-up: before Keras loads, which takes seconds
class ExitOnStop:
    """A signal handler for a script's first seconds: Ctrl-C or SIGTERM ends it at
    once with `message`, until the script installs handlers of its own."""

    def __init__(self, message):  # installs itself, but not in a notebook's kernel
        self.message = message
        for signum in () if ipython_shell() else (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # as `nohup` left it
                signal.signal(signum, self)

    def __call__(self, signum, frame):
        for other in (signal.SIGINT, signal.SIGTERM):
            signal.signal(other, signal.SIG_IGN)  # a second Ctrl-C must not interrupt
        print(f"{program()}: {self.message}", file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)


def load_keras():
    """Imports Keras and its backend and brings up the devices, with file descriptor
    2 pointed to nowhere (Python's sys.stderr not): TensorFlow's C++ start-up notes
    ignore TF_CPP_MIN_LOG_LEVEL, and a sentence about bad input comes first."""
    # TensorFlow's INFO notes stay hidden, its warnings (GPU out of memory) do not.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    sys.stderr.flush()
    stderr, sys.stderr = sys.stderr, os.fdopen(os.dup(2), "w")
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        import keras

        if keras_version() < (3, 8):  # 3.6 and 3.7 break when `combined` is compiled
            raise InputError(
                f"Keras {keras.__version__} is installed and this script needs Keras "
                "3.8 or newer; pip install -U 'keras>=3.8'"
            )
        # TensorFlow looks for GPUs at its first tensor, and on a machine with CUDA's
        # libraries and no GPU logs "failed call to cuInit", an error that is none.
        keras.ops.zeros(())
        platform_line()
        # keras.utils.set_random_seed seeds TensorFlow wherever it is installed (for
        # tf.data), whatever the backend: it loads now, quietly, not in the run.
        if importlib.util.find_spec("tensorflow"):
            importlib.import_module("tensorflow")
    except (ImportError, ValueError) as err:  # ValueError: unknown KERAS_BACKEND
        fix = f"`pip install {err.name}`, or " if getattr(err, "name", None) else ""
        raise InputError(
            f"Keras could not load its backend ({err}); {fix}set KERAS_BACKEND to "
            "one that is installed: tensorflow, jax or torch"
        ) from None
    finally:
        sys.stderr.flush()
        os.dup2(sys.stderr.fileno(), 2)
        sys.stderr.close()
        sys.stderr = stderr


@functools.cache  # losses_of_batch asks at every step
def keras_version():
    """(3, 15) for Keras 3.15.1, once loaded."""
    return tuple(int(n) for n in sys.modules["keras"].__version__.split(".")[:2])


@functools.cache  # the devices are probed once, while start-up is quiet
def platform_line():
    """`Keras 3.15.1, TensorFlow 2.21.0 backend, on CPU (no GPU visible)`: what a run is
    on, the question users of the original asked most after errors."""
    import keras

    backend = keras.backend.backend()
    module = importlib.import_module(backend)
    if backend == "jax":
        gpus = [d.device_kind for d in module.devices() if d.platform == "gpu"]
    elif backend == "torch":
        cuda = module.cuda
        gpus = [cuda.get_device_name(i) for i in range(cuda.device_count())]
    else:
        details = module.config.experimental.get_device_details
        gpus = module.config.list_physical_devices("GPU")
        gpus = [details(gpu).get("device_name", gpu.name) for gpu in gpus]
    name = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}[backend]
    where = f"on GPU: {', '.join(gpus)}" if gpus else "on CPU (no GPU visible)"
    return f"Keras {keras.__version__}, {name} {module.__version__} backend, {where}"


# --- Settings: gan.py's constants, a flag overriding one for a run
class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a bad flag reported as one sentence (no usage block)."""

    def error(self, message):
        raise InputError(f"{message}; see --help")


# The constants that a flag overrides (BATCH_SIZE: --batch-size), and the whole
# numbers among the constants with the ranges that make sense. The iterations' bound
# keeps a typo from looking like a plan; nothing is allocated for it.
FLAGS = ("DATA", "ITERATIONS", "BATCH_SIZE", "SAMPLE_INTERVAL", "SEED")
FLAGS += ("CHECKPOINT_INTERVAL", "RESUME", "START_OVER", "MNIST_PATH")
FLAGS += ("FASHION_MNIST_PATH",)
RANGES = {
    "ITERATIONS": (1, 10**12),
    "BATCH_SIZE": (1, None),  # at most the number of training images, once read
    "SAMPLE_INTERVAL": (1, None),
    "CHECKPOINT_INTERVAL": (1, None),
    "SEED": (0, 2**32 - 1),  # what NumPy's seeding takes
    "LATENT_DIM": (1, 100_000),
    "GRID_ROWS": (1, 100),
    "GRID_COLS": (1, 100),
    "GIF_FRAME_MS": (1, 60_000),
}
# Keras's datasets, each with the constant (and environment variable) naming a local
# .npz in Keras's layout for offline use; any other DATA is a folder of pictures.
KERAS_DATASETS = {"mnist": "MNIST_PATH", "fashion_mnist": "FASHION_MNIST_PATH"}


def flag(name):
    """--batch-size: the flag that overrides the constant BATCH_SIZE for one run."""
    return "--" + name.lower().replace("_", "-")


def with_flag(name):
    """ITERATIONS (--iterations): a constant, with its flag where it has one."""
    return f"{name} ({flag(name)})" if name in FLAGS else name


def check_whole_number(name, value, low, high=None):
    if type(value) is not int:  # not a bool either
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if value < low or high is not None and value > high:
        bound = f"at least {low}" if value < low else f"at most {high}"
        raise InputError(f"{name} must be {bound}, got {value!r}")


@contextlib.contextmanager
def settings_for_run(constants, argv):
    """gan.py's constants (its globals) with argv's flags applied and checked for one
    run, then as they were: the one road by which a setting, edited, flagged or a
    notebook's parameter, reaches the code."""
    parser = ArgumentParser(
        prog="gan.py", description="Trains the classic MLP GAN; a flag overrides "
        "its constant (see the top of gan.py) for this run."
    )  # fmt: skip
    either = parser.add_mutually_exclusive_group()
    for name in FLAGS:
        help = f"{name} (now {constants[name]!r})"
        if isinstance(constants[name], bool):  # RESUME, START_OVER
            either.add_argument(flag(name), action="store_const", const=True, help=help)
        else:
            kind = int if name in RANGES else str
            parser.add_argument(flag(name), type=kind, help=help)
    flags = vars(parser.parse_args(argv))
    overrides = {k.upper(): v for k, v in flags.items() if v is not None}
    settings = {k: v for k, v in constants.items() if k.isupper()} | overrides
    # Nonsense, edited or flagged, is refused before anything is built.
    for name, (low, high) in RANGES.items():
        check_whole_number(with_flag(name), settings[name], low, high)
    rate, beta = settings["LEARNING_RATE"], settings["BETA_1"]
    for name, value, within, interval in [
        ("LEARNING_RATE", rate, lambda: 0 < rate <= 1, "(0, 1]"),
        ("BETA_1", beta, lambda: 0 <= beta < 1, "[0, 1)"),
    ]:  # NaN and the infinities fail within() too
        real = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (real and within()):
            raise InputError(f"{name} must be a number in {interval}, got {value!r}")
    shape = settings["IMG_SHAPE"]
    whole = isinstance(shape, tuple) and all(type(n) is int and n > 0 for n in shape)
    if not (whole and len(shape) == 3 and shape[2] in (1, 3)):
        raise InputError(
            "IMG_SHAPE must be (height, width, channels) with a height and width of at "
            f"least 1 and 1 channel (grey) or 3 (colour), got {shape!r}"
        )
    if settings["RESUME"] and settings["START_OVER"]:
        raise InputError("RESUME and START_OVER are both True; set one of them")
    check_data(settings["DATA"])
    if settings["DATA"] not in KERAS_DATASETS:  # a checkpoint compares it
        overrides["DATA"] = os.path.abspath(settings["DATA"])
    before = {name: constants[name] for name in overrides}
    constants.update(overrides)
    try:
        yield
    finally:
        constants.update(before)


def check_data(data):
    """DATA: one of Keras's datasets or a folder."""
    if data not in KERAS_DATASETS and not (type(data) is str and os.path.isdir(data)):
        raise InputError(
            f"{with_flag('DATA')} is {data!r}, which is neither one of Keras's "
            f"datasets ({', '.join(KERAS_DATASETS)}) nor a folder; name one of those "
            "or the folder of your images"
        )


def check_batch_size(batch_size, n_images):
    if batch_size > n_images:
        raise InputError(
            f"{with_flag('BATCH_SIZE')} must be at most {n_images}, the number of "
            f"training images, got {batch_size}"
        )


def make_output_dirs(folders):
    """Creates each folder and writes a little there: an unwritable folder or a full
    disk is one sentence before any work (later, each atomic write says it too)."""
    for folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder) as probe:
                probe.write(bytes(64 * 1024))
                probe.flush()
        except OSError as err:
            raise InputError(
                f"cannot write to output folder {shown(folder)} ({err.strerror}); "
                "make it writable, free some space, or run from another folder"
            ) from None


# --- Files: which kind of wrong an .npz, a checkpoint or a generator file is
def check_readable_file(path, what, fix):
    """A file's first bytes; one sentence if it is missing, unreadable or gzipped."""
    what = f"{what} {shown(path)}"
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        fix = f"make it readable, or {fix}" if isinstance(err, PermissionError) else fix
        raise InputError(f"{what} cannot be read ({err.strerror}); {fix}") from None
    if head[:2] == b"\x1f\x8b":
        raise InputError(f"{what} is gzip-compressed; gunzip it, or {fix}")
    return head


def read_npz(path, what, fix, keys):
    """The arrays of an .npz holding at least `keys`; one sentence for what is wrong."""
    head = check_readable_file(path, what, fix)
    what = f"{what} {shown(path)}"
    if head != b"PK\x03\x04":
        raise InputError(f"{what} is not an .npz (zip) file; {fix}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as err:
        error = f"{what} is damaged, not a readable .npz ({type(err).__name__}: {err})"
        raise InputError(f"{error}; {fix}") from None
    if missing := [key for key in keys if key not in arrays]:
        has = ", ".join(sorted(arrays)) or "nothing"
        raise InputError(f"{what} has no {', '.join(missing)} (it has {has}); {fix}")
    return arrays
