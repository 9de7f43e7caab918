"""Procedural scene pieces for the synthetic sample clips: background, movers, image effects.

Everything here is deterministic from a seed and works at any resolution (coordinates are
derived from the frame size), so a tiny test render and a 1280x720 clip share one code path.
Frames are float32 BGR in 0..255 until the caller converts them to uint8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.float32]
MoverKind = Literal["person", "car"]

# Ground lanes as fractions of the frame height: (foot line, object height at that line).
LANES: dict[str, tuple[float, float]] = {
    "sidewalk": (0.64, 0.15),
    "road_far": (0.74, 0.13),
    "road_near": (0.82, 0.16),
    "walkway": (0.97, 0.24),
}


def _value_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 4) -> Image:
    """Multi-octave value noise in [-1, 1] (resized random grids summed with halving weight)."""
    out = np.zeros((h, w), np.float32)
    weight, total = 1.0, 0.0
    for octave in range(octaves):
        cells = 4 * 2**octave
        grid = rng.standard_normal((cells * h // w + 2, cells + 2)).astype(np.float32)
        out += weight * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += weight
        weight *= 0.5
    out /= total
    peak = float(np.abs(out).max()) or 1.0
    return out / peak


def make_background(seed: int, width: int, height: int, night: bool = False) -> tuple[Image, Image]:
    """Render the static scene; returns (base image, light image added after dimming).

    The light image holds self-lit things (lit windows, street lamps) that keep their
    brightness when the scene is dark, which is what makes a night scene look like one.
    """
    rng = np.random.default_rng(seed)
    h, w = height, width
    img = np.zeros((h, w, 3), np.float32)
    lights = np.zeros((h, w, 3), np.float32)
    horizon = int(0.52 * h)
    rows = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None]
    sky_top, sky_low = np.array([190, 150, 110], np.float32), np.array([225, 215, 200], np.float32)
    img[:horizon] = (sky_top * (1 - rows) + sky_low * rows)[:, None, :]
    # Buildings: concrete blocks with window grids, some windows lit.
    x = -int(rng.integers(0, w // 20))
    while x < w:
        bw = int(rng.integers(w // 10, w // 5))
        top = int(rng.integers(int(0.08 * h), int(0.35 * h)))
        tone = rng.uniform(110, 190)
        color = np.array(
            [tone * rng.uniform(0.85, 1.0), tone * rng.uniform(0.9, 1.0), tone], np.float32
        )
        x0, x1 = max(x, 0), min(x + bw, w)
        if x1 > x0:
            img[top:horizon, x0:x1] = color
            shade = np.linspace(1.0, 0.8, x1 - x0, dtype=np.float32)[None, :, None]
            img[top:horizon, x0:x1] *= shade
            win_w, win_h = max(2, bw // 12), max(2, h // 48)
            for wy in range(top + win_h, horizon - win_h, win_h * 2):
                for wx in range(x + win_w, x + bw - win_w, win_w * 2):
                    if not 0 <= wx < w - win_w:
                        continue
                    lit = rng.uniform() < 0.18
                    glass = (60, 70, 80) if not lit else (120, 190, 235)
                    img[wy : wy + win_h, wx : wx + win_w] = glass
                    if lit:
                        lights[wy : wy + win_h, wx : wx + win_w] = (70, 150, 200)
        x += bw + int(rng.integers(0, w // 40))
    # Ground: pavement with texture, a road with lane marks, a tiled walkway.
    ground = _value_noise(rng, h - horizon, w)
    pave = 128 + 22 * ground
    img[horizon:] = np.stack([pave * 0.95, pave, pave * 1.02], axis=-1)
    road0, road1 = int(0.68 * h), int(0.86 * h)
    asphalt = 70 + 14 * _value_noise(rng, road1 - road0, w, octaves=5)
    img[road0:road1] = asphalt[..., None]
    dash_y = (road0 + road1) // 2
    for dx in range(0, w, w // 8):
        cv2.rectangle(img, (dx, dash_y - 2), (dx + w // 20, dash_y + 2), (200, 205, 210), -1)
    tile = max(4, w // 32)
    for ty in range(road1 + tile // 2, h, tile):
        cv2.line(img, (0, ty), (w, ty), (100, 104, 108), 1)
    for tx in range(0, w, tile * 2):
        cv2.line(img, (tx, road1), (tx, h), (100, 104, 108), 1)
    # Trees and lamp posts along the sidewalk.
    for _ in range(5):
        cx, cy = int(rng.integers(0, w)), int(rng.uniform(0.45, 0.55) * h)
        radius = int(rng.uniform(0.04, 0.07) * h)
        cv2.circle(img, (cx, cy), radius, (40, 95, 50), -1)
        cv2.line(img, (cx, cy), (cx, int(0.62 * h)), (40, 55, 70), max(1, w // 320))
    for lx in range(w // 10, w, w // 4):
        cv2.line(img, (lx, int(0.40 * h)), (lx, int(0.66 * h)), (60, 60, 60), max(1, w // 400))
        cv2.circle(lights, (lx, int(0.40 * h)), max(2, h // 90), (180, 230, 255), -1)
    leaf = _value_noise(rng, h, w, octaves=6)
    img *= (1.0 + 0.06 * leaf)[..., None]
    if night:
        glow = cv2.GaussianBlur(lights, (0, 0), sigmaX=max(1.0, h / 60))
        lights = lights + 0.8 * glow
    else:
        lights[:] = 0
    return np.clip(img, 0, 255), lights


@dataclass(frozen=True)
class Mover:
    """A person or car crossing the frame along a lane at constant speed.

    `enter_s` is when its leading edge reaches the frame border; `speed` is in frame widths
    per second, `direction` +1 walks left to right, -1 right to left; `scale` tweaks size.
    """

    kind: MoverKind
    lane: str
    enter_s: float
    speed: float
    direction: int = 1
    scale: float = 1.0
    seed: int = 0


@dataclass
class Sprite:
    """A pre-rendered mover image (one or two animation frames) with its alpha mask."""

    frames: list[Image]
    alpha: Image


def _shaded(
    mask: npt.NDArray[np.uint8], color: tuple[float, ...], rng: np.random.Generator
) -> Image:
    h, w = mask.shape
    tex = _value_noise(rng, h, w, octaves=3) if h > 4 and w > 4 else np.zeros((h, w), np.float32)
    light = (
        np.linspace(1.15, 0.75, h, dtype=np.float32)[:, None]
        * np.linspace(0.9, 1.1, w, dtype=np.float32)[None, :]
    )
    out = np.array(color, np.float32)[None, None, :] * (light * (1 + 0.12 * tex))[..., None]
    return out * (mask[..., None] > 0)


def make_sprite(mover: Mover, frame_w: int, frame_h: int) -> Sprite:
    """Draw the mover once with shading and texture; people get two walking poses."""
    rng = np.random.default_rng(mover.seed)
    _foot, height_frac = LANES[mover.lane]
    if mover.kind == "person":
        sh = max(6, int(height_frac * frame_h * mover.scale))
        sw = max(3, sh * 2 // 5)
        shirt = tuple(float(c) for c in rng.uniform(30, 220, 3))
        pants = tuple(float(c) for c in rng.uniform(20, 90, 3))
        skin = (
            float(rng.uniform(80, 140)),
            float(rng.uniform(120, 170)),
            float(rng.uniform(170, 215)),
        )
        frames, alpha_acc = [], np.zeros((sh, sw), np.float32)
        for pose in (0, 1):
            body = np.zeros((sh, sw), np.uint8)
            legs = np.zeros((sh, sw), np.uint8)
            head = np.zeros((sh, sw), np.uint8)
            r = max(1, sh // 12)
            cv2.circle(head, (sw // 2, r + 1), r, 255, -1)
            cv2.ellipse(
                body, (sw // 2, int(sh * 0.38)), (sw // 3, int(sh * 0.2)), 0, 0, 360, 255, -1
            )
            spread = sw // 5 if pose else sw // 12
            for dx in (-spread, spread):
                cv2.line(
                    legs, (sw // 2, int(sh * 0.55)), (sw // 2 + dx, sh - 1), 255, max(1, sw // 6)
                )
            img = _shaded(body, shirt, rng) + _shaded(legs, pants, rng) * (body[..., None] == 0)
            img = img * (head[..., None] == 0) + _shaded(head, skin, rng)
            mask = ((body | legs | head) > 0).astype(np.float32)
            frames.append(img.astype(np.float32))
            alpha_acc = np.maximum(alpha_acc, mask)
            frames[-1] = np.dstack([frames[-1], mask])  # keep per-pose alpha in a 4th channel
        return Sprite(frames=frames, alpha=alpha_acc)
    sh = max(4, int(height_frac * frame_h * mover.scale))
    sw = max(8, int(sh * 2.4))
    paint = tuple(float(c) for c in rng.uniform(30, 230, 3))
    car = np.zeros((sh, sw), np.uint8)
    cv2.rectangle(car, (0, int(sh * 0.35)), (sw - 1, int(sh * 0.85)), 255, -1)
    cv2.rectangle(car, (int(sw * 0.2), 0), (int(sw * 0.78), int(sh * 0.4)), 255, -1)
    img = _shaded(car, paint, rng)
    glass = np.zeros((sh, sw), np.uint8)
    cv2.rectangle(
        glass, (int(sw * 0.25), int(sh * 0.07)), (int(sw * 0.73), int(sh * 0.33)), 255, -1
    )
    img = np.where(glass[..., None] > 0, _shaded(glass, (90, 80, 70), rng), img)
    wheels = np.zeros((sh, sw), np.uint8)
    for wx in (int(sw * 0.2), int(sw * 0.8)):
        cv2.circle(wheels, (wx, int(sh * 0.82)), max(1, sh // 6), 255, -1)
    img = np.where(wheels[..., None] > 0, 25.0, img).astype(np.float32)
    mask = ((car | wheels) > 0).astype(np.float32)
    return Sprite(frames=[np.dstack([img, mask])], alpha=mask)


def mover_box(
    mover: Mover, sprite: Sprite, t: float, frame_w: int, frame_h: int
) -> tuple[int, int, int, int]:
    """The mover's (x0, y0, x1, y1) in frame pixels at time t (may lie outside the frame)."""
    sh, sw = sprite.alpha.shape
    foot = int(LANES[mover.lane][0] * frame_h)
    travelled = (t - mover.enter_s) * mover.speed * frame_w
    x0 = round(-sw + travelled) if mover.direction > 0 else round(frame_w - travelled)
    return x0, foot - sh, x0 + sw, foot


def paste_mover(img: Image, mover: Mover, sprite: Sprite, t: float, light: float = 1.0) -> bool:
    """Composite the mover into img at time t; returns whether any pixel landed in frame.

    `light` scales the mover's own colours (a person under a street lamp at night).
    """
    h, w = img.shape[:2]
    x0, y0, x1, y1 = mover_box(mover, sprite, t, w, h)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx0 >= cx1 or cy0 >= cy1:
        return False
    pose = sprite.frames[int(t * 4) % len(sprite.frames)]
    if mover.direction < 0:
        pose = pose[:, ::-1]
    part = pose[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    alpha = part[..., 3:4]
    # A soft contact shadow under the mover makes it sit on the ground.
    shadow_h = max(1, (y1 - y0) // 14)
    sy0, sy1 = max(y1 - shadow_h, 0), min(y1 + shadow_h, h)
    if sy1 > sy0:
        img[sy0:sy1, cx0:cx1] *= 0.75
    img[cy0:cy1, cx0:cx1] = alpha * light * part[..., :3] + (1 - alpha) * img[cy0:cy1, cx0:cx1]
    return True


def defocus(img: Image) -> Image:
    """Strong optical blur, as from a turned focus ring or a smeared lens."""
    sigma = max(2.0, img.shape[0] / 50)
    return np.asarray(cv2.GaussianBlur(img, (0, 0), sigmaX=sigma), dtype=np.float32)


def covered(img: Image) -> Image:
    """Something held over the lens: dark, almost no texture, a little light leaking in."""
    h, w = img.shape[:2]
    # Blur at 1/8 scale: the result is nearly flat anyway, and this is 60x cheaper.
    small = cv2.resize(img, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(1.0, h / 96))
    blurred = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    tint = np.array([0.7, 0.85, 1.0], np.float32)
    return np.asarray(blurred * 0.12 * tint + 6.0, dtype=np.float32)


def moved(img: Image, angle_deg: float = 7.0, shift: float = 0.09) -> Image:
    """The camera knocked aside: the scene rotated and shifted so edges no longer line up."""
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.08)
    matrix[0, 2] += shift * w
    matrix[1, 2] -= shift * h * 0.6
    warped = cv2.warpAffine(
        img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return np.asarray(warped, dtype=np.float32)


@dataclass(frozen=True)
class Foliage:
    """A tree canopy swaying in the wind: local periodic motion that is not a mover.

    Centre and radius are fractions of the frame (radius of the frame height);
    `amplitude` is the largest sway in frame widths, reached at the peak of a gust
    (`gust_s` is the period of the wind's strength, `period_s` that of the sway).
    """

    cx: float
    cy: float
    radius: float
    amplitude: float = 0.014
    period_s: float = 2.6
    gust_s: float = 9.0
    clusters: int = 14
    seed: int = 0


@dataclass
class Canopy:
    """A pre-rendered canopy: leaf clusters (image + alpha) at rest positions, and a trunk."""

    foliage: Foliage
    clusters: list[tuple[int, int, Image, float]]  # (x0, y0, BGRA patch, phase)
    trunk: tuple[tuple[int, int], tuple[int, int], int]
    amplitude_px: float


def make_canopy(foliage: Foliage, frame_w: int, frame_h: int) -> Canopy:
    """Draw the leaf clusters once; each later sways with its own phase."""
    rng = np.random.default_rng(foliage.seed)
    cx, cy = foliage.cx * frame_w, foliage.cy * frame_h
    big_r = foliage.radius * frame_h
    clusters = []
    for _ in range(foliage.clusters):
        angle, dist = rng.uniform(0, 2 * np.pi), big_r * 0.7 * np.sqrt(rng.uniform())
        r = max(2, int(big_r * rng.uniform(0.35, 0.5)))
        size = 2 * r + 1
        mask = np.zeros((size, size), np.uint8)
        cv2.ellipse(
            mask, (r, r), (r, max(1, int(r * 0.8))), float(rng.uniform(0, 180)), 0, 360, 255, -1
        )
        # Gaps between leaves: speckles of the background showing through.
        holes = _value_noise(rng, size, size, octaves=3) if size > 4 else np.zeros((size, size))
        mask[holes > 0.55] = 0
        green = (
            float(rng.uniform(30, 55)),
            float(rng.uniform(90, 135)),
            float(rng.uniform(45, 70)),
        )
        patch = np.dstack([_shaded(mask, green, rng), (mask > 0).astype(np.float32)])
        x0 = int(cx + dist * np.cos(angle)) - r
        y0 = int(cy + dist * np.sin(angle)) - r
        clusters.append((x0, y0, patch.astype(np.float32), float(rng.uniform(0, 2 * np.pi))))
    trunk = ((int(cx), int(cy)), (int(cx), int(0.63 * frame_h)), max(2, frame_w // 120))
    return Canopy(foliage, clusters, trunk, foliage.amplitude * frame_w)


def canopy_offsets(canopy: Canopy, t: float, wind: float = 1.0) -> list[tuple[int, int]]:
    """Each cluster's displacement (dx, dy) in pixels at time t; `wind` in 0..1 scales it."""
    f = canopy.foliage
    strength = wind * canopy.amplitude_px * (0.6 + 0.4 * np.sin(2 * np.pi * t / f.gust_s))
    out = []
    for _x0, _y0, _patch, phase in canopy.clusters:
        swing = np.sin(2 * np.pi * t / f.period_s + phase)
        out.append(
            (
                round(strength * swing),
                round(0.3 * strength * np.cos(2 * np.pi * t / f.period_s + phase)),
            )
        )
    return out


def paste_canopy(img: Image, canopy: Canopy, t: float, wind: float = 1.0) -> None:
    """Draw the trunk and the swaying leaf clusters into img at time t."""
    h, w = img.shape[:2]
    (tx0, ty0), (tx1, ty1), thick = canopy.trunk
    cv2.line(img, (tx0, ty0), (tx1, ty1), (35, 50, 65), thick)
    for (x0, y0, patch, _phase), (dx, dy) in zip(
        canopy.clusters, canopy_offsets(canopy, t, wind), strict=True
    ):
        px, py = x0 + dx, y0 + dy
        ph, pw = patch.shape[:2]
        cx0, cy0, cx1, cy1 = max(px, 0), max(py, 0), min(px + pw, w), min(py + ph, h)
        if cx0 >= cx1 or cy0 >= cy1:
            continue
        part = patch[cy0 - py : cy1 - py, cx0 - px : cx1 - px]
        alpha = part[..., 3:4]
        img[cy0:cy1, cx0:cx1] = alpha * part[..., :3] + (1 - alpha) * img[cy0:cy1, cx0:cx1]


def canopy_polygon(canopy: Canopy, frame_w: int, frame_h: int) -> list[list[int]]:
    """The region the swaying canopy can cover (convex hull, frame pixels, clockwise)."""
    a = int(np.ceil(canopy.amplitude_px)) + 2
    corners = []
    for x0, y0, patch, _phase in canopy.clusters:
        ph, pw = patch.shape[:2]
        for x, y in (
            (x0 - a, y0 - a),
            (x0 + pw + a, y0 - a),
            (x0 + pw + a, y0 + ph + a),
            (x0 - a, y0 + ph + a),
        ):
            corners.append((min(max(x, 0), frame_w), min(max(y, 0), frame_h)))
    hull = cv2.convexHull(np.array(corners, np.int32)).reshape(-1, 2)
    return [[int(x), int(y)] for x, y in hull]


def rain_layer(rng: np.random.Generator, frame_w: int, frame_h: int, streaks: int) -> Image:
    """One frame of falling rain: short bright slanted streaks at random places (grey, 0..)."""
    layer = np.zeros((frame_h, frame_w), np.float32)
    xs = rng.uniform(-0.05 * frame_w, frame_w, streaks)
    ys = rng.uniform(-0.05 * frame_h, frame_h, streaks)
    lengths = rng.uniform(0.025, 0.06, streaks) * frame_h
    levels = rng.uniform(25, 60, streaks)
    thick = max(1, frame_w // 640)
    for x, y, length, level in zip(xs, ys, lengths, levels, strict=True):
        cv2.line(
            layer,
            (int(x), int(y)),
            (int(x + 0.2 * length), int(y + length)),
            float(level),
            thick,
            lineType=cv2.LINE_AA,
        )
    return layer
