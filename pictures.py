"""The pictures a run trains on, read once into uint8 arrays: Keras's datasets (MNIST,
Fashion-MNIST) from an .npz in Keras's layout or downloaded, or a folder of your own
pictures, fitted to IMG_SHAPE; every problem one sentence (an InputError)."""

import contextlib
import glob
import os
import sys
import time

import inputs  # first: it refuses a too old Python before NumPy loads
import numpy as np
from inputs import KERAS_DATASETS, InputError, shown, with_flag
from PIL import Image, UnidentifiedImageError

IMAGE_FILES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
BACKGROUND = "black"  # under transparent pixels, for every picture: MNIST's background


def read_data(data, shape, path="", splits=("train",), labels=False):
    """{"x_train": ..., "y_train": ..., "x_test": ..., "y_test": ..., "classes": ...}:
    uint8 images of `shape` and their labels, of the splits asked for, as far as the
    data have them: a folder's, or one of KERAS_DATASETS from the .npz at `path` in
    Keras's layout (downloaded when `path` is empty)."""
    if data not in KERAS_DATASETS:
        return read_folder(data, shape, splits)
    keys = [f"{xy}_{split}" for xy in ("xy" if labels else "x") for split in splits]
    title = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}[data]
    constant = with_flag(KERAS_DATASETS[data])
    what = f"{title} file {shown(path)}" if path else f"keras.datasets.{data}"
    if path:
        fix = f"download it again or fix {constant}"
        arrays = inputs.read_npz(path, f"{title} file", fix, keys)
    else:
        import keras  # only here: this is read before Keras loads

        try:
            splits_read = getattr(keras.datasets, data).load_data()
        except Exception:
            raise InputError(
                f"could not download {title} (no network?); set {constant} to a local "
                f"{data}.npz in Keras's layout"
            ) from None
        names = ("x_train", "y_train", "x_test", "y_test")
        arrays = dict(zip(names, (a for pair in splits_read for a in pair)))
    check_memory(sum(len(arrays[f"x_{s}"]) for s in splits), shape, f"{data}'s")
    for split in splits:
        x, y = arrays[f"x_{split}"], arrays.get(f"y_{split}")
        if x.shape[1:] != (28, 28) or len(x) == 0 or x.dtype != np.uint8:
            raise InputError(
                f"{what} has x_{split} of shape {x.shape} and dtype {x.dtype}; "
                "expected (N, 28, 28) uint8 pixels in 0..255"
            )
        if labels and (y.shape != (len(x),) or not set(np.unique(y)) <= set(range(10))):
            raise InputError(
                f"{what} has y_{split} of shape {y.shape} and dtype {y.dtype}; "
                f"expected one class 0..9 per image of x_{split}"
            )
        if shape != (28, 28, 1):  # fitted as a folder's pictures are
            x = np.stack([pixels(Image.fromarray(image), shape) for image in x])
        arrays[f"x_{split}"] = x.reshape(-1, *shape)  # a channel axis
    arrays = {key: arrays[key] for key in keys}
    return arrays | {"classes": [str(digit) for digit in range(10)]}


def folder_files(folder):
    """(pictures, others): the files below folder, pictures sorted (the same run each
    time); hidden ones (.DS_Store, macOS's ._ copies) are others, never pictures."""
    names = glob.glob("**/*", root_dir=folder, recursive=True)
    pictures = sorted(n for n in names if n.lower().endswith(IMAGE_FILES))
    hidden = glob.glob("**/.*", root_dir=folder, recursive=True)
    names = set(names + hidden) - set(pictures)
    return pictures, [n for n in names if os.path.isfile(os.path.join(folder, n))]


def read_folder(folder, shape, splits):
    """A folder of pictures as read_data returns them, in the conventions of
    keras.utils.image_dataset_from_directory: a train/ subfolder and test/ are the
    splits (or all is train), and two or more subfolders holding every picture of a
    split are classes. The files that cannot be read are named in one sentence."""
    import keras

    roots = {"train": folder}
    if os.path.isdir(os.path.join(folder, "train")):
        roots = {s: os.path.join(folder, s) for s in ("train", "test")}
    names = {s: folder_files(roots[s])[0] for s in splits if s in roots}
    names = {s: n for s, n in names.items() if n}  # an empty test/ is no test split
    if "train" not in names:
        raise InputError(
            f"folder {shown(roots['train'])} holds no images (PNG, JPEG, BMP or GIF, "
            "in subfolders or not); put some there, or set DATA (--data) to another"
        )
    paths = [os.path.join(roots[s], name) for s in names for name in names[s]]
    check_memory(len(paths), shape, f"the images of {shown(folder)}")
    images, unreadable = np.empty((len(paths), *shape), np.uint8), []
    start, progbar = time.monotonic(), None
    for i, path in enumerate(paths):
        try:  # not keras.utils.load_img: its conversion drops transparency
            with Image.open(path) as image:
                images[i] = pixels(image, shape)
        except Exception as err:  # why, in a few plain words
            if getattr(err, "strerror", None):  # open() failed: Permission denied, ...
                why = err.strerror
            elif isinstance(err, UnidentifiedImageError):
                why = "empty" if os.path.getsize(path) == 0 else "not an image"
            else:
                why = "truncated" if "truncated" in str(err) else f"damaged: {err}"
            unreadable.append(f"{os.path.relpath(path, folder)!r} ({why})")
        if progbar is None and time.monotonic() - start > 3:  # slow: show progress
            verbose = 1 if sys.stdout.isatty() else 2  # a log file gets one line
            progbar = keras.utils.Progbar(
                len(paths), unit_name="image", verbose=verbose
            )
        if progbar:
            progbar.update(i + 1)
    if unreadable:
        n, more = len(unreadable), len(unreadable) - 5
        listed = ", ".join(unreadable[:5]) + (f" and {more:,} more" if more > 0 else "")
        raise InputError(
            f"folder {shown(folder)} has {n:,} file{'s' * (n > 1)} that cannot be "
            f"read: {listed}; replace or remove {'them' if n > 1 else 'it'}"
        )
    ends = np.cumsum([len(n) for n in names.values()])[:-1]
    arrays = {f"x_{s}": x for s, x in zip(names, np.split(images, ends))}
    labels = {s: [os.path.dirname(n).split(os.sep)[0] for n in names[s]] for s in names}
    classes = sorted(set(labels["train"]))
    labelled = "" not in classes and len(classes) > 1
    if labelled and all(set(labels[s]) <= set(classes) for s in names):  # test/'s too
        arrays.update({f"y_{s}": np.searchsorted(classes, labels[s]) for s in names})
        arrays["classes"] = classes
    return arrays


def pixels(image, shape):
    """A PIL image as a uint8 array of shape, grey (1 channel) or colour (3), its
    transparent parts (alpha, or a palette's transparent colour) over BACKGROUND."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, BACKGROUND), image)
    image = image.convert("L" if shape[-1] == 1 else "RGB")
    if image.size != (shape[1], shape[0]):
        image = image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(image).reshape(shape)


def describe(data, arrays):
    """`Read 70,000 pictures from mnist at (28, 28, 1): 60,000 train, 10,000 test, 10
    classes`, with a folder's count of files that are not pictures (notes.txt)."""
    n = {s: len(arrays[f"x_{s}"]) for s in ("train", "test") if f"x_{s}" in arrays}
    splits = ", ".join(f"{count:,} {split}" for split, count in n.items())
    classes = len(arrays.get("classes", ())) or "no"
    name = data if data in KERAS_DATASETS else repr(data)
    line = f"Read {sum(n.values()):,} pictures from {name} at "
    line += f"{arrays['x_train'].shape[1:]}: {splits}, {classes} classes"
    skipped = 0 if data in KERAS_DATASETS else len(folder_files(data)[1])
    if skipped:
        files = f"{skipped:,} files that are not pictures" if skipped > 1 else ""
        line += f" (skipped {files or '1 file that is not a picture'})"
    return line


def check_memory(n_images, shape, what):
    """Refuses, before reading, images that will not fit in memory: uint8 as read and
    float32 as trained on, and the generator's last layer (weights, Adam, gradients)."""
    need = (5 * n_images + 16 * 1024) * int(np.prod(shape))
    with contextlib.suppress(AttributeError, ValueError, OSError):  # Windows: unchecked
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if need > have:
            raise InputError(
                f"{what} ({n_images:,} at IMG_SHAPE {tuple(shape)}) need about "
                f"{need / 2**30:.1f} GiB of memory and this machine has "
                f"{have / 2**30:.1f} GiB; make IMG_SHAPE smaller or use fewer images"
            )
