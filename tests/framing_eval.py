"""Auto-framing figures: the crop window's jitter at rest and its lag behind a step move
(not a test; run it by hand).

    python -m tests.framing_eval [--chain live,framing:size=0.7]

On the talking-head and parkour clips of ../shared/data, with the real model and
the live mask chain, at each clip's own size and frame rate:

* **whole clip**: the window's mean and 95th-percentile motion, px/frame (centre
  and height), against the unsmoothed window the masks ask for;
* **at rest**: one frame of the clip held for 4 s with fresh sensor noise
  (σ = 2 grey levels) and a ±2 % exposure wobble every frame, so only the mask's
  own noise can move the window; motion after 2 s;
* **step**: the held frame, then the same frame shifted right by 15 % of the
  width (edges replicated): frames (and ms) until the window has made 50 % and
  90 % of its move, and its overshoot.
"""

from __future__ import annotations

import argparse
import sys

import av
import cv2
import numpy as np

from segcam.config import BackgroundSpec, PipelineSettings
from segcam.filters.base import parse_chain
from segcam.filters.framing import AutoFraming
from segcam.frame import Frame
from segcam.processor import Processor
from tests.conftest import DATA


def read_clip(path, limit: int) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        fps = float(stream.average_rate)
        frames = []
        for vf in c.decode(stream):
            frames.append(np.ascontiguousarray(vf.to_ndarray(format="bgr24")))
            if len(frames) >= limit:
                break
    return frames, fps


def windows(chain: str, images, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The window per frame ``(cx, cy, h)`` and the unsmoothed one the masks ask for."""
    settings = PipelineSettings(
        background=BackgroundSpec("blur", blur=12.0), filters=parse_chain(chain)
    )
    proc = Processor(settings)
    framing = next(f for f in proc.compositor.post_filters if isinstance(f, AutoFraming))
    probe = AutoFraming(
        **dict(s for s in next(x for x in settings.filters if x.name == "framing").params)
    )
    got, asked = [], []
    for i, img in enumerate(images):
        frame = Frame(i, img, i / fps)
        proc.process(frame)
        x, y, w, h = framing.window
        got.append((x + w / 2, y + h / 2, h))
        want = probe.wanted(frame.alpha)
        asked.append(want if want is not None else asked[-1] if asked else got[-1])
    return np.array(got), np.array(asked)


def motion(win: np.ndarray) -> tuple[float, float]:
    """Mean and p95 per-frame motion, px: the largest of |Δcx|, |Δcy|, |Δh|."""
    d = np.abs(np.diff(win, axis=0)).max(axis=1)
    return float(d.mean()), float(np.percentile(d, 95))


def noisy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain = 1.0 + rng.uniform(-0.02, 0.02)
    v = image.astype(np.float32) * gain + rng.normal(0, 2.0, image.shape).astype(np.float32)
    return np.clip(v, 0, 255).astype(np.uint8)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--chain", action="append", help="chains to measure (repeatable)")
    args = p.parse_args()
    clips = {
        "talking_head": (
            DATA / "videos" / "talking_head.mp4",
            ["live,framing", "live,framing:size=0.7"],
        ),
        "parkour": (DATA / "videos" / "parkour.mp4", ["live,framing:target=box", "live,framing"]),
    }
    for name, (path, chains) in clips.items():
        images, fps = read_clip(path, 600)
        h, w = images[0].shape[:2]
        rng = np.random.default_rng(0)
        held = images[len(images) // 3]
        rest = [noisy(held, rng) for _ in range(int(4 * fps))]
        shift = round(0.15 * w)
        m = np.float32([[1, 0, shift], [0, 1, 0]])
        moved = cv2.warpAffine(held, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        n_hold = int(2 * fps)
        step = [noisy(held, rng) for _ in range(n_hold)] + [
            noisy(moved, rng) for _ in range(int(3 * fps))
        ]
        for chain in args.chain or chains:
            got, asked = windows(chain, images, fps)
            settle = int(2 * fps)
            g_mean, g_p95 = motion(got[settle:])
            a_mean, a_p95 = motion(asked[settle:])
            zoom = h / got[settle:, 2]
            r, _ = windows(chain, rest, fps)
            r_mean, r_p95 = motion(r[settle:])
            rr, _ = windows(chain, step, fps)
            before, after = rr[n_hold - 1, 0], rr[-1, 0]
            frac = (rr[n_hold:, 0] - before) / (after - before) if abs(after - before) > 1 else None
            print(f"{name} ({w}x{h} @ {fps:g} fps), chain {chain}")
            print(
                f"  whole clip: window {g_mean:.2f} px/frame (p95 {g_p95:.2f}); "
                f"unsmoothed {a_mean:.2f} (p95 {a_p95:.2f}); "
                f"zoom {zoom.min():.2f}-{zoom.max():.2f}x"
            )
            print(
                f"  at rest:    window {r_mean:.3f} px/frame (p95 {r_p95:.3f}), "
                f"max {np.abs(np.diff(r[settle:], axis=0)).max():.3f}"
            )
            if frac is None:
                print(
                    f"  step of {shift} px: the window did not move ({before:.0f} -> {after:.0f})"
                )
            else:
                t50 = int(np.argmax(frac >= 0.5)) + 1
                t90 = int(np.argmax(frac >= 0.9)) + 1
                print(
                    f"  step of {shift} px: window moved {after - before:.0f} px; "
                    f"50 % after {t50} frames ({1000 * t50 / fps:.0f} ms), "
                    f"90 % after {t90} frames ({1000 * t90 / fps:.0f} ms); "
                    f"overshoot {max(0.0, frac.max() - 1) * 100:.1f} %"
                )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
