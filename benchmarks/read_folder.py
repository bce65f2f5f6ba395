"""How fast, and in how much memory, does gan.py read a folder of images?

Writes MNIST's 60,000 training images as PNGs into a temporary folder, then times
`gan.load_images()` of the folder in a fresh process, beside that of mnist.npz,
each with its peak resident memory above what `import gan` holds (Linux):

    MNIST_PATH=/path/to/mnist.npz python benchmarks/read_folder.py
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = """import sys, time
def mib(key):
    lines = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(lines[key].split()[0]) // 1024
import gan
gan.DATA, gan.MNIST_PATH = sys.argv[1], sys.argv[-1]
base, start = mib("VmRSS"), time.perf_counter()
x, _ = gan.load_images()
print(f"{time.perf_counter() - start:.2f} s, peak +{mib('VmHWM') - base} MiB", end="")
print(f" (float32 array: {x.nbytes // 2**20} MiB)")
"""


def main():
    path = os.environ.get("MNIST_PATH", "")
    if not os.path.isfile(path):
        sys.exit("read_folder.py: error: set MNIST_PATH to a local mnist.npz")
    with tempfile.TemporaryDirectory() as folder:
        for i, image in enumerate(np.load(path)["x_train"]):
            Image.fromarray(image).save(os.path.join(folder, f"{i:05d}.png"))
        for name, args in [
            ("folder of PNGs", [folder]),
            ("mnist.npz", ["mnist", path]),
        ]:
            command = [sys.executable, "-c", CHILD, *args]
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            print(f"{name}: {result.stdout.strip() or result.stderr[-2000:]}")


if __name__ == "__main__":
    main()
