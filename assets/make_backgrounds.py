"""Generate segcam's built-in backgrounds and its icon (run from anywhere).

    python assets/make_backgrounds.py

Everything here is drawn by this script from gradients, waves, circles and
triangles with fixed random seeds, so the output is the same on every run and
the project owns it outright (no third-party photos or artwork). Writes
``assets/backgrounds/NN-name.jpg`` (1280x720; the app cover-fits them to any
frame size) and ``assets/icons/segcam.png`` (256x256).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
W, H = 1280, 720


def _grid() -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    return x / (W - 1), y / (H - 1)


def _lerp_colours(t: np.ndarray, stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """Piecewise-linear colour ramp; ``stops`` are (position, RGB). Returns float RGB."""
    t = np.clip(t, 0.0, 1.0)
    pos = np.array([p for p, _ in stops], np.float32)
    cols = np.array([c for _, c in stops], np.float32)
    out = np.empty((*t.shape, 3), np.float32)
    for ch in range(3):
        out[..., ch] = np.interp(t, pos, cols[:, ch])
    return out


def _finish(rgb: np.ndarray, seed: int) -> np.ndarray:
    """Dither (so gradients do not band), clip, and turn RGB float into BGR uint8."""
    rng = np.random.default_rng(seed)
    rgb = rgb + rng.normal(0.0, 0.7, rgb.shape).astype(np.float32)
    return cv2.cvtColor(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)


def dusk() -> np.ndarray:
    x, y = _grid()
    sky = _lerp_colours(
        y,
        [
            (0.0, (32, 28, 74)),
            (0.35, (98, 54, 120)),
            (0.58, (214, 96, 104)),
            (0.72, (250, 170, 110)),
            (1.0, (250, 196, 140)),
        ],
    )
    # A low sun: a soft glow around a point near the horizon.
    d = np.sqrt(((x - 0.68) * W / H) ** 2 + (y - 0.7) ** 2)
    glow = np.exp(-((d / 0.22) ** 2))[..., None]
    sky = sky * (1 - 0.6 * glow) + np.array([255, 226, 170], np.float32) * 0.6 * glow
    # Two layers of rolling hills in front.
    for base, amp, freq, phase, colour in (
        (0.78, 0.05, 2.1, 0.4, (70, 40, 84)),
        (0.86, 0.04, 3.3, 1.9, (38, 24, 54)),
    ):
        ridge = base + amp * np.sin(2 * np.pi * freq * x[0] + phase) * np.cos(
            2 * np.pi * 0.7 * x[0]
        )
        edge = np.clip((y - ridge[None, :]) * H / 2.0, 0, 1)[..., None]
        sky = sky * (1 - edge) + np.array(colour, np.float32) * edge
    return _finish(sky, 1)


def studio() -> np.ndarray:
    x, y = _grid()
    d = np.sqrt(((x - 0.5) * W / H) ** 2 + ((y - 0.42) * 1.1) ** 2)
    t = np.clip(d / 1.0, 0, 1)
    rgb = _lerp_colours(t, [(0.0, (150, 156, 164)), (0.45, (96, 102, 112)), (1.0, (34, 37, 43))])
    return _finish(rgb, 2)


def ocean() -> np.ndarray:
    x, y = _grid()
    rgb = _lerp_colours(y, [(0.0, (12, 58, 96)), (0.5, (20, 116, 140)), (1.0, (60, 178, 170))])
    waves = np.zeros_like(x)
    for freq, amp, speed, phase in ((3.0, 0.5, 9.0, 0.0), (5.0, 0.3, 14.0, 1.3), (9, 0.2, 21, 2.2)):
        waves += amp * np.sin(2 * np.pi * (speed * y + 0.15 * np.sin(2 * np.pi * freq * x + phase)))
    light = (waves / 1.0)[..., None] * 10.0 * (0.4 + y[..., None])
    return _finish(rgb + light, 3)


def bokeh() -> np.ndarray:
    rng = np.random.default_rng(4)
    x, y = _grid()
    base = _lerp_colours(
        x * 0.6 + y * 0.4, [(0.0, (42, 30, 36)), (0.6, (64, 44, 40)), (1.0, (30, 24, 30))]
    )
    canvas = cv2.cvtColor(np.clip(base, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    lights = np.zeros((H, W, 3), np.float32)
    palette = [(255, 196, 120), (255, 160, 90), (250, 220, 170), (190, 210, 255), (255, 130, 120)]
    for _ in range(70):
        cx, cy = int(rng.uniform(0, W)), int(rng.uniform(0, H * 0.85))
        r = int(rng.uniform(18, 70))
        colour = palette[rng.integers(len(palette))]
        strength = rng.uniform(0.15, 0.55)
        layer = np.zeros((H, W), np.uint8)
        cv2.circle(layer, (cx, cy), r, 255, -1, cv2.LINE_AA)
        # Bokeh discs have a slightly brighter rim.
        cv2.circle(layer, (cx, cy), r, 255, 2, cv2.LINE_AA)
        lights += (layer.astype(np.float32) / 255.0 * strength)[..., None] * np.array(
            colour[::-1], np.float32
        )
    lights = cv2.GaussianBlur(lights, (0, 0), 3.0)
    out = canvas.astype(np.float32) + lights * 0.9
    return _finish(
        cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB).astype(np.float32), 5
    )


def mint_waves() -> np.ndarray:
    x, y = _grid()
    rgb = _lerp_colours(
        (x + y) / 2, [(0.0, (214, 242, 228)), (0.5, (176, 226, 222)), (1.0, (150, 200, 232))]
    )
    layers = [
        (0.55, 0.06, 1.2, 0.3, (120, 200, 190)),
        (0.68, 0.05, 1.7, 2.0, (92, 176, 184)),
        (0.80, 0.04, 2.3, 4.1, (70, 150, 176)),
    ]
    for base, amp, freq, phase, colour in layers:
        curve = base + amp * np.sin(2 * np.pi * freq * x[0] + phase)
        edge = np.clip((y - curve[None, :]) * H / 3.0, 0, 1)[..., None]
        rgb = rgb * (1 - 0.85 * edge) + np.array(colour, np.float32) * 0.85 * edge
    return _finish(rgb, 6)


def low_poly() -> np.ndarray:
    rng = np.random.default_rng(7)
    step = 120
    xs = np.arange(-step, W + 2 * step, step, dtype=np.float32)
    ys = np.arange(-step, H + 2 * step, step, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    gx = gx + rng.uniform(-0.35, 0.35, gx.shape).astype(np.float32) * step
    gy = gy + rng.uniform(-0.35, 0.35, gy.shape).astype(np.float32) * step
    img = np.zeros((H, W, 3), np.uint8)
    stops = [(0.0, (58, 42, 120)), (0.5, (50, 96, 170)), (1.0, (60, 170, 190))]
    for i in range(gx.shape[0] - 1):
        for j in range(gx.shape[1] - 1):
            p = [(gx[i, j], gy[i, j]), (gx[i, j + 1], gy[i, j + 1]), (gx[i + 1, j], gy[i + 1, j])]
            q = [(gx[i + 1, j + 1], gy[i + 1, j + 1]), p[2], p[1]]
            for tri, shade in ((p, 1.0), (q, 0.9)):
                cx = sum(v[0] for v in tri) / 3 / W
                cy = sum(v[1] for v in tri) / 3 / H
                t = np.array([(cx * 0.7 + cy * 0.3)], np.float32)
                colour = _lerp_colours(t, stops)[0] * (shade + rng.uniform(-0.06, 0.06))
                pts = np.array(tri, np.int32).reshape(-1, 1, 2)
                cv2.fillConvexPoly(
                    img, pts, tuple(float(c) for c in np.clip(colour[::-1], 0, 255)), cv2.LINE_AA
                )
    return img


BACKGROUNDS = {
    "01-dusk": dusk,
    "02-studio-grey": studio,
    "03-ocean": ocean,
    "04-warm-lights": bokeh,
    "05-mint-waves": mint_waves,
    "06-low-poly": low_poly,
}


def icon(size: int = 256) -> np.ndarray:
    """The app icon: a person in front of a blurred, colourful background (BGRA)."""
    s = size * 4  # draw large, shrink: smooth edges
    y, x = np.mgrid[0:s, 0:s].astype(np.float32) / s
    rgb = _lerp_colours(
        x * 0.5 + y * 0.5, [(0.0, (70, 110, 230)), (0.55, (120, 80, 210)), (1.0, (230, 110, 150))]
    )
    for cx, cy, r, colour in (
        (0.25, 0.3, 0.22, (255, 210, 120)),
        (0.78, 0.62, 0.25, (120, 230, 255)),
    ):
        glow = np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / r**2))[..., None]
        rgb = rgb * (1 - 0.55 * glow) + np.array(colour, np.float32) * 0.55 * glow
    bgr = cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    person = np.zeros((s, s), np.uint8)
    cv2.circle(person, (s // 2, int(s * 0.42)), int(s * 0.15), 255, -1, cv2.LINE_AA)
    cv2.ellipse(
        person,
        (s // 2, int(s * 0.92)),
        (int(s * 0.3), int(s * 0.28)),
        0,
        180,
        360,
        255,
        -1,
        cv2.LINE_AA,
    )
    a = person.astype(np.float32)[..., None] / 255.0
    bgr = (bgr * (1 - a) + np.array([250, 248, 246], np.float32) * a).astype(np.uint8)
    # Rounded-square mask.
    mask = np.zeros((s, s), np.uint8)
    r = int(s * 0.2)
    cv2.rectangle(mask, (r, 0), (s - r, s), 255, -1)
    cv2.rectangle(mask, (0, r), (s, s - r), 255, -1)
    for cx, cy in ((r, r), (s - r, r), (r, s - r), (s - r, s - r)):
        cv2.circle(mask, (cx, cy), r, 255, -1, cv2.LINE_AA)
    bgra = np.dstack([bgr, mask])
    return cv2.resize(bgra, (size, size), interpolation=cv2.INTER_AREA)


def main() -> None:
    out = HERE / "backgrounds"
    out.mkdir(exist_ok=True)
    for name, make in BACKGROUNDS.items():
        path = out / f"{name}.jpg"
        cv2.imwrite(str(path), make(), [cv2.IMWRITE_JPEG_QUALITY, 88, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
        print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size // 1024} KiB")
    icons = HERE / "icons"
    icons.mkdir(exist_ok=True)
    path = icons / "segcam.png"
    cv2.imwrite(str(path), icon(), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
