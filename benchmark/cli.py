"""The ``mllmcl-bench`` command line: argument parsing only.

Each subcommand calls one function in the package. A problem with the user's input
(``BenchmarkError``, or ``ValueError`` from a reader) is printed as one line on stderr and
the exit status is 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmark import __version__
from benchmark.errors import BenchmarkError

EPILOG = """\
examples:
  mllmcl-bench tasks list
  mllmcl-bench tasks prepare shapes
  mllmcl-bench tasks show shapes/colour
  mllmcl-bench evaluate --submission submissions/shapes/seq-lora
  mllmcl-bench metrics matrix.csv --json
  mllmcl-bench validate --base origin/main
  mllmcl-bench site && open leaderboard/_site/index.html
  mllmcl-bench demo

Data goes to $MLLMCL_BENCH_HOME (default: the platform cache dir). Extra suite files are
read from $MLLMCL_BENCH_TASKS (directories separated by ':').
"""


def _tasks_list(args: argparse.Namespace) -> str:
    from benchmark.suites.console import list_text

    return list_text()


def _tasks_show(args: argparse.Namespace) -> str:
    from benchmark.suites.console import show_text

    return show_text(args.suite)


def _tasks_prepare(args: argparse.Namespace) -> str:
    from benchmark.suites.console import prepare

    return prepare(args.suite, from_dir=args.from_dir)


def _metrics(args: argparse.Namespace) -> str:
    from benchmark.metrics.matrix_file import metrics_report

    return metrics_report(args.matrix, base_row=not args.no_base_row, as_json=args.json)


def _steps(text: str) -> list[int]:
    """``0,2,4`` or ``1-3`` (or a mix) → step numbers."""
    out: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            out.extend(range(int(first), int(last or first) + 1))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a step list: {text!r} (e.g. 0,1,2 or 0-4)"
            ) from None
    return out


def _evaluate(args: argparse.Namespace) -> str:
    from benchmark.evaluation.grid import summary_text
    from benchmark.evaluation.run import evaluate_entry

    outcome = evaluate_entry(
        args.submission,
        backend=args.backend,
        limit=args.limit,
        tasks=args.tasks.split(",") if args.tasks else None,
        steps=args.steps,
        batch_size=args.batch_size,
        device=args.device,
        cache_path=args.cache,
        out_dir=args.out,
        n_boot=args.bootstrap,
        seed=args.seed,
        progress=not args.quiet,
        workers=args.workers,
        generate_only=args.generate_only,
        ray_address=args.ray,
        tensor_parallel=args.tensor_parallel,
        allow_mixed_backends=args.allow_mixed_backends,
        trust_remote_code=args.trust_remote_code,
    )
    if args.generate_only:
        return f"generated {outcome.generated} prediction(s) into the cache"
    text = summary_text(outcome.results)
    text += f"\ngenerated {outcome.generated} prediction(s) in this run"
    if outcome.written is None:
        text += (
            "\npartial grid (--limit/--tasks/--steps): nothing written; use --out DIR to keep it"
        )
    else:
        text += f"\nwrote {outcome.written}"
    return text


def _rescore(args: argparse.Namespace) -> str:
    from benchmark.evaluation.refresh import default_entries, rescore_entries

    written = rescore_entries(args.entries or default_entries(args.submissions))
    return "\n".join(f"wrote {path}" for path in written)


def _site(args: argparse.Namespace) -> str:
    from benchmark.site.render import site_build

    index = site_build(args.submissions, args.out)
    return f"built {index.parent}\nopen file://{index.resolve()}"


def _validate(args: argparse.Namespace) -> str:
    from benchmark.validate.pull_requests import format_reports, validate

    reports = validate(args.entries, base=args.base, repo=args.repo)
    text, ok = format_reports(reports)
    if not ok:
        print(text)
        raise SystemExit(1)
    return text


def _convert_llava(args: argparse.Namespace) -> str:
    from benchmark.convert.llava import convert_sequence
    from benchmark.generation.checkpoints import content_hash

    if args.projector and not args.language_model and not args.base:
        raise BenchmarkError("--projector goes with --language-model (or --base)")
    base, steps = convert_sequence(
        args.out,
        args.steps,
        base=args.base,
        language_model=args.language_model,
        projector=args.projector,
        vision_tower=args.vision_tower,
        progress=lambda line: print(f"convert: {line}", file=sys.stderr),
    )
    lines = [f"wrote {base} (LlavaForConditionalGeneration)"]
    lines += [f"wrote {step}" for step in steps]
    lines.append("\nsubmission.yaml (copy the folders into the entry, or point at them):")
    lines.append(f"base_model: {{id: <hub id of the original base>, path: {base.name}}}")
    lines.append("checkpoints:")
    for index, step in enumerate(steps, start=1):
        lines.append(
            f"  - {{step: {index}, task: <task {index}>, kind: lora, path: {step.name}, "
            f"sha256: {content_hash(step)}}}"
        )
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> str:
    from benchmark.demo.run import run_demo

    return run_demo(submissions=args.submissions, site_out=args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mllmcl-bench",
        description="Benchmark suite, evaluation harness and leaderboard for continual "
        "learning of multimodal LLMs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mllmcl-bench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    tasks = commands.add_parser(
        "tasks",
        help="list, show and prepare benchmark suites",
        description="List, show and prepare benchmark suites (tasks/*.yaml).",
    )
    tasks_commands = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    p = tasks_commands.add_parser("list", help="every known suite, its version and status")
    p.set_defaults(run=_tasks_list)
    p = tasks_commands.add_parser(
        "show", help="a suite's orders and, per task, counts, scorer and a sample prompt"
    )
    p.add_argument("suite", metavar="SUITE[/TASK]")
    p.set_defaults(run=_tasks_show)
    p = tasks_commands.add_parser(
        "prepare", help="build a suite's records (download, or read a local mirror)"
    )
    p.add_argument("suite", metavar="SUITE")
    p.add_argument(
        "--from",
        dest="from_dir",
        type=Path,
        metavar="DIR",
        help="read the upstream files from a local mirror laid out like the hub repo",
    )
    p.set_defaults(run=_tasks_prepare)

    p = commands.add_parser(
        "evaluate",
        help="score a submission's checkpoints on the full accuracy matrix",
        description="Evaluate every checkpoint of a submission (step 0 = the base model) on "
        "every task and probe of its suite; write predictions/ and results.json into the entry. "
        "Predictions are cached: an interrupted run resumes, and a re-run generates nothing.",
    )
    p.add_argument(
        "--submission",
        type=Path,
        required=True,
        metavar="DIR",
        help="the entry folder holding submission.yaml",
    )
    p.add_argument(
        "--backend",
        choices=("hf", "vllm", "replay"),
        default="hf",
        help="hf (transformers, CPU/GPU; default), vllm (GPU), or replay (re-score "
        "the entry's saved predictions)",
    )
    p.add_argument("--limit", type=int, metavar="N", help="first N items per task (smoke run)")
    p.add_argument("--tasks", metavar="T1,T2", help="only these tasks/probes")
    p.add_argument("--steps", type=_steps, metavar="LIST", help="only these steps, e.g. 0,2 or 0-3")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="default 8")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1 …")
    p.add_argument(
        "--cache",
        type=Path,
        metavar="FILE",
        help="prediction cache (default $MLLMCL_BENCH_HOME/cache/predictions.sqlite)",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write predictions/ and results.json here instead of the entry",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap replicates for the intervals (default 1000)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N worker processes (one per GPU, CUDA_VISIBLE_DEVICES) sharing the cache",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="schedule the work units as Ray tasks: a local cluster, or ADDRESS of a running "
        "one (pip install 'mllmcl-bench[ray]'); with --workers N, the local cluster's CPUs",
    )
    p.add_argument(
        "--tensor-parallel",
        type=int,
        default=1,
        metavar="N",
        help="GPUs per model (vLLM tensor_parallel_size; GPUs per worker / Ray unit)",
    )
    p.add_argument(
        "--allow-mixed-backends",
        action="store_true",
        help="with --backend vllm: generate the steps vLLM cannot serve (adapters with a "
        "saved projector, DoRA, …) with hf in the same run, recorded per step; by default "
        "such an entry stops before any generation",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run the base model's own Python code from the hub (bases that exist only as "
        "remote code); needs base_model pinned to a hub revision; recorded in results.json "
        "and shown on the entry page. Off by default; validate never runs model code",
    )
    p.add_argument(
        "--generate-only",
        action="store_true",
        help="fill the prediction cache and stop (no scoring, nothing written)",
    )
    p.set_defaults(run=_evaluate)

    p = commands.add_parser(
        "validate",
        help="the checks a leaderboard pull request must pass",
        description="Check leaderboard entries: schema, safe paths and file types, sizes, "
        "prediction coverage, metrics recomputed from the predictions. With --base, check "
        "that the changes since the merge base add exactly one entry and touch nothing else. "
        "Exit status 1 when a check fails. Nothing from an entry is ever executed.",
    )
    p.add_argument(
        "entries",
        nargs="*",
        type=Path,
        metavar="ENTRY",
        help="entry folders (default: every entry under submissions/)",
    )
    p.add_argument("--base", metavar="REF", help="git ref the pull request is based on")
    p.add_argument("--repo", type=Path, default=Path("."), help="repository root (default .)")
    p.set_defaults(run=_validate)

    p = commands.add_parser(
        "rescore",
        help="rewrite entries' results.json from their saved predictions",
        description="Score each entry's saved predictions again with the current scoring and "
        "metric definitions (same bootstrap replicates and seed) and rewrite its "
        "results.json, keeping what it records of the run that made the predictions "
        "(backend, checkpoints, versions, timings). Nothing is generated.",
    )
    p.add_argument(
        "entries",
        nargs="*",
        type=Path,
        metavar="ENTRY",
        help="entry folders (default: every entry under --submissions)",
    )
    p.add_argument("--submissions", type=Path, default=Path("submissions"), metavar="DIR")
    p.set_defaults(run=_rescore)

    p = commands.add_parser(
        "site",
        help="build the static leaderboard",
        description="Render the leaderboard (HTML, leaderboard.json, one CSV per suite) from "
        "the entries' submission.yaml and results.json. Open index.html from disk or serve the "
        "folder from any static host.",
    )
    p.add_argument("--submissions", type=Path, default=Path("submissions"), metavar="DIR")
    p.add_argument("--out", type=Path, default=Path("leaderboard/_site"), metavar="DIR")
    p.set_defaults(run=_site)

    p = commands.add_parser(
        "demo",
        help="the whole pipeline on the built-in shapes suite (CPU, offline)",
        description="Prepare shapes, build a tiny vision-language model, train three reference "
        "baselines (sequential LoRA, + replay, joint), evaluate each on the full accuracy "
        "matrix, and build the leaderboard. Checkpoints and predictions are cached.",
    )
    p.add_argument("--submissions", type=Path, default=Path("submissions"), metavar="DIR")
    p.add_argument("--out", type=Path, default=Path("leaderboard/_site"), metavar="DIR")
    p.set_defaults(run=_demo)

    p = commands.add_parser(
        "convert",
        help="convert checkpoints from other codebases to the layout the backends load",
        description="Convert checkpoints once, before evaluation. `convert llava`: the "
        "original LLaVA codebase (LlavaLlamaForCausalLM, as MR-LoRA, CoIN, MCITlib and "
        "HiDe-LLaVA train) → transformers' LlavaForConditionalGeneration.",
    )
    convert_commands = p.add_subparsers(dest="format", required=True, metavar="FORMAT")
    p = convert_commands.add_parser(
        "llava",
        help="original-LLaVA base + LoRA steps → transformers layout",
        description="Write OUT/base (a LlavaForConditionalGeneration folder with its "
        "processor: <image> token, vicuna_v1 chat template, pad-to-square preprocessing) "
        "and OUT/step-N for each STEP_DIR (the LoRA adapter renamed to transformers' modules, "
        "its non_lora_trainables.bin — the step's projector — as "
        "non_lora_trainables.safetensors). Every tensor is checked to land on the converted "
        "model. Reads .bin files as plain tensors only.",
    )
    p.add_argument(
        "steps", nargs="*", type=Path, metavar="STEP_DIR", help="LoRA step folders, in order"
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--base", type=Path, metavar="DIR", help="an original LlavaLlamaForCausalLM folder"
    )
    source.add_argument(
        "--language-model",
        type=Path,
        metavar="DIR",
        help="a Vicuna/LLaMA folder (the steps' model_base); needs --projector",
    )
    p.add_argument("--projector", type=Path, metavar="FILE", help="stage-1 mm_projector.bin")
    p.add_argument(
        "--vision-tower",
        metavar="DIR|ID",
        help="the CLIP tower (default: the config's mm_vision_tower, a folder or hub id)",
    )
    p.set_defaults(run=_convert_llava)

    p = commands.add_parser(
        "metrics",
        help="CL metrics of an accuracy matrix you already have",
        description="Print last, avg, mft, bwt, forgetting, fwt and zero_shot_gain of a "
        "matrix: rows = steps (first row the base model unless --no-base-row), columns = "
        "tasks in training order, values 0-100; empty (CSV) or null (JSON) cells are missing.",
    )
    p.add_argument("matrix", type=Path, metavar="MATRIX.(csv|json)")
    p.add_argument("--no-base-row", action="store_true", help="the matrix has no step-0 row")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_metrics)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], str | None] = args.run
    try:
        output = run(args)
    except (BenchmarkError, ValueError, FileNotFoundError) as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
        print(f"mllmcl-bench: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mllmcl-bench: interrupted", file=sys.stderr)
        return 130
    if output:
        print(output)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
