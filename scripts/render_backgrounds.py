"""Render livebg's bundled backgrounds (``backgrounds/*.jpg``, 1920x1080) from code.

Everything is drawn procedurally with NumPy and OpenCV from a fixed seed, so the pictures are the
project's own work under the project's licence, and rerunning the script gives the same files:

    python scripts/render_backgrounds.py                  # all of them into backgrounds/
    python scripts/render_backgrounds.py --only office --sheet /tmp/sheet.jpg

Images are float32 RGB in [0, 1] while drawn; the last step adds a little noise (dither, against
banding in the soft gradients) and writes a JPEG.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 1920, 1080
QUALITY = 90
OUT_DIR = Path(__file__).resolve().parent.parent / "backgrounds"

Image = np.ndarray  # float32 (HEIGHT, WIDTH, 3) RGB in [0, 1]


# ---------------------------------------------------------------------------------------------------
# Drawing helpers


def hex_rgb(code: str) -> np.ndarray:
    code = code.lstrip("#")
    return np.array([int(code[i : i + 2], 16) / 255 for i in (0, 2, 4)], np.float32)


def grid() -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates normalised to [0, 1] (x across, y down)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return (x + 0.5) / WIDTH, (y + 0.5) / HEIGHT


def fill(colour: np.ndarray) -> Image:
    return np.broadcast_to(colour, (HEIGHT, WIDTH, 3)).astype(np.float32).copy()


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    t = t[..., None] if t.ndim == 2 else t
    return a + (b - a) * t


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def noise(
    rng: np.random.Generator, cells: int, octaves: int = 4, shape: tuple[int, int] = (HEIGHT, WIDTH)
) -> np.ndarray:
    """Smooth fractal noise in about [-1, 1]: ``cells`` blobs across at the coarsest octave."""
    height, width = shape
    total = np.zeros(shape, np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        n = cells * 2**octave
        small = rng.standard_normal((max(2, n * height // width), n)).astype(np.float32)
        total += amplitude * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
        norm += amplitude
        amplitude *= 0.5
    return total / norm


def glow(
    x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float | None = None
) -> np.ndarray:
    """A soft Gaussian spot, 1 at (cx, cy); radii in normalised units (ry defaults to rx in pixels)."""
    ry = rx * WIDTH / HEIGHT if ry is None else ry
    return np.exp(-(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2) / 2).astype(np.float32)


def paint(image: Image, mask: np.ndarray, colour: np.ndarray, opacity: float = 1.0) -> None:
    """Blend ``colour`` over ``image`` where ``mask`` (float, [0, 1]) is set."""
    image += (colour - image) * (np.clip(mask, 0, 1) * opacity)[..., None]


def shape_mask(draw: Callable[[np.ndarray], None], soften: float = 0.0) -> np.ndarray:
    """A float mask from OpenCV drawing calls on an 8-bit canvas (anti-aliased), optionally softened."""
    canvas = np.zeros((HEIGHT, WIDTH), np.uint8)
    draw(canvas)
    mask = canvas.astype(np.float32) / 255
    return blur(mask, soften) if soften > 0 else mask


def vignette(image: Image, strength: float, x: np.ndarray, y: np.ndarray) -> Image:
    r = np.sqrt(((x - 0.5) * 1.2) ** 2 + (y - 0.48) ** 2)
    return image * (1 - strength * smoothstep(0.25, 0.95, r))[..., None]


def finish(image: Image, rng: np.random.Generator, grain: float = 1.2) -> np.ndarray:
    """float RGB to uint8 RGB with a little Gaussian grain (in 8-bit steps) against banding."""
    noisy = np.clip(image, 0, 1) * 255 + rng.normal(0, grain, image.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------
# The backgrounds


def office(rng: np.random.Generator) -> Image:
    """A bright, modern office out of focus: daylight window on the left, plant, shelf, pendant lamps."""
    x, y = grid()
    wall = lerp(hex_rgb("#efe9e1"), hex_rgb("#d8d0c6"), smoothstep(0.1, 1.0, x))
    image = wall * (0.96 + 0.04 * noise(rng, 3, 2))[..., None]
    # Window with mullions, bright and slightly cool.
    window = shape_mask(lambda c: cv2.rectangle(c, (-10, 90), (640, 760), 255, -1))
    paint(image, window, hex_rgb("#f6f8fb"))
    sky = lerp(hex_rgb("#dce8f2"), hex_rgb("#f4f6f2"), smoothstep(0.1, 0.7, y))
    trees = smoothstep(0.45, 0.8, y + 0.08 * noise(rng, 6, 3))
    outside = lerp(sky, hex_rgb("#9fb58c"), trees * 0.8)
    inner = shape_mask(
        lambda c: [cv2.rectangle(c, (30 + i * 205, 120), (200 + i * 205, 730), 255, -1) for i in range(3)]
    )
    image[inner > 0] = outside[inner > 0]
    # Light pooling on the floor and wall from the window.
    image += (0.10 * glow(x, y, 0.18, 0.55, 0.30))[..., None] * hex_rgb("#fff4e0")
    # Floor and a low, light-wood cabinet on the right.
    floor = smoothstep(0.795, 0.805, y)
    wood_floor = lerp(hex_rgb("#a88f74"), hex_rgb("#c8b298"), smoothstep(0.8, 1.0, y))
    planks = 0.96 + 0.04 * np.sin(y * HEIGHT / 7.0 + 3 * noise(rng, 2, 2))
    image = image + (wood_floor * planks[..., None] - image) * floor[..., None]
    shadow = glow(x, y, 0.8, 0.815, 0.25, 0.012) * smoothstep(0.6, 0.62, x)
    image *= (1 - 0.25 * shadow)[..., None]
    cabinet = shape_mask(lambda c: cv2.rectangle(c, (1180, 560), (1920, 880), 255, -1))
    paint(image, cabinet, hex_rgb("#c7a57f"))
    for i in range(4):  # cabinet doors
        door = shape_mask(lambda c, i=i: cv2.line(c, (1180 + 185 * i, 575), (1180 + 185 * i, 865), 255, 4))
        paint(image, door, hex_rgb("#a88662"), 0.8)
    top = shape_mask(lambda c: cv2.rectangle(c, (1170, 548), (1920, 570), 255, -1))
    paint(image, top, hex_rgb("#e2ccad"))
    # Things on the cabinet: books, a vase, a lamp glow.
    for x0, w, h, col in [
        (1300, 34, 120, "#3d5a73"),
        (1336, 28, 105, "#b08850"),
        (1366, 38, 128, "#8c4a3c"),
        (1406, 30, 96, "#5f6f58"),
    ]:
        book = shape_mask(lambda c, x0=x0, w=w, h=h: cv2.rectangle(c, (x0, 548 - h), (x0 + w, 548), 255, -1))
        paint(image, book, hex_rgb(col))
    vase = shape_mask(lambda c: cv2.ellipse(c, (1640, 500), (42, 56), 0, 0, 360, 255, -1))
    paint(image, vase, hex_rgb("#4f6f6a"))
    for angle, length in [(-70, 160), (-95, 190), (-115, 150), (-60, 120)]:
        stem = shape_mask(
            lambda c, a=angle, n=length: cv2.ellipse(
                c,
                (int(1640 + 0.5 * n * np.cos(np.radians(a))), int(460 + 0.5 * n * np.sin(np.radians(a)))),
                (n // 2, 14),
                a,
                0,
                360,
                255,
                -1,
            )
        )
        paint(image, stem, hex_rgb("#5d7f4a"))
    # A framed picture above the cabinet.
    frame = shape_mask(lambda c: cv2.rectangle(c, (1330, 150), (1700, 380), 255, -1))
    paint(image, frame, hex_rgb("#3b3a38"))
    art = shape_mask(lambda c: cv2.rectangle(c, (1345, 165), (1685, 365), 255, -1))
    art_x = (x - 1345 / WIDTH) / (340 / WIDTH)
    image[art > 0] = lerp(hex_rgb("#e7c9a9"), hex_rgb("#8fb2c4"), np.clip(art_x, 0, 1))[art > 0]
    # A tall plant by the window: stems from the pot, leaves clustered around them.
    pot = shape_mask(lambda c: cv2.rectangle(c, (705, 720), (835, 864), 255, -1))
    stems = shape_mask(
        lambda c: [
            cv2.line(c, (770, 730), (770 + dx, 430 + dy), 255, 7, cv2.LINE_AA)
            for dx, dy in [(-60, 40), (10, -40), (70, 60), (-20, 120)]
        ]
    )
    paint(image, stems, hex_rgb("#55683a"))
    plant = np.zeros((HEIGHT, WIDTH), np.float32)
    tint = np.zeros((HEIGHT, WIDTH), np.float32)
    for _ in range(70):
        cy = rng.uniform(330, 690)
        cx = rng.normal(770, 28 + 0.25 * (690 - cy))
        shade = rng.uniform(0.0, 1.0)
        leaf = shape_mask(
            lambda c, cx=cx, cy=cy: cv2.ellipse(
                c,
                (int(cx), int(cy)),
                (int(rng.uniform(40, 75)), int(rng.uniform(16, 28))),
                float(rng.uniform(-40, 220)),
                0,
                360,
                255,
                -1,
                cv2.LINE_AA,
            )
        )
        tint = np.where(leaf > plant, shade, tint)
        plant = np.maximum(plant, leaf)
    leaves = lerp(hex_rgb("#3d6534"), hex_rgb("#86a862"), tint)
    image = image + (leaves - image) * plant[..., None]
    paint(image, pot, hex_rgb("#e4ded5"))
    # Depth of field, then pendant-lamp glows in front of the blur.
    for cx in (0.47, 0.63):  # pendant lamps: cord, shade
        px = int(cx * WIDTH)
        cord = shape_mask(lambda c, px=px: cv2.line(c, (px, 0), (px, 90), 255, 3, cv2.LINE_AA))
        paint(image, cord, hex_rgb("#3a3a3a"))
        shade = shape_mask(
            lambda c, px=px: cv2.fillPoly(
                c, [np.array([[px - 22, 90], [px + 22, 90], [px + 60, 150], [px - 60, 150]], np.int32)], 255
            )
        )
        paint(image, shade, hex_rgb("#2f3236"))
    image = blur(image, 16)
    for cx in (0.47, 0.63):
        image += (0.25 * glow(x, y, cx, 0.145, 0.03, 0.035))[..., None] * hex_rgb("#fff0d0")
    return vignette(image, 0.18, x, y)


def bookshelf(rng: np.random.Generator) -> Image:
    """A warm wooden bookshelf full of books, softly out of focus."""
    x, y = grid()
    wood = hex_rgb("#7a5232")
    back = lerp(hex_rgb("#5b3d26"), hex_rgb("#3e2818"), y)
    image = back * (0.92 + 0.08 * noise(rng, 20, 3))[..., None]
    palette = [
        hex_rgb(c)
        for c in (
            "#8c3b2e",
            "#2f4a63",
            "#6f7d4a",
            "#c99a3f",
            "#e6dcc8",
            "#5c2e3e",
            "#3d6f6b",
            "#b8643a",
            "#9fa6a0",
            "#2b2b33",
            "#d4b98c",
            "#7b4f6e",
        )
    ]
    rows = [(-40, 230), (250, 510), (530, 790), (810, 1070)]
    for top, bottom in rows:
        xpos = -10
        while xpos < WIDTH:
            if rng.random() < 0.07:  # a gap, or a small plant / ornament
                gap = int(rng.uniform(90, 200))
                if rng.random() < 0.5:
                    cx = xpos + gap // 2
                    pot = shape_mask(
                        lambda c, cx=cx, b=bottom: cv2.rectangle(c, (cx - 30, b - 70), (cx + 30, b), 255, -1)
                    )
                    paint(image, pot, hex_rgb("#cfc6b8"))
                    for _ in range(9):
                        leaf = shape_mask(
                            lambda c, cx=cx, b=bottom: cv2.ellipse(
                                c,
                                (int(cx + rng.normal(0, 28)), int(b - 95 + rng.normal(0, 25))),
                                (int(rng.uniform(18, 34)), 9),
                                float(rng.uniform(0, 180)),
                                0,
                                360,
                                255,
                                -1,
                            )
                        )
                        paint(image, leaf, hex_rgb("#4e7a3e") * rng.uniform(0.8, 1.15))
                xpos += gap
                continue
            if rng.random() < 0.08:  # a horizontal stack
                width = int(rng.uniform(120, 170))
                level = bottom
                for _ in range(int(rng.integers(3, 6))):
                    thick = int(rng.uniform(18, 30))
                    inset = int(rng.uniform(0, 15))
                    book = shape_mask(
                        lambda c, a=xpos + inset, b=level, t=thick, w=width: cv2.rectangle(
                            c, (a, b - t), (a + w - 15, b), 255, -1
                        )
                    )
                    paint(image, book, palette[int(rng.integers(len(palette)))])
                    level -= thick + 1
                xpos += width + 8
                continue
            width = int(rng.uniform(22, 48))
            height = int((bottom - top) * rng.uniform(0.62, 0.92))
            colour = palette[int(rng.integers(len(palette)))] * rng.uniform(0.85, 1.08)
            lean = rng.random() < 0.05
            if lean:
                pts = np.array(
                    [
                        [xpos, bottom],
                        [xpos + width, bottom],
                        [xpos + width + 40, bottom - height],
                        [xpos + 40, bottom - height],
                    ],
                    np.int32,
                )
                book = shape_mask(lambda c, p=pts: cv2.fillPoly(c, [p], 255, cv2.LINE_AA))
                xpos += 40
            else:
                book = shape_mask(
                    lambda c, a=xpos, w=width, h=height, b=bottom: cv2.rectangle(
                        c, (a, b - h), (a + w, b), 255, -1
                    )
                )
            paint(image, book, colour)
            # Spine bands: a light and a dark line near the top, as printed spines have.
            band = shape_mask(
                lambda c, a=xpos, w=width, h=height, b=bottom: cv2.rectangle(
                    c, (a + 3, b - h + 18), (a + w - 3, b - h + 26), 255, -1
                )
            )
            paint(image, band, hex_rgb("#e9dcc0"), 0.35 if not lean else 0.0)
            xpos += width + int(rng.integers(1, 4))
    # Shelf boards and side panels.
    for _top, bottom in rows:
        board = shape_mask(lambda c, b=bottom: cv2.rectangle(c, (0, b), (WIDTH, b + 22), 255, -1))
        paint(image, board, wood * 1.1)
        lip = shape_mask(lambda c, b=bottom: cv2.rectangle(c, (0, b + 14), (WIDTH, b + 22), 255, -1))
        paint(image, lip, wood * 0.8)
    for x0 in (0, 940, 1890):
        side = shape_mask(lambda c, a=x0: cv2.rectangle(c, (a - 15, 0), (a + 30, HEIGHT), 255, -1))
        paint(image, side, wood)
    # Warm light from the upper left; shelves in the shade of the board above darker at the top.
    shade = np.ones((HEIGHT, WIDTH), np.float32)
    for top, bottom in rows:
        shade -= (
            0.25
            * np.exp(-np.clip(y * HEIGHT - (top + 22), 0, None) / 60)
            * ((y * HEIGHT > top) & (y * HEIGHT < bottom + 22))
        )
    image *= shade[..., None]
    # Muted a little and well out of focus, so the shelf stays behind the person.
    grey = image.mean(axis=2, keepdims=True)
    image = grey + 0.8 * (image - grey)
    image = blur(image, 9)
    light = 0.75 + 0.45 * glow(x, y, 0.3, 0.25, 0.45)
    image = image * light[..., None] * hex_rgb("#fff1dc") / hex_rgb("#fff1dc").max()
    return vignette(image, 0.35, x, y)


def gradient(rng: np.random.Generator) -> Image:
    """A soft pastel mesh gradient: peach, rose, lavender and sky blue."""
    x, y = grid()
    spots = [
        (0.05, 0.1, "#ffd3b0", 0.45),
        (0.95, 0.05, "#c9c3f2", 0.5),
        (0.5, 0.55, "#f6c6cf", 0.35),
        (0.1, 0.95, "#f9e2c2", 0.4),
        (0.92, 0.9, "#b8dcef", 0.45),
        (0.7, 0.3, "#e3cdf0", 0.3),
    ]
    total = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    weights = np.zeros((HEIGHT, WIDTH), np.float32)
    for cx, cy, col, r in spots:
        w = glow(x, y, cx, cy, r, r) ** 1.5 + 1e-4
        total += w[..., None] * hex_rgb(col)
        weights += w
    image = total / weights[..., None]
    # A gentle swirl of light through the middle.
    wave = np.sin(7 * x + 4 * np.sin(3 * y + 1) + 2 * y)
    image += (0.035 * wave)[..., None]
    return blur(image, 20)


def studio(rng: np.random.Generator) -> Image:
    """A dark photo-studio backdrop: mottled charcoal canvas, a soft light behind the subject."""
    x, y = grid()
    mottle = noise(rng, 3, 5)
    base = lerp(hex_rgb("#1d2126"), hex_rgb("#2c3239"), 0.5 + 0.5 * mottle)
    light = glow(x, y, 0.5, 0.42, 0.24, 0.38)
    image = base + (0.28 * light)[..., None] * hex_rgb("#a9b4c2")
    fine = noise(rng, 40, 2)
    image *= (1 + 0.025 * fine)[..., None]
    image = vignette(image, 0.7, x, y)
    # The backdrop sweeps into the floor: a faint, lighter band low in the frame.
    floor = smoothstep(0.8, 1.0, y) * glow(x, y, 0.5, 1.0, 0.5, 0.3)
    image += (0.04 * floor)[..., None]
    return blur(image, 2)


def nature(rng: np.random.Generator) -> Image:
    """Misty mountain ridges at sunrise, fading into haze: layered, calm, far away."""
    x, y = grid()
    sky = lerp(hex_rgb("#a7c7e2"), hex_rgb("#f8e1c6"), smoothstep(0.0, 0.5, y))
    image = sky + (0.22 * glow(x, y, 0.68, 0.37, 0.07, 0.11))[..., None] * hex_rgb("#fff3d6")
    haze = hex_rgb("#e4e4e6")
    layers = [
        (0.40, 0.05, "#a3b6c9"),
        (0.48, 0.06, "#8aa1b5"),
        (0.57, 0.06, "#6d889a"),
        (0.67, 0.07, "#52707a"),
        (0.79, 0.06, "#3a5a57"),
        (0.92, 0.05, "#284640"),
    ]
    column = np.arange(WIDTH, dtype=np.float32) / WIDTH
    for i, (level, amp, col) in enumerate(layers):
        wobble = noise(rng, 2 + i, 3, shape=(8, WIDTH))[4]
        ridge = level - amp * (0.7 * wobble + 0.5 * np.sin(column * (2.5 + 0.7 * i) * np.pi + 1.3 * i))
        # Crests are crisp and darker; each ridge dissolves into the mist of the valley below it
        # (measured from the smooth ridge line, so the trees below do not streak the mist).
        colour = lerp(fill(hex_rgb(col)), fill(haze), 0.55 * smoothstep(0.0, 0.14, y - ridge[None, :]))
        if i >= 3:  # nearer ridges are wooded: a fine, soft unevenness along the crest
            ridge = ridge - 0.006 * (i - 2) * np.abs(noise(rng, 90, 2, shape=(8, WIDTH))[4])
        inside = smoothstep(-0.0015, 0.0015, y - ridge[None, :])
        image = image + (colour - image) * inside[..., None]
    return blur(image, 2.0)


def brand(rng: np.random.Generator) -> Image:
    """livebg's brand colour: deep indigo with soft, flowing ribbons of teal and violet light."""
    x, y = grid()
    image = lerp(hex_rgb("#1f2a6b"), hex_rgb("#2d1f5e"), x * 0.6 + y * 0.4)
    for i, (col, phase, width) in enumerate(
        [("#2fb3b8", 0.0, 0.09), ("#6a5acd", 1.7, 0.12), ("#3f8fd6", 3.1, 0.07)]
    ):
        centre = (
            0.55
            + 0.18 * np.sin(2.2 * x * np.pi + phase)
            + 0.06 * np.sin(5.1 * x + 2 * phase)
            - 0.12 * i
            + 0.1
        )
        band = np.exp(-(((y - centre) / width) ** 2))
        image += (0.35 * band * (0.4 + 0.6 * x))[..., None] * hex_rgb(col)
    image += (0.18 * glow(x, y, 0.85, 0.2, 0.25))[..., None] * hex_rgb("#7fd8e0")
    image = vignette(image, 0.35, x, y)
    return blur(image, 12)


BACKGROUNDS: dict[str, Callable[[np.random.Generator], Image]] = {
    "office": office,
    "bookshelf": bookshelf,
    "gradient": gradient,
    "studio": studio,
    "nature": nature,
    "brand": brand,
}


def render(name: str, seed: int = 7) -> np.ndarray:
    """The named background as uint8 (1080, 1920, 3) RGB."""
    rng = np.random.default_rng([seed, sorted(BACKGROUNDS).index(name)])
    return finish(BACKGROUNDS[name](rng).astype(np.float32), rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR, help="folder for the JPEGs (default: backgrounds/)"
    )
    parser.add_argument("--only", nargs="*", choices=sorted(BACKGROUNDS), help="render only these")
    parser.add_argument("--sheet", type=Path, help="also write a downscaled contact sheet here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    thumbs = []
    for name in args.only or BACKGROUNDS:
        rgb = render(name)
        path = args.out / f"{name}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        print(f"{path}: {path.stat().st_size // 1024} KiB")
        thumbs.append(cv2.resize(rgb, (640, 360), interpolation=cv2.INTER_AREA))
    if args.sheet:
        while len(thumbs) % 2:
            thumbs.append(np.zeros_like(thumbs[0]))
        rows = [np.hstack(thumbs[i : i + 2]) for i in range(0, len(thumbs), 2)]
        cv2.imwrite(str(args.sheet), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
