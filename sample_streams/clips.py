"""The sample clips: their timelines, frame renderer and exact ground truth.

A clip is a `ClipSpec` (seed, duration, movers, light switches, tamper episodes). `render`
yields its frames and `ground_truth` derives truth.json from the same timeline the renderer
uses, frame by frame, so the truth is exact by construction.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from sample_streams import scene
from sample_streams.scene import Foliage, Image, Mover

TamperReason = Literal["blackout", "covered", "defocus", "moved", "frozen"]
FPS = 15
WIDTH, HEIGHT = 1280, 720
SUB_WIDTH, SUB_HEIGHT = 640, 360
NIGHT_MOVER_LIGHT = 0.55


@dataclass(frozen=True)
class Tamper:
    """A tamper episode over [start_s, end_s)."""

    start_s: float
    end_s: float
    reason: TamperReason


@dataclass(frozen=True)
class ClipSpec:
    """Everything that defines one clip; rendering it twice gives identical frames."""

    name: str
    seed: int
    duration_s: float
    movers: tuple[Mover, ...] = ()
    switches: tuple[float, ...] = ()  # times the lights toggle (off, on, off, ...)
    tamper: tuple[Tamper, ...] = ()
    night: bool = False
    noise_sigma: float = 2.5
    # Blotchy low-frequency noise (1/8 resolution), which survives encoding as a low-light
    # camera's shimmer does; fine per-pixel noise is mostly smoothed away by the encoder.
    grain_sigma: float = 0.0
    drift_amplitude: float = 0.06
    drift_period_s: float = 37.0
    switch_gain: float = 0.45
    # Dynamic background that is not motion: swaying trees, and rain streaks per frame.
    foliage: tuple[Foliage, ...] = ()
    rain_streaks: int = 0
    lulls: tuple[tuple[float, float], ...] = ()  # wind and rain stop over [start, end)
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return round(self.duration_s * FPS)


def _gain(spec: ClipSpec, t: float) -> float:
    drift = 1.0 + spec.drift_amplitude * math.sin(2 * math.pi * t / spec.drift_period_s)
    toggles = sum(1 for s in spec.switches if t >= s)
    return drift * (spec.switch_gain if toggles % 2 else 1.0) * (0.2 if spec.night else 1.0)


def _weather(spec: ClipSpec, t: float) -> float:
    """Strength of wind and rain in 0..1: full, except in lulls (1 s ramps inside them)."""
    for start, end in spec.lulls:
        if start <= t < end:
            return max(0.0, 1.0 - min(t - start, end - t))
    return 1.0


def _tamper_at(spec: ClipSpec, t: float) -> Tamper | None:
    for ep in spec.tamper:
        if ep.start_s <= t < ep.end_s:
            return ep
    return None


def render(spec: ClipSpec, width: int = WIDTH, height: int = HEIGHT) -> Iterator[np.ndarray]:
    """Yield the clip's frames as uint8 BGR arrays of (height, width, 3)."""
    background, lights = scene.make_background(spec.seed, width, height, night=spec.night)
    sprites = [scene.make_sprite(m, width, height) for m in spec.movers]
    dynamic = _Dynamic(
        [scene.make_canopy(f, width, height) for f in spec.foliage],
        # A generator of its own, so clips without rain keep their noise sequence.
        np.random.default_rng(spec.seed + 2) if spec.rain_streaks else None,
    )
    rng = np.random.default_rng(spec.seed + 1)
    frozen: np.ndarray | None = None
    for index in range(spec.frames):
        t = index / FPS
        episode = _tamper_at(spec, t)
        # Noise is drawn every frame, so a frozen episode does not shift later frames' noise.
        noise = rng.standard_normal((height, width, 3), dtype=np.float32) * spec.noise_sigma
        if spec.grain_sigma > 0:
            coarse = rng.standard_normal(
                (max(1, height // 8), max(1, width // 8)), dtype=np.float32
            )
            grain = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
            noise += (grain * spec.grain_sigma)[..., None]
        if dynamic.rain_rng is not None:  # drawn every frame, as the noise is
            streaks = round(spec.rain_streaks * _weather(spec, t))
            dynamic.rain = scene.rain_layer(dynamic.rain_rng, width, height, streaks)
        if episode is not None and episode.reason == "frozen":
            if frozen is None:
                frozen = _compose(spec, background, lights, sprites, t, noise, None, dynamic)
            yield frozen
            continue
        frozen = None
        yield _compose(spec, background, lights, sprites, t, noise, episode, dynamic)


@dataclass
class _Dynamic:
    """The moving parts of the background: canopies, and this frame's rain layer."""

    canopies: list[scene.Canopy]
    rain_rng: np.random.Generator | None
    rain: Image | None = None


def _compose(
    spec: ClipSpec,
    background: Image,
    lights: Image,
    sprites: list[scene.Sprite],
    t: float,
    noise: Image,
    episode: Tamper | None,
    dynamic: _Dynamic,
) -> np.ndarray:
    img = background.copy()
    for canopy in dynamic.canopies:  # behind the movers: the trees stand back from the lanes
        scene.paste_canopy(img, canopy, t, _weather(spec, t))
    if not spec.night:
        for mover, sprite in zip(spec.movers, sprites, strict=True):
            scene.paste_mover(img, mover, sprite, t)
    img = img * _gain(spec, t) + lights
    if spec.night:  # people walk under the street lamps: lit well above the dark scene
        for mover, sprite in zip(spec.movers, sprites, strict=True):
            scene.paste_mover(img, mover, sprite, t, light=NIGHT_MOVER_LIGHT)
    if dynamic.rain is not None:  # falls in front of everything, slightly blue
        img = img + dynamic.rain[..., None] * np.array([1.0, 0.95, 0.9], np.float32)
    if episode is not None:
        if episode.reason == "blackout":
            img = np.full_like(img, 3.0)
            noise = noise * 0.4
        elif episode.reason == "covered":
            img = scene.covered(img)
            noise = noise * 0.5
        elif episode.reason == "defocus":
            img = scene.defocus(img)
        elif episode.reason == "moved":
            img = scene.moved(img)
    out: np.ndarray = np.clip(img + noise, 0, 255).astype(np.uint8)
    return out


def motion_intervals(
    spec: ClipSpec, width: int = WIDTH, height: int = HEIGHT
) -> list[dict[str, Any]]:
    """Per mover, the span of frames in which any of it is inside the picture."""
    result = []
    for mover in spec.movers:
        sprite = scene.make_sprite(mover, width, height)
        visible = []
        for index in range(spec.frames):
            x0, y0, x1, y1 = scene.mover_box(mover, sprite, index / FPS, width, height)
            if x1 > 0 and x0 < width and y1 > 0 and y0 < height:
                visible.append(index)
        if visible:
            result.append(
                {
                    "start_s": round(visible[0] / FPS, 4),
                    "end_s": round((visible[-1] + 1) / FPS, 4),
                    "kind": mover.kind,
                    "zone": mover.lane,
                }
            )
    return sorted(result, key=lambda m: (m["start_s"], m["end_s"]))


def ground_truth(spec: ClipSpec, width: int = WIDTH, height: int = HEIGHT) -> dict[str, Any]:
    """truth.json for the clip, derived from the renderer's own timeline.

    Times are seconds from the clip start, snapped to frame boundaries: an interval
    [start_s, end_s) covers frames start_s*fps .. end_s*fps-1.
    """

    def snap(t: float) -> float:
        return round(math.ceil(t * FPS - 1e-9) / FPS, 4)

    truth: dict[str, Any] = {
        "name": spec.name,
        "fps": FPS,
        "frames": spec.frames,
        "duration_s": spec.frames / FPS,
        "width": width,
        "height": height,
        "sub_width": SUB_WIDTH,
        "sub_height": SUB_HEIGHT,
        "seed": spec.seed,
        "motion": motion_intervals(spec, width, height),
        "tamper": [
            {"start_s": snap(ep.start_s), "end_s": snap(ep.end_s), "reason": ep.reason}
            for ep in spec.tamper
        ],
        "light_switch": [snap(s) for s in spec.switches],
        "notes": spec.notes,
    }
    # Only clips with a dynamic background carry these keys (older truth files stay as they were).
    if spec.foliage:
        truth["distractors"] = [
            {
                "kind": "foliage",
                "polygon": scene.canopy_polygon(scene.make_canopy(f, width, height), width, height),
            }
            for f in spec.foliage
        ]
    if spec.rain_streaks:
        truth["weather"] = {
            "kind": "rain",
            "streaks_per_frame": spec.rain_streaks,
            "lulls": [[snap(a), snap(b)] for a, b in spec.lulls],
        }
    return truth


def _walkers(
    seed: int, starts: list[float], lanes: list[str], speeds: list[float]
) -> tuple[Mover, ...]:
    return tuple(
        Mover(
            "person",
            lane,
            start,
            speed,
            direction=1 if i % 2 == 0 else -1,
            scale=0.9 + 0.05 * (i % 4),
            seed=seed + i,
        )
        for i, (start, lane, speed) in enumerate(zip(starts, lanes, speeds, strict=True))
    )


def catalogue() -> dict[str, ClipSpec]:
    """The committed sample clips, by name."""
    quiet = ClipSpec(
        "quiet",
        seed=101,
        duration_s=30.0,
        drift_amplitude=0.10,
        drift_period_s=30.0,
        notes="Static scene: sensor noise and slow light drift (+-10%, 30 s period); no motion.",
    )
    people = ClipSpec(
        "people",
        seed=202,
        duration_s=40.0,
        movers=_walkers(
            2020,
            [2.0, 9.0, 15.0, 24.0, 27.0],
            ["walkway", "sidewalk", "walkway", "sidewalk", "walkway"],
            [0.16, 0.09, 0.22, 0.12, 0.10],
        ),
        notes="Five people crossing at different times, speeds and distances; quiet gaps between.",
    )
    cars = ClipSpec(
        "cars",
        seed=303,
        duration_s=40.0,
        movers=(
            Mover("car", "road_near", 3.0, 0.45, 1, 1.0, 3030),
            Mover("car", "road_far", 10.0, 0.30, -1, 0.9, 3031),
            Mover("person", "sidewalk", 14.0, 0.10, 1, 1.0, 3032),
            Mover("car", "road_near", 24.0, 0.60, -1, 1.1, 3033),
            Mover("person", "walkway", 30.0, 0.18, -1, 1.0, 3034),
        ),
        notes="Cars at different speeds on two lanes, plus two pedestrians.",
    )
    lightswitch = ClipSpec(
        "lightswitch",
        seed=404,
        duration_s=36.0,
        switches=(8.0, 18.0),
        movers=(Mover("person", "walkway", 27.0, 0.18, 1, 1.0, 4040),),
        notes="Lights drop to 45% at the first switch and come back at the second, no motion; "
        "one person crosses later.",
    )
    lead, length, gap = 4.0, 8.0, 4.0
    reasons: tuple[TamperReason, ...] = ("blackout", "covered", "defocus", "moved", "frozen")
    episodes = tuple(
        Tamper(lead + i * (length + gap), lead + i * (length + gap) + length, reason)
        for i, reason in enumerate(reasons)
    )
    tamper = ClipSpec(
        "tamper",
        seed=505,
        duration_s=lead + len(reasons) * (length + gap),
        tamper=episodes,
        notes="One 8 s episode per tamper reason with clean 4 s gaps; no movers.",
    )
    night = ClipSpec(
        "night",
        seed=606,
        duration_s=30.0,
        night=True,
        noise_sigma=7.0,
        grain_sigma=5.0,
        movers=(Mover("person", "walkway", 12.0, 0.12, 1, 1.0, 6060),),
        notes="Dark noisy scene (20% light, lit windows and lamps); one person.",
    )
    originals = (quiet, people, cars, lightswitch, tamper, night)
    return {c.name: c for c in (*originals, *_harder_clips())}


def _harder_clips() -> tuple[ClipSpec, ...]:
    """Cases the first six clips miss: isolated events, dynamic background, tamper at night,
    and a live but very static picture."""
    sparse = ClipSpec(
        "sparse",
        seed=808,
        duration_s=47.0,
        switches=(16.0, 25.0),
        movers=(
            Mover("person", "walkway", 3.0, 0.24, 1, 1.0, 8080),
            # Crosses while the lights go down at 16 s.
            Mover("person", "sidewalk", 14.0, 0.17, -1, 1.0, 8081),
            Mover("car", "road_near", 27.0, 0.5, 1, 1.0, 8082),
            # Far and small: about 76 x 30 px at 1280x720, near the detectors' smallest object.
            Mover("person", "sidewalk", 36.0, 0.14, -1, 0.7, 8083),
        ),
        notes="Isolated events, each more than 6 s from the next (also across the loop): a "
        "person; a person crossing while the lights drop to 45% (back on at 25 s, nobody in "
        "view); a car; a small distant person.",
    )
    rain = ClipSpec(
        "rain",
        seed=909,
        duration_s=42.0,
        noise_sigma=3.5,
        grain_sigma=2.0,
        drift_amplitude=0.04,
        foliage=(
            Foliage(0.2, 0.34, 0.13, seed=9090),
            Foliage(0.83, 0.42, 0.09, amplitude=0.01, period_s=2.1, gust_s=7.0, seed=9091),
        ),
        rain_streaks=350,
        # A lull splits the weather in two, so a detector that fires on it raises a false
        # alarm of its own before the rain that the person later walks through.
        lulls=((12.0, 21.0),),
        movers=(Mover("person", "walkway", 30.0, 0.16, 1, 1.0, 9092),),
        notes="Rain streaks over the whole picture and two trees swaying in gusts "
        "(`distractors`: the region each canopy can cover); wind and rain stop from 12 to "
        "21 s (1 s ramps); nobody in view for 30 s, then one person walks through the rain. "
        "Motion truth counts the person only.",
    )
    night_tamper = ClipSpec(
        "night_tamper",
        seed=717,
        duration_s=38.0,
        night=True,
        noise_sigma=7.0,
        grain_sigma=5.0,
        tamper=(Tamper(6.0, 14.0, "covered"), Tamper(22.0, 30.0, "blackout")),
        notes="Dark noisy night scene (as `night`, another street): lens covered 6-14 s, "
        "blackout 22-30 s, clean night picture between; no movers.",
    )
    static_long = ClipSpec(
        "static_long",
        seed=1111,
        duration_s=42.0,
        noise_sigma=1.0,
        drift_amplitude=0.01,
        drift_period_s=60.0,
        movers=(Mover("person", "walkway", 24.0, 0.3, -1, 1.0, 11110),),
        notes="Very static daytime picture (little sensor noise, 1% light drift): live, not "
        "frozen; one person crosses briefly at 24 s.",
    )
    return (sparse, rain, night_tamper, static_long)
