"""Build resources/fashion-mnist-sample.npz: a stratified, seeded sample of Fashion-MNIST.

    python scripts/make_fashion_sample.py [--source ../shared/data/fashion-mnist]

Train: 1,000 images per class (10,000), test: 200 per class (2,000), drawn without replacement
with numpy's PCG64 seeded with SEED, kept in the original file order. The output is byte-for-byte
deterministic (fixed zip timestamps, fixed compression level). Also writes the licence file.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
#: the development data next to the project checkout (../shared/data), never copied into it
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

from app.data.builtin import FASHION_CLASSES, load_builtin  # noqa: E402
from app.core.paths import resources_dir  # noqa: E402

SEED = 20171128   # Fashion-MNIST's release date
TRAIN_PER_CLASS = 1000
TEST_PER_CLASS = 200

LICENSE = """\
This file covers resources/fashion-mnist-sample.npz, a sample of the Fashion-MNIST data set
(https://github.com/zalandoresearch/fashion-mnist): {train} training images ({tpc} per class) and
{test} test images ({spc} per class), 28x28 grey, with their labels. They were drawn without
replacement, stratified by class, with numpy's PCG64 generator seeded with {seed}, from the official
train and t10k files, kept in their original order, by scripts/make_fashion_sample.py.
The pixels are unchanged.

The MIT License (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def stratified(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    picks = []
    for k in range(10):
        members = np.flatnonzero(labels == k)
        if members.size < per_class:
            raise SystemExit(f"class {k} has only {members.size} images, need {per_class}")
        picks.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but with fixed timestamps so the bytes are reproducible."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(SHARED_DATA / "fashion-mnist"),
                        help="folder with the four Fashion-MNIST IDX files")
    parser.add_argument("--out", default=str(resources_dir()), help="output folder")
    args = parser.parse_args()

    ds = load_builtin("fashion-mnist", args.source)
    rng = np.random.Generator(np.random.PCG64(SEED))
    tr = stratified(ds.train.labels.numpy(), TRAIN_PER_CLASS, rng)
    te = stratified(ds.test.labels.numpy(), TEST_PER_CLASS, rng)
    arrays = {
        "x_train": ds.train.images[tr, 0].numpy(),
        "y_train": ds.train.labels[tr].numpy().astype(np.int64),
        "x_test": ds.test.images[te, 0].numpy(),
        "y_test": ds.test.labels[te].numpy().astype(np.int64),
        "classes": np.array(FASHION_CLASSES),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    npz = out / "fashion-mnist-sample.npz"
    write_npz(npz, arrays)
    (out / "FASHION-MNIST-LICENSE.txt").write_text(
        LICENSE.format(train=tr.size, tpc=TRAIN_PER_CLASS, test=te.size, spc=TEST_PER_CLASS, seed=SEED),
        encoding="utf-8")
    digest = hashlib.sha256(npz.read_bytes()).hexdigest()
    print(f"wrote {npz} ({npz.stat().st_size / 1e6:.2f} MB, sha256 {digest[:16]}...), "
          f"train {tr.size}, test {te.size}")


if __name__ == "__main__":
    main()
