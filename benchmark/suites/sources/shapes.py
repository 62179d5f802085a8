"""The built-in offline suite: coloured shapes drawn with Pillow from a seed.

Four tasks learned in sequence — colour, shape, count, position — each a mix of
multiple-choice items (every possible answer lettered in the question, always in the same
order; gold = the letter) and short-answer items (gold = a word or a digit). Everything is
a pure function of the suite's options (seed, image size, split sizes), so preparing twice
gives identical images and records, and no network is needed.
"""

from __future__ import annotations

import functools
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from benchmark.errors import SuiteError
from benchmark.suites.records import CHOICE_LETTERS, Record, render_choices
from benchmark.suites.sources import SourceRequest
from benchmark.suites.sources.common import join_suffix

VERIFIED = True  # generated here: there is no upstream layout to check

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (40, 70, 220),
    "yellow": (235, 205, 20),
    "purple": (140, 40, 180),
    "orange": (245, 130, 20),
}
KINDS = ("circle", "square", "triangle", "diamond")
POSITIONS = ("top left", "top right", "bottom left", "bottom right")
COUNTS = ("1", "2", "3", "4")
BACKGROUND = (255, 255, 255)

QUESTIONS = {
    "colour": "What colour is the shape in the image?",
    "shape": "What shape is shown in the image?",
    "count": "How many shapes are in the image?",
    "position": "Where in the image is the shape?",
}
ANSWER_SPACE = {
    "colour": tuple(COLOURS),
    "shape": KINDS,
    "count": COUNTS,
    "position": POSITIONS,
}
DEFAULT_SIZES = {"train": 600, "test": 300}


@dataclass(frozen=True)
class Shape:
    kind: str
    colour: str
    cx: float
    cy: float
    radius: float


def draw(shapes: list[Shape], size: int) -> bytes:
    """Render shapes on a white canvas; PNG bytes (deterministic)."""
    image = Image.new("RGB", (size, size), BACKGROUND)
    pen = ImageDraw.Draw(image)
    for s in shapes:
        fill = COLOURS[s.colour]
        x0, y0, x1, y1 = s.cx - s.radius, s.cy - s.radius, s.cx + s.radius, s.cy + s.radius
        if s.kind == "circle":
            pen.ellipse((x0, y0, x1, y1), fill=fill)
        elif s.kind == "square":
            pen.rectangle((x0, y0, x1, y1), fill=fill)
        elif s.kind == "triangle":
            pen.polygon([(s.cx, y0), (x1, y1), (x0, y1)], fill=fill)
        elif s.kind == "diamond":
            pen.polygon([(s.cx, y0), (x1, s.cy), (s.cx, y1), (x0, s.cy)], fill=fill)
        else:  # pragma: no cover - KINDS is closed
            raise ValueError(s.kind)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _one_shape(rng: random.Random, size: int, *, quadrant: str | None = None) -> Shape:
    radius = rng.uniform(0.16, 0.22) * size
    if quadrant is None:
        cx = rng.uniform(radius + 1, size - radius - 1)
        cy = rng.uniform(radius + 1, size - radius - 1)
    else:
        half = size / 2
        left = 0.0 if quadrant.endswith("left") else half
        top = 0.0 if quadrant.startswith("top") else half
        radius = rng.uniform(0.12, 0.18) * size
        cx = rng.uniform(left + radius + 1, left + half - radius - 1)
        cy = rng.uniform(top + radius + 1, top + half - radius - 1)
    return Shape(rng.choice(KINDS), rng.choice(tuple(COLOURS)), cx, cy, radius)


def _large_centred_shape(rng: random.Random, size: int) -> Shape:
    """One large shape near the centre: its outline spans several patches of a small vision
    tower (a small shape anywhere is beyond what the demo's tiny model can tell apart)."""
    radius = rng.uniform(0.30, 0.38) * size
    cx = size / 2 + rng.uniform(-0.06, 0.06) * size
    cy = size / 2 + rng.uniform(-0.06, 0.06) * size
    return Shape(rng.choice(KINDS), rng.choice(tuple(COLOURS)), cx, cy, radius)


def _scatter(rng: random.Random, size: int, n: int) -> list[Shape]:
    """n non-overlapping shapes, one per quadrant (grid cells, so they never touch)."""
    cells = [(r, c) for r in range(2) for c in range(2)]
    rng.shuffle(cells)
    step = size / 2
    shapes = []
    for row, col in cells[:n]:
        radius = rng.uniform(0.30, 0.40) * step
        cx = (col + 0.5) * step + rng.uniform(-0.08, 0.08) * step
        cy = (row + 0.5) * step + rng.uniform(-0.08, 0.08) * step
        shapes.append(Shape(rng.choice(KINDS), rng.choice(tuple(COLOURS)), cx, cy, radius))
    return shapes


def _item(task: str, rng: random.Random, size: int) -> tuple[list[Shape], str]:
    if task == "colour":
        shape = _one_shape(rng, size)
        return [shape], shape.colour
    if task == "shape":
        shape = _large_centred_shape(rng, size)
        return [shape], shape.kind
    if task == "count":
        answer = rng.choice(COUNTS)
        return _scatter(rng, size, int(answer)), answer
    if task == "position":
        answer = rng.choice(POSITIONS)
        return [_one_shape(rng, size, quadrant=answer)], answer
    raise SuiteError(f"shapes: unknown task {task!r}; known: {', '.join(QUESTIONS)}")


def records(request: SourceRequest, task: str, split: str) -> Iterator[Record]:
    """Generate the records (and write the images) of one task and split."""
    spec = request.tasks[task]
    options = {**request.options, **spec.options}
    seed = int(options.get("seed", 0))
    size = int(options.get("image_size", 64))
    sizes = {**DEFAULT_SIZES, **options.get("sizes", {})}
    choice_fraction = float(options.get("choice_fraction", 0.5))
    if split not in sizes:
        raise SuiteError(f"shapes: no size for split {split!r}; set options.sizes.{split}")
    task_kind = options.get("kind", task)
    if task_kind not in QUESTIONS:
        raise SuiteError(f"shapes: unknown task kind {task_kind!r}; known: {', '.join(QUESTIONS)}")
    rng = random.Random(f"shapes/{seed}/{task}/{split}")
    image_dir = Path("images") / task / split
    (request.out_dir / image_dir).mkdir(parents=True, exist_ok=True)
    for index in range(int(sizes[split])):
        shapes, answer = _item(task_kind, rng, size)
        rel = image_dir / f"{index:05d}.png"
        (request.out_dir / rel).write_bytes(draw(shapes, size))
        question = QUESTIONS[task_kind]
        meta = {
            "shapes": [[s.kind, s.colour, round(s.cx, 2), round(s.cy, 2)] for s in shapes],
        }
        make_record = functools.partial(
            Record.make,
            suite=request.suite,
            task=task,
            split=split,
            upstream_id=f"{index:05d}",
            images=[rel.as_posix()],
        )
        if rng.random() < choice_fraction:
            # Every possible answer, always in the same order: the letter names the answer
            # as the word does, and a small model can learn both in a few hundred steps.
            options_list = list(ANSWER_SPACE[task_kind])
            letter = CHOICE_LETTERS[options_list.index(answer)]
            yield make_record(
                question=join_suffix(
                    render_choices(question, options_list), spec.choice_suffix, "\n"
                ),
                choices=options_list,
                answers=[letter],
                scorer="multiple_choice",
                meta={**meta, "format": "choice", "answer_text": answer},
            )
        else:
            yield make_record(
                question=join_suffix(question, spec.prompt_suffix),
                answers=[answer],
                scorer=spec.scorer,
                meta={**meta, "format": "open"},
            )
