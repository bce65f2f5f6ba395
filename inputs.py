"""Reading and checking what a run is given: Keras's backend, flags, constants, MNIST,
output folders. Every problem is an InputError: one sentence that says what to fix,
raised before anything trains. It is a SystemExit, so uncaught it ends the script with
`<script>: error: <sentence>` on stderr and exit status 1, as sys.exit does.
"""

import argparse
import contextlib
import functools
import importlib
import os
import signal
import sys
import tempfile

import numpy as np


class InputError(SystemExit):
    """Bad input, or a folder or disk that fails a run: one sentence on what to fix."""

    def __init__(self, sentence):
        super().__init__(f"{program()}: error: {sentence}")
        self.sentence = sentence

    def __str__(self):
        return self.sentence


def program():
    return os.path.basename(sys.argv[0]) or "python"


def shown(path):
    """A path as the user can find it: relative ones with the folder they resolve in."""
    path = os.fspath(path)
    return repr(path) if os.path.isabs(path) else f"{path!r} (in {os.getcwd()})"


# -----------------------------------------------------------------------------
# Start-up: before Keras loads, which takes seconds
class ExitOnStop:
    """A signal handler for a script's first seconds: Ctrl-C or SIGTERM ends it at
    once with `message`, until the script installs handlers of its own."""

    def __init__(self, message):  # installs itself
        self.message = message
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # as `nohup` left it
                signal.signal(signum, self)

    def __call__(self, signum, frame):
        for other in (signal.SIGINT, signal.SIGTERM):
            signal.signal(other, signal.SIG_IGN)  # a second Ctrl-C must not interrupt
        print(f"{program()}: {self.message}", file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)


@contextlib.contextmanager
def quiet_stderr():
    """TensorFlow's C++ libraries write start-up notes (CUDA probes, CPU features) to
    file descriptor 2, whatever TF_CPP_MIN_LOG_LEVEL says; a sentence about bad input
    must come first, so they go nowhere meanwhile. Python's sys.stderr does not."""
    sys.stderr.flush()
    previous, sys.stderr = sys.stderr, os.fdopen(os.dup(2), "w")
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(sys.stderr.fileno(), 2)
        sys.stderr.close()
        sys.stderr = previous


def load_keras():
    """Imports Keras and its backend quietly; a backend that cannot load, or a Keras
    too old for this script, is one sentence. TensorFlow's INFO notes stay hidden for
    the whole run, its warnings and errors (a GPU out of memory, say) do not."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        with quiet_stderr():
            import keras
    except (ImportError, ValueError) as err:  # ValueError: an unknown KERAS_BACKEND
        fix = f"`pip install {err.name}`, or " if getattr(err, "name", None) else ""
        raise InputError(
            f"Keras could not load its backend ({err}); {fix}set KERAS_BACKEND to one "
            "that is installed: tensorflow, jax or torch"
        ) from None
    if keras_version() < (3, 8):  # 3.6 and 3.7 break when `combined` is compiled
        raise InputError(
            f"Keras {keras.__version__} is installed and this script needs Keras 3.8 "
            "or newer; pip install -U 'keras>=3.8'"
        )


@functools.cache  # train_on_batch asks at every step
def keras_version():
    """(3, 15) for Keras 3.15.1, once loaded."""
    return tuple(int(n) for n in sys.modules["keras"].__version__.split(".")[:2])


def platform_line():
    """What a run is on: `Keras 3.15.1, TensorFlow 2.21.0 backend, on CPU (no GPU
    visible)`: the question users of the original asked most after errors."""
    import keras

    backend = keras.backend.backend()
    module = importlib.import_module(backend)
    with quiet_stderr():  # TensorFlow's device probe writes its CUDA notes again
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


# -----------------------------------------------------------------------------
# Flags and constants
class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a bad flag reported as one sentence (no usage block)."""

    def error(self, message):
        sys.exit(f"{self.prog}: error: {message}; see --help")


# The whole numbers among gan.py's constants, and the ranges that make sense. The
# iterations' bound keeps a typo from looking like a plan; nothing is allocated for it.
WHOLE_NUMBERS = {
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
FLAGS = ("ITERATIONS", "BATCH_SIZE", "SAMPLE_INTERVAL", "CHECKPOINT_INTERVAL", "SEED")


def parse_args(constants, argv=None):
    """gan.py's flags: each of FLAGS overrides its constant for one run."""
    doc = constants["__doc__"].splitlines()[0]
    parser = ArgumentParser(prog="gan.py", description=doc)
    for name in FLAGS:
        help = f"{name}: {constants[name]}"
        parser.add_argument(flag(name), type=flag_type(name), help=help)
    add = parser.add_mutually_exclusive_group().add_argument
    add("--resume", action="store_true", help="continue a stopped run")
    add("--start-over", action="store_true", help="replace a stopped run")
    add_mnist_path(parser)
    return parser.parse_args(argv)


def run_config(constants, args):
    """Every knob of this run: the constants, with the flags' values where given."""
    flags = {k.upper(): v for k, v in vars(args).items() if v is not None}
    return {k: flags.get(k, v) for k, v in constants.items() if k.isupper()}


def flag(name):
    """--batch-size: the flag that overrides the constant BATCH_SIZE for one run."""
    return "--" + name.lower().replace("_", "-")


def labelled(name):
    """ITERATIONS (--iterations): a constant, with its flag where it has one."""
    return f"{name} ({flag(name)})" if name in FLAGS else name


def flag_type(name):
    """An argparse type: a whole number in the range of the constant `name`."""
    return whole_number(*WHOLE_NUMBERS[name])


def whole_number(minimum, maximum=None):
    """An argparse type: a whole number in [minimum, maximum]."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            error = f"expected a whole number, got {text!r}"
            raise argparse.ArgumentTypeError(error) from None
        check_whole_number("", value, minimum, maximum, argparse.ArgumentTypeError)
        return value

    return parse


def check_whole_number(name, value, minimum, maximum=None, error=InputError):
    name = f"{name} " if name else ""
    if not isinstance(value, int) or isinstance(value, bool):
        raise error(f"{name}must be a whole number, got {value!r}")
    if value < minimum:
        raise error(f"{name}must be at least {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise error(f"{name}must be at most {maximum}, got {value!r}")


def check_config(config):
    """The constants can be edited too: refuse nonsense before building anything."""
    for name, (low, high) in WHOLE_NUMBERS.items():
        check_whole_number(labelled(name), config[name], low, high)
    for name, within, interval in [
        ("LEARNING_RATE", lambda v: 0 < v <= 1, "(0, 1]"),
        ("BETA_1", lambda v: 0 <= v < 1, "[0, 1)"),
    ]:
        value = config[name]
        real = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (real and within(value)):  # NaN and the infinities fail within() too
            raise InputError(f"{name} must be a number in {interval}, got {value!r}")
    if config["IMG_SHAPE"] != (28, 28, 1):
        raise InputError(f"IMG_SHAPE must be (28, 28, 1), got {config['IMG_SHAPE']}")


def check_batch_size(batch_size, n_images):
    if batch_size > n_images:
        raise InputError(
            f"{labelled('BATCH_SIZE')} must be at most {n_images}, the number of "
            f"training images, got {batch_size}"
        )


def add_mnist_path(parser):
    parser.add_argument("--mnist-path", help="a local mnist.npz (default: $MNIST_PATH)")


def mnist_path(args, default):
    """(path, source): the MNIST file named by --mnist-path, else `default` (gan.py's
    MNIST_PATH; empty means download), and where it was named, for the fix."""
    if args.mnist_path:
        return args.mnist_path, "--mnist-path"
    return default, "MNIST_PATH"


# -----------------------------------------------------------------------------
# Files: which kind of wrong a path is, MNIST, output folders
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


def read_npz(path, what, fix, keys=()):
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


def read_mnist(path, source="MNIST_PATH", splits=("train",), labels=False):
    """{"x_train": ..., ...} uint8 arrays from an mnist.npz in keras.datasets.mnist's
    layout, each checked; from keras.datasets.mnist.load_data() when path is empty.
    `source` names where the path came from (MNIST_PATH or --mnist-path), for the fix.
    """
    keys = [f"x_{split}" for split in splits]
    keys += [f"y_{split}" for split in splits] if labels else []
    name = f"MNIST file {shown(path)}" if path else "keras.datasets.mnist"
    if path:
        fix = f"download it again or fix {source}"
        arrays = read_npz(path, "MNIST file", fix, keys)
    else:
        import keras  # only here: inputs.py is read before Keras loads

        try:
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception:
            raise InputError(
                "could not download MNIST (no network?); set MNIST_PATH or "
                "--mnist-path to a local mnist.npz in Keras's layout"
            ) from None
        arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    for split in splits:
        x = arrays[f"x_{split}"]
        if x.shape[1:] != (28, 28) or len(x) == 0 or x.dtype != np.uint8:
            raise InputError(
                f"{name} has x_{split} of shape {x.shape} and dtype {x.dtype}; "
                "expected (N, 28, 28) uint8 pixels in 0..255"
            )
        y = arrays.get(f"y_{split}")  # checked where labels are asked for
        if labels and (y.shape != (len(x),) or not set(np.unique(y)) <= set(range(10))):
            raise InputError(
                f"{name} has y_{split} of shape {y.shape} and dtype {y.dtype}; "
                f"expected one digit 0..9 per image of x_{split}"
            )
    return arrays


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
