"""The sequence sweep of a bundle: its standard errors, the disk round trip, the analysis, report and figure."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from steerbounds.validation import (
    BundleError,
    analyze_bundle,
    build_report,
    load_bundle,
    render_markdown,
    save_bundle,
    synthetic_bundle,
)
from steerbounds.validation._bundle import SEQUENCE_RESPONSES_NAME, SequenceSweep


def _draw(p_qc: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random((*p_qc.shape, n_samples)) < p_qc[..., None], 1.0, -1.0)


def test_standard_errors_by_hand():
    scores = np.array([[[1, 1, 1], [1, -1, -1]], [[-1, -1, 1], [1, 1, 1]], [[-1, -1, -1], [-1, 1, 1]]], float)
    seq = SequenceSweep(np.array([0.0, 1.0]), scores, np.ones(scores.shape, int), np.arange(3), 4, 1.0)
    m = scores.mean(axis=2)  # per-prompt means
    np.testing.assert_allclose(seq.mean_c, m.mean(axis=0))
    np.testing.assert_allclose(seq.se_c, np.sqrt(((m - m.mean(0)) ** 2).sum(0) / (3 * 2)))
    within = scores.var(axis=2, ddof=1) / 3
    np.testing.assert_allclose(seq.se_sampling_c, np.sqrt(within.sum(0)) / 3)
    np.testing.assert_allclose(seq.refusal_fraction_c, [4 / 9, 6 / 9])


def test_cluster_se_bounds_the_seed_to_seed_spread_and_covers_new_prompts():
    """Prompts fixed, seeds vary: the spread is the sampling noise, which the cluster SE bounds and the
    sampling-only SE matches. Prompts drawn anew: the cluster SE is calibrated (z-scores of spread about 1)."""
    rng = np.random.default_rng(0)
    n_prompts, n_samples, n_seeds = 40, 2, 400
    c = np.array([0.0, 1.0])
    p_q = rng.beta(0.6, 0.6, size=n_prompts)  # refusal probabilities spread over prompts
    p_qc = np.stack([p_q, np.clip(p_q + 0.2, 0, 1)], axis=1)
    means, se, se_sampling = [], [], []
    for _ in range(n_seeds):
        seq = SequenceSweep(c, _draw(p_qc, n_samples, rng), np.ones((n_prompts, 2, n_samples), int),
                            np.arange(n_prompts), 32, 1.0)
        means.append(seq.mean_c)
        se.append(seq.se_c)
        se_sampling.append(seq.se_sampling_c)
    spread = np.std(means, axis=0, ddof=1)
    assert np.all(spread <= np.mean(se, axis=0))  # the stated error bar bounds the seed-to-seed error
    np.testing.assert_allclose(spread, np.sqrt(np.mean(np.square(se_sampling), axis=0)), rtol=0.15)
    truth = 2 * p_qc.mean(axis=0) - 1  # E B over the sampling, these prompts
    z = (np.array(means) - truth) / np.array(se)
    assert np.all(np.mean(np.abs(z) < 1.96, axis=0) > 0.95)  # over-covers when prompts are fixed
    # prompts drawn anew from their population each time: z-scores against the population mean have spread ~1
    zs, zs_sampling_only = [], []
    for _ in range(n_seeds):
        p = rng.beta(0.6, 0.6, size=n_prompts)
        seq = SequenceSweep(c, _draw(np.stack([p, p], 1), n_samples, rng), np.ones((n_prompts, 2, n_samples), int),
                            np.arange(n_prompts), 32, 1.0)
        zs.append((seq.mean_c[0] - 0.0) / seq.se_c[0])  # the Beta(0.6, 0.6) mean is 1/2: E B = 0
        zs_sampling_only.append(seq.mean_c[0] / seq.se_sampling_c[0])
    assert 0.85 < np.std(zs) < 1.15
    # a planted wrong SE (the sampling-only SE, same draws, prompts drawn anew) under-covers and is caught
    assert np.std(zs_sampling_only) > 1.3


def _with_sequence(bundle, *, texts: bool = True, n_prompts: int = 4, seed: int = 0):
    c = bundle.behaviour.coefficients_c[::5]
    rng = np.random.default_rng(seed)
    p = 0.5 * (1 + np.tanh(0.5 * c))
    scores = _draw(np.tile(p, (n_prompts, 1)), 2, rng)
    seq = SequenceSweep(c, scores, rng.integers(1, 33, scores.shape), np.arange(n_prompts), 32, 1.0, seed=seed,
                        responses=tuple(("I'm sorry" if s > 0 else "Sure") + f" #{i}"
                                        for i, s in enumerate(scores.reshape(-1))) if texts else None)
    return dataclasses.replace(bundle, sequence=seq)


@pytest.fixture(scope="module")
def base():
    return synthetic_bundle(seed=0, n_prompts=6, n_questions=30)


def test_bundle_round_trip_with_and_without_the_sequence(base, tmp_path):
    plain = load_bundle(save_bundle(base, tmp_path / "plain"))
    assert plain.sequence is None and not (tmp_path / "plain" / SEQUENCE_RESPONSES_NAME).exists()
    manifest = json.loads((tmp_path / "plain" / "manifest.json").read_text())
    assert "sequence" not in manifest and manifest["version"] == 1  # nothing changes for bundles without it
    for texts in (True, False):
        b = _with_sequence(base, texts=texts)
        back = load_bundle(save_bundle(b, tmp_path / f"seq{texts}")).sequence
        for name in ("coefficients_c", "scores_qcs", "lengths_qcs", "prompt_indices_q"):
            np.testing.assert_array_equal(getattr(back, name), getattr(b.sequence, name))
        assert back.responses == b.sequence.responses and back.seed == 0 and back.max_new_tokens == 32
    # rewriting a bundle without texts removes the old texts
    save_bundle(_with_sequence(base, texts=False), tmp_path / "seqTrue")
    assert not (tmp_path / "seqTrue" / SEQUENCE_RESPONSES_NAME).exists()


def test_a_modified_responses_file_is_refused(base, tmp_path):
    d = save_bundle(_with_sequence(base), tmp_path / "b")
    with open(d / SEQUENCE_RESPONSES_NAME, "a") as f:
        f.write('{"text": "extra"}\n')
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(d)


@pytest.mark.parametrize("change, words", [
    ({"coefficients_c": np.array([0.0, 0.3])}, "not on the behaviour grid"),
    ({"scores_qcs": np.full((4, 5, 2), 0.5)}, r"other than -1, 0, \+1"),
    ({"lengths_qcs": np.full((4, 5, 2), 1.5)}, "lengths_qcs"),
    ({"prompt_indices_q": np.array([0, 1, 2, 99])}, "prompt_indices_q"),
    ({"temperature": -1.0}, "temperature"),
    ({"responses": ("a",)}, "responses"),
])
def test_malformed_sequence_sweeps_are_named(base, change, words):
    b = _with_sequence(base)
    bad = dataclasses.replace(b, sequence=dataclasses.replace(b.sequence, **change))
    with pytest.raises(BundleError, match=words):
        bad.validated()


def test_analysis_report_and_figure(base, tmp_path):
    report = build_report([analyze_bundle(_with_sequence(base, n_prompts=6))])
    json.dumps(report, allow_nan=False)
    seq = report["conditions"]["synthetic"]["sequence"]
    assert seq["measured"] and seq["n_prompts"] == 6 and len(seq["coefficients"]) == 5
    assert seq["fit"]["converged"] and seq["first_token_fit"]["a"] == report["conditions"]["synthetic"]["fits"][
        "behaviour_tanh"]["a"]
    assert seq["t1"]["checked"] and seq["t1"]["n_checked"] == 4
    md = render_markdown(report)
    assert "tanh(a c + b₀) fitted to the sequence-level mean" in md and "T1's form on the sequence-level mean" in md
    from matplotlib import rc_context

    from steerbounds.validation import BundleAnalysis
    from steerbounds.validation._plots import FIGURES
    from steerbounds.validation._style import rc_params

    with rc_context(rc_params("paper")):  # the figure plot_report draws (the others are tested with it)
        fig, caption = FIGURES["sequence_behaviour"](BundleAnalysis.from_dict(report["conditions"]["synthetic"]), "paper")
        fig.savefig(tmp_path / "sequence.png")
    assert (tmp_path / "sequence.png").stat().st_size > 0 and "95 % intervals" in caption
    assert len(fig.axes[0].lines) >= 3  # first-token expectation, T1 form, fit (and the error bars)
    # without the sweep: no figure, and the report says why
    plain = build_report([analyze_bundle(base)])
    assert FIGURES["sequence_behaviour"](BundleAnalysis.from_dict(plain["conditions"]["synthetic"]), "paper") is None
    assert plain["conditions"]["synthetic"]["sequence"] == {
        "measured": False, "reason": "the bundle holds no sampled responses (sequence sweep absent)"}


def test_t1_form_catches_a_planted_violation(base):
    """A sequence-level mean far below the bound at c > 0 is reported as failing T1's form."""
    b = _with_sequence(base, n_prompts=6)
    scores = b.sequence.scores_qcs.copy()
    c = b.sequence.coefficients_c
    scores[:, c > 0] = -1.0  # never refuses when steered towards refusal
    scores[:, c == 0] = np.tile([1.0, -1.0], (6, 1))[:, None]  # B_0 = 0
    bad = dataclasses.replace(b, sequence=dataclasses.replace(b.sequence, scores_qcs=scores))
    t1 = analyze_bundle(bad).sequence.t1
    assert t1.checked and not t1.holds and t1.n_significantly_below >= 1


def test_t1_form_with_a_unanimous_unsteered_mean(base):
    """A model that never refuses unsteered (B_0 = -1) is still checked, with a Jeffreys-smoothed B_0."""
    b = _with_sequence(base, n_prompts=6)
    c = b.sequence.coefficients_c
    scores = np.where(c[None, :, None] > 0, 1.0, -1.0) * np.ones_like(b.sequence.scores_qcs)
    seq = analyze_bundle(dataclasses.replace(b, sequence=dataclasses.replace(b.sequence, scores_qcs=scores))).sequence
    t1 = seq.t1
    assert t1.checked and t1.holds and -1 < t1.b0_smoothed < -0.9 and "Jeffreys" in t1.note
    assert seq.fit.predicted.b0 == pytest.approx(np.arctanh(t1.b0_smoothed))
