"""Composite test sequences for still-camera modes (clean plate), with known ground truth.

A person is cut out of a portrait with its ground-truth mask and placed over a
background photo; the clip then runs as a still webcam would see it:

* a period with **no person** (at the start, the user stepping out while the
  plate is learned; or in the middle, after the person has sat there a while);
* **camera noise** (Gaussian, ``noise`` grey levels) and JPEG compression;
* **small shake**: the whole frame shifts by a random sub-pixel offset per frame
  (``shake`` px standard deviation); the offsets go to ``shifts.csv``
  (``frame,dx,dy``: the frame's offset from frame 0), from which ``segcam eval``
  computes the motion-compensated warp error;
* **exposure drift**: a slow gain change over the clip (``exposure``, relative);
* in every other sequence, a **held object** (a textured disc or box held in
  front of the chest), which counts as person in the masks and is drawn alone
  into ``objects/`` so the evaluation can say whether it came out solid.

Layout (what ``segcam eval DIR`` reads; a folder with ``shifts.csv`` is a sequence)::

    DIR/seq_00/images/0000.jpg ...   masks/0000.png ...   objects/0000.png ...   shifts.csv

Backgrounds are segcam's own generated pictures (``assets/backgrounds``) and
room-like scenes this module draws (shelves, a lamp, a dark wall), never
pictures of people. Everything is seeded: the same call writes the same files.

``python -m segcam.composites OUT --portraits ../shared/data/portraits`` writes them.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segcam.evaluation import find_datasets, load_pair
from segcam.resources import assets_dir


@dataclass(frozen=True, slots=True)
class CompositeSettings:
    size: tuple[int, int] = (960, 540)
    frames: int = 48
    empty: int = 10
    """frames with no person (the step-out period)"""
    shake: float = 0.5
    noise: float = 3.0
    exposure: float = 0.08
    quality: int = 92


def drawn_backgrounds(size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """Room-like scenes without people: a bookshelf wall, a dark office, a plain wall."""
    w, h = size
    rng = np.random.default_rng(seed)
    out = []
    # A bookshelf: warm wall, shelves, books of many colours.
    img = np.empty((h, w, 3), np.uint8)
    img[...] = (150, 180, 205)
    for y in range(int(h * 0.1), h, int(h * 0.22)):
        cv2.rectangle(img, (0, y), (w, y + 10), (40, 70, 100), -1)
        x = 0
        while x < w:
            bw = int(rng.integers(10, 36))
            bh = int(rng.integers(int(h * 0.12), int(h * 0.19)))
            colour = tuple(int(c) for c in rng.integers(20, 235, 3))
            cv2.rectangle(img, (x, y - bh), (x + bw - 2, y - 1), colour, -1)
            x += bw
    out.append(cv2.GaussianBlur(img, (3, 3), 0))
    # A dark office: near-black wall, a lamp, a window's glow (the light-fringe case).
    img = np.full((h, w, 3), 28, np.uint8)
    cv2.rectangle(
        img, (int(w * 0.65), int(h * 0.1)), (int(w * 0.95), int(h * 0.55)), (90, 80, 60), -1
    )
    cv2.circle(img, (int(w * 0.15), int(h * 0.3)), int(h * 0.08), (170, 220, 250), -1)
    cv2.rectangle(
        img, (int(w * 0.13), int(h * 0.38)), (int(w * 0.17), int(h * 0.9)), (60, 60, 60), -1
    )
    img = cv2.GaussianBlur(img, (0, 0), 2)
    out.append(img)
    # A plain wall with a soft gradient and a framed picture.
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = (np.array([200, 205, 210], np.float32) * (0.8 + 0.2 * yy)).astype(np.uint8)
    img = np.ascontiguousarray(np.broadcast_to(img, (h, w, 3)))
    cv2.rectangle(
        img, (int(w * 0.6), int(h * 0.15)), (int(w * 0.85), int(h * 0.5)), (60, 90, 30), -1
    )
    cv2.rectangle(
        img, (int(w * 0.6), int(h * 0.15)), (int(w * 0.85), int(h * 0.5)), (20, 20, 20), 6
    )
    out.append(img)
    return out


def backgrounds(size: tuple[int, int]) -> list[np.ndarray]:
    """segcam's generated backgrounds (cover-fitted to ``size``), then the drawn scenes."""
    from segcam.imaging import load_image

    w, h = size
    out = []
    folder = assets_dir() / "backgrounds"
    for p in sorted(Path(folder).glob("*.jpg")):
        img = load_image(str(p))
        ih, iw = img.shape[:2]
        s = max(w / iw, h / ih)
        img = cv2.resize(img, (round(iw * s), round(ih * s)), interpolation=cv2.INTER_AREA)
        y0, x0 = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
        out.append(np.ascontiguousarray(img[y0 : y0 + h, x0 : x0 + w]))
    return out + drawn_backgrounds(size)


def _held_object(h: int, w: int, rng: np.random.Generator, cx: int, cy: int, r: int):
    """A textured disc ("helmet") or box ("mug", "book") image and its mask, full frame."""
    obj = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    colour = tuple(int(c) for c in rng.integers(30, 230, 3))
    if rng.random() < 0.5:
        cv2.circle(mask, (cx, cy), r, 255, -1)
    else:
        cv2.rectangle(mask, (cx - r, cy - int(0.7 * r)), (cx + r, cy + int(0.7 * r)), 255, -1)
    obj[...] = colour
    # Stripes and a highlight: texture, so it is not a flat patch.
    for k in range(-3, 4):
        y = cy + k * r // 3
        cv2.line(obj, (cx - r, y), (cx + r, y + r // 4), tuple(255 - c for c in colour), 3)
    cv2.circle(obj, (cx - r // 3, cy - r // 3), max(2, r // 5), (245, 245, 245), -1)
    return obj, mask


def _person_layer(image: np.ndarray, gt: np.ndarray, size: tuple[int, int], rng):
    """The portrait scaled so the person is about 0.9 of the frame height, bottom-anchored."""
    w, h = size
    ys, xs = np.nonzero(gt > 127)
    top, bottom = ys.min(), ys.max()
    left, right = xs.min(), xs.max()
    s = min(0.9 * h / max(1, bottom - top), 0.8 * w / max(1, right - left))
    img = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    m = cv2.resize(gt, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
    layer = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    pcx = int((left + right) / 2 * s)
    cx = int(w * rng.uniform(0.35, 0.65))
    # place so the person's bottom touches the frame's bottom (a webcam at a desk)
    oy = h - int(bottom * s) - 1
    ox = cx - pcx
    ih, iw = m.shape
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(w, ox + iw), min(h, oy + ih)
    layer[y0:y1, x0:x1] = img[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    mask[y0:y1, x0:x1] = m[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    mask = np.where(mask > 127, 255, 0).astype(np.uint8)
    return layer, mask


def make_sequence(
    image: np.ndarray,
    gt: np.ndarray,
    background: np.ndarray,
    out: Path,
    seed: int,
    *,
    held: bool,
    empty_first: bool,
    cs: CompositeSettings = CompositeSettings(),
) -> None:
    """Write one composite clip (see the module docstring) into ``out``."""
    rng = np.random.default_rng(seed)
    w, h = cs.size
    layer, pmask = _person_layer(image, gt, cs.size, rng)
    scene = background.copy()
    person = pmask.copy()
    obj_mask = np.zeros_like(pmask)
    if held:
        # Held at the side of the body, half outside its outline: where a selfie
        # network leaves a see-through ghost (inside the body it just looks like clothes).
        cy = int(h * rng.uniform(0.7, 0.8))
        xs = np.nonzero(pmask[cy])[0]
        if xs.size == 0:
            xs = np.nonzero(pmask.any(axis=0))[0]
        cx = int(xs.min() if rng.random() < 0.5 else xs.max())
        r = int(h * rng.uniform(0.09, 0.13))
        cx = min(max(cx, r + 2), w - r - 3)
        obj, obj_mask = _held_object(h, w, rng, cx, cy, r)
    fg = layer.copy()
    if held:
        fg[obj_mask > 0] = obj[obj_mask > 0]
        person = np.maximum(person, obj_mask)
    for sub in ("images", "masks", "objects"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    # The no-person period: the first frames, or a stretch in the middle.
    start = 0 if empty_first else cs.frames // 2 - cs.empty // 2
    empty = range(start, start + cs.empty)
    rows = []
    for t in range(cs.frames):
        present = t not in empty
        frame = scene.copy()
        if present:
            frame[person > 0] = fg[person > 0]
        dx, dy = rng.normal(0.0, cs.shake, 2) if t else (0.0, 0.0)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        f = cv2.warpAffine(
            frame.astype(np.float32),
            m,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        gain = 1.0 + cs.exposure * np.sin(2 * np.pi * t / cs.frames)
        f *= gain
        f += rng.normal(0.0, cs.noise, f.shape).astype(np.float32)
        cv2.imwrite(
            str(out / "images" / f"{t:04d}.jpg"),
            np.clip(f, 0, 255).astype(np.uint8),
            [cv2.IMWRITE_JPEG_QUALITY, cs.quality],
        )
        gt_t = person if present else np.zeros_like(person)
        ob_t = obj_mask if present else np.zeros_like(obj_mask)
        for name, mk in (("masks", gt_t), ("objects", ob_t)):
            moved = cv2.warpAffine(
                mk, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            cv2.imwrite(str(out / name / f"{t:04d}.png"), moved)
        rows.append((t, float(dx), float(dy)))
    with open(out / "shifts.csv", "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(("frame", "dx", "dy"))
        for t, dx, dy in rows:
            wr.writerow((t, f"{dx:.4f}", f"{dy:.4f}"))


def make_composites(
    portraits: Path, out: Path, count: int = 12, cs: CompositeSettings = CompositeSettings()
) -> list[Path]:
    """``count`` clips from the portraits under ``portraits`` (EG first: webcam framing,
    then CCP and mixed in turn), over segcam's backgrounds in turn; returns their folders."""
    sets = {d.name: d.pairs() for d in find_datasets(portraits)}
    order = [n for n in ("eg_portrait_shen2016", "ccp_fashion", "vikram_human_seg") if n in sets]
    order += [n for n in sets if n not in order]
    picks: list[tuple[Path, Path]] = []
    # Two EG portraits for each other one: video calls are head-and-shoulders.
    pattern = [order[0], order[0], *order[1:]]
    idx = {n: 0 for n in order}
    while len(picks) < count:
        for n in pattern:
            pairs = sets[n]
            # evenly spread over the set, not its first few
            k = (idx[n] * 7) % len(pairs)
            idx[n] += 1
            picks.append(pairs[k])
            if len(picks) == count:
                break
    bgs = backgrounds(cs.size)
    folders = []
    for k, (img_path, mask_path) in enumerate(picks):
        image, gt = load_pair(img_path, mask_path)
        folder = out / f"seq_{k:02d}"
        make_sequence(
            image,
            gt,
            bgs[k % len(bgs)],
            folder,
            seed=k,
            held=k % 2 == 1,
            empty_first=k % 4 < 2,
            cs=cs,
        )
        folders.append(folder)
    return folders


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m segcam.composites", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("out", type=Path)
    ap.add_argument("--portraits", type=Path, required=True)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--frames", type=int, default=CompositeSettings().frames)
    args = ap.parse_args(argv)
    cs = CompositeSettings(frames=args.frames)
    for f in make_composites(args.portraits, args.out, args.count, cs):
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
