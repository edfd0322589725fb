"""``steerbounds vectors export|import``: control-vector files for llama.cpp, repeng and safetensors readers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _layer_list(text: str) -> tuple[int, ...]:
    """``START:STOP`` (stop excluded) or a comma list."""
    try:
        if ":" in text:
            start, stop = (int(x) for x in text.split(":"))
            return tuple(range(start, stop))
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected START:STOP or a comma list of layer indices, got {text!r}") from err


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``vectors`` with its ``export`` and ``import`` actions."""
    vectors = subparsers.add_parser(
        "vectors",
        help="export steering vectors as a control vector for llama.cpp/repeng (GGUF) or safetensors, or import one",
        description=(
            "Convert steering vectors between this package's file (vectors.safetensors, written by reproduce) and "
            "control-vector files: GGUF as llama.cpp's --control-vector reads and repeng's export_gguf writes "
            "(direction.L is added after block L, 0-based; layers 1..n_layers-1), or the same layout in safetensors. "
            "Directions are unit vectors, so llama.cpp's strength is the coefficient c."
        ),
    )
    actions = vectors.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="write a control-vector file",
        description=(
            "Write the directions of a steering-vector file as a control vector. The recommended coefficient (the "
            "best c for G - lambda Lambda measured by the tradeoff analysis) goes into the metadata as "
            "steerbounds.recommended_coefficient: from --report, or given with --coefficient. Run it with "
            "llama-cli --control-vector-scaled FILE C."
        ),
    )
    export.add_argument("vectors", type=Path, help="steering-vector file (vectors.safetensors from reproduce)")
    export.add_argument("--format", choices=("gguf", "safetensors"), default="gguf", help="file format (default gguf)")
    export.add_argument("--out", type=Path, required=True, help="control-vector file to write")
    export.add_argument("--n-layers", type=int, required=True, help="the model's number of transformer blocks")
    export.add_argument("--layers", type=_layer_list, default=None, metavar="LAYERS",
                        help="layers to export, START:STOP or comma list (default: the report condition's steered "
                             "layers, else every layer of the file)")
    export.add_argument("--model-hint", default="", help="controlvector.model_hint, the model family (e.g. llama)")
    source = export.add_mutually_exclusive_group()
    source.add_argument("--report", type=Path, help="report.json whose measured tradeoff gives the coefficient")
    source.add_argument("--coefficient", type=float, help="the recommended coefficient, given directly")
    export.add_argument("--condition", help="the report's condition (default: the only one a control vector can hold)")
    export.add_argument("--lambda", dest="lam", type=float, default=None,
                        help="lambda of G - lambda Lambda (default: the report's only one)")
    export.set_defaults(func=_export)

    imp = actions.add_parser(
        "import", help="read a control-vector file (GGUF or safetensors) into a steering-vector file",
        description=(
            "Read a control vector (written by this package, llama.cpp's cvector-generator or repeng) and write its "
            "unit directions as a steering-vector file; without --out, print what the file holds as JSON."
        ),
    )
    imp.add_argument("path", type=Path, help="control-vector file (.gguf or .safetensors)")
    imp.add_argument("--out", type=Path, help="steering-vector file to write (vectors.safetensors layout)")
    imp.set_defaults(func=_import)


def _fail(message: str) -> int:
    print(f"steerbounds vectors: {message}", file=sys.stderr)
    return 2


def _export(args: argparse.Namespace) -> int:
    import numpy as np

    # the vector modules (JAX) load when the command runs, not when the parser is built
    from ._control_vector import export_control_vector, recommended_coefficient
    from ._vectors import SteeringVectors, load_steering_vectors

    try:
        vectors = load_steering_vectors(args.vectors)
        coefficient, lam, source, layers = args.coefficient, args.lam, "given", args.layers
        if args.report is not None:
            rec = recommended_coefficient(args.report, condition=args.condition, lam=args.lam, n_layers=args.n_layers)
            coefficient, lam, source = rec.coefficient, rec.lam, rec.source
            layers = layers if layers is not None else rec.layers
        elif args.condition is not None:
            raise ValueError("--condition: only with --report")
        if layers is not None:
            missing = [layer for layer in layers if layer not in vectors.layers]
            if missing:
                raise ValueError(f"--layers: {args.vectors} has no direction for layers {missing}; it has {vectors.layers}")
            vectors = SteeringVectors(
                np.stack([vectors.direction(layer) for layer in layers]), tuple(layers), vectors.method,
                sign=vectors.sign, n_pairs=vectors.n_pairs, model_hash=vectors.model_hash)
        path = export_control_vector(args.out, vectors, n_layers=args.n_layers, format=args.format,
                                     model_hint=args.model_hint, coefficient=coefficient, lam=lam,
                                     coefficient_source=source)
    except (ValueError, TypeError, FileNotFoundError) as err:
        return _fail(str(err))
    print(json.dumps({"out": str(path), "format": args.format, "layers": list(vectors.layers),
                      "recommended_coefficient": coefficient, "lambda": lam, "source": source if coefficient is not None else None},
                     indent=1))
    return 0


def _import(args: argparse.Namespace) -> int:
    # the vector modules (JAX) load when the command runs, not when the parser is built
    from ._control_vector import import_control_vector
    from ._vectors import save_steering_vectors

    try:
        cv = import_control_vector(args.path)
        vectors = cv.steering_vectors()
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            save_steering_vectors(args.out, vectors)
    except (ValueError, TypeError, FileNotFoundError, OSError) as err:
        return _fail(str(err))
    summary = {
        "path": str(args.path), "layers": list(cv.layers), "d_model": int(cv.directions_ld.shape[1]),
        "norms": [round(float(x), 6) for x in cv.norms_l], "model_hint": cv.model_hint,
        "layer_count": cv.layer_count, "recommended_coefficient": cv.recommended_coefficient, "lambda": cv.lam,
        "out": None if args.out is None else str(args.out),
    }
    print(json.dumps(summary, indent=1))
    return 0
