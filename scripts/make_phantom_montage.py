"""Draw docs/phantoms.png: six synthetic chest X-rays, positives with their pneumothorax outlined in red.

Run from the repository root: ``python scripts/make_phantom_montage.py [--out docs/phantoms.png]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the montage is a file for the docs, never a window
import matplotlib.pyplot as plt

from ptxseg.phantom.synthetic import make_phantom

# (positive, seed, difficulty): both sides, both sites, easy to subtle, and negatives for comparison.
_EXAMPLES = [(True, 1, 0.0), (True, 6, 0.3), (True, 2, 0.5), (True, 10, 0.8), (False, 1, 0.3), (False, 4, 0.8)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/phantoms.png"))
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    figure, axes = plt.subplots(2, 3, figsize=(9, 6.4), dpi=100)
    for axis, (positive, seed, difficulty) in zip(axes.flat, _EXAMPLES, strict=True):
        phantom = make_phantom(args.size, positive=positive, seed=seed, difficulty=difficulty)
        axis.imshow(phantom.image, cmap="gray", vmin=0.0, vmax=1.0)
        if phantom.mask.any():
            axis.contour(phantom.mask, levels=[0.5], colors="red", linewidths=0.8)
        finding = f"pneumothorax, patient's {phantom.side}" if positive else "no pneumothorax"
        axis.set_title(f"seed {seed}, difficulty {difficulty}\n{finding}", fontsize=8)
        axis.set_axis_off()
    figure.suptitle("ptxseg synthetic chest X-rays (PA view: the patient's right is on the image's left)", fontsize=9)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
