"""Negative samplers: exact distributions, the numpy reference and the kernel draws."""

import numba
import numpy as np
import pytest
from scipy import stats

from tripletrec import sampling
from tripletrec.kernels import training

# Enough draws for a sharp test when compiled; fewer in pure Python.
N_DRAWS = 20_000 if numba.config.DISABLE_JIT else 400_000


def chi_square_p_value(counts, probabilities):
    """p-value of observed ``counts`` under ``probabilities`` (zero cells must be empty)."""
    counts = np.asarray(counts, dtype=np.float64)
    possible = probabilities > 0
    assert counts[~possible].sum() == 0, "drew an item of probability zero"
    expected = probabilities[possible] * counts.sum()
    return stats.chisquare(counts[possible], expected).pvalue


def kernel_counts(
    name, n_items, positives=(), item_counts=None, alpha=0.75, max_draws=sampling.UNSEEN_MAX_DRAWS, seed=12345
):
    positives = np.asarray(sorted(positives), dtype=np.int32)
    if name == "popularity":
        threshold, alias = sampling.alias_table(sampling.popularity_probabilities(item_counts, alpha))
    else:
        threshold, alias = np.zeros(0, np.float32), np.zeros(0, np.int32)
    counts = np.zeros(n_items, dtype=np.int64)
    with np.errstate(over="ignore"):
        training.draw_negatives(
            counts, N_DRAWS, sampling.sampler_code(name), threshold, alias, positives, max_draws, np.uint64(seed)
        )
    return counts


# ------------------------------------------------------------------ names
def test_sampler_names_and_codes():
    assert sampling.NEGATIVE_SAMPLERS == ("uniform", "unseen", "popularity")
    assert [sampling.sampler_code(name) for name in sampling.NEGATIVE_SAMPLERS] == [0, 1, 2]


@pytest.mark.parametrize("name", ["random", "Uniform", None])
def test_unknown_sampler_lists_the_valid_names(name):
    with pytest.raises(ValueError, match="negatives must be one of uniform, unseen, popularity"):
        sampling.sampler_code(name)


# ------------------------------------------------------- distributions
def test_popularity_probabilities_by_hand():
    np.testing.assert_allclose(sampling.popularity_probabilities([0, 1, 4, 9], 0.5), [0, 1 / 6, 2 / 6, 3 / 6])
    # alpha 0: uniform over the items anyone interacted with, never the others.
    np.testing.assert_allclose(sampling.popularity_probabilities([0, 3, 5], 0.0), [0, 0.5, 0.5])
    np.testing.assert_allclose(sampling.popularity_probabilities([2, 6], 1.0), [0.25, 0.75])


@pytest.mark.parametrize(
    "counts, alpha, message",
    [
        ([1, -1], 1.0, "finite and non-negative"),
        ([1, np.nan], 1.0, "finite and non-negative"),
        ([0, 0], 1.0, "all zero"),
        ([1, 2], -0.5, "popularity_alpha must be a finite number >= 0"),
        ([1, 2], np.inf, "popularity_alpha must be a finite number >= 0"),
        ([[1, 2]], 1.0, "one-dimensional"),
    ],
)
def test_popularity_probabilities_bad_input(counts, alpha, message):
    with pytest.raises(ValueError, match=message):
        sampling.popularity_probabilities(counts, alpha)


def test_alias_table_encodes_the_probabilities_exactly():
    probabilities = sampling.popularity_probabilities(np.arange(50) ** 2 % 17, 0.75)
    threshold, alias = sampling.alias_table(probabilities)
    assert threshold.dtype == np.float32 and alias.dtype == np.int32
    n = len(probabilities)
    # A bucket b gives b with probability threshold[b] / n, alias[b] otherwise.
    implied = threshold.astype(np.float64) / n
    np.add.at(implied, alias, (1.0 - threshold.astype(np.float64)) / n)
    np.testing.assert_allclose(implied, probabilities, atol=1e-7)


def test_unseen_probabilities_by_hand():
    # 10 items, 5 positives (q = 1/2), at most 3 draws:
    # an unseen item (1 + 1/2 + 1/4) / 10, a positive (1/2)^2 / 10.
    probabilities = sampling.negative_probabilities("unseen", 10, [0, 1, 2, 3, 4], max_draws=3)
    np.testing.assert_allclose(probabilities[:5], 0.025)
    np.testing.assert_allclose(probabilities[5:], 0.175)
    assert probabilities.sum() == pytest.approx(1.0)


def test_uniform_probabilities_ignore_positives():
    np.testing.assert_allclose(sampling.negative_probabilities("uniform", 4, [1, 2]), 0.25)


def test_popularity_needs_item_counts():
    with pytest.raises(ValueError, match="item_counts is required"):
        sampling.negative_probabilities("popularity", 4)


# ------------------------------------------- the samplers match them
CASES = [
    ("uniform", 37, [3, 4, 30], None),
    ("unseen", 37, list(range(0, 37, 2)), None),
    ("unseen", 12, list(range(11)), None),  # nearly every item seen: fallback is visible
    ("popularity", 40, [], (np.arange(40) * 7919) % 23),
]


@pytest.mark.parametrize("name, n_items, positives, item_counts", CASES)
def test_numpy_reference_sampler_matches_the_distribution(name, n_items, positives, item_counts):
    random = np.random.default_rng(0)
    draws = sampling.sample_negatives(name, random, 200_000, n_items, positives, item_counts=item_counts)
    counts = np.bincount(draws, minlength=n_items)
    expected = sampling.negative_probabilities(name, n_items, positives, item_counts=item_counts)
    assert chi_square_p_value(counts, expected) > 1e-4


@pytest.mark.parametrize("name, n_items, positives, item_counts", CASES)
def test_kernel_sampler_frequencies_match_the_distribution(name, n_items, positives, item_counts):
    counts = kernel_counts(name, n_items, positives, item_counts)
    expected = sampling.negative_probabilities(name, n_items, positives, item_counts=item_counts)
    assert counts.sum() == N_DRAWS
    assert chi_square_p_value(counts, expected) > 1e-4


def test_kernel_unseen_sampler_respects_max_draws():
    # With one draw allowed, unseen is uniform.
    counts = kernel_counts("unseen", 9, [0, 1, 2, 3, 4, 5], max_draws=1)
    assert chi_square_p_value(counts, np.full(9, 1 / 9)) > 1e-4


def test_chi_square_check_can_fail():
    # The same check rejects a sampler that ignores the positives.
    counts = kernel_counts("uniform", 37, list(range(0, 37, 2)))
    expected = sampling.negative_probabilities("unseen", 37, list(range(0, 37, 2)))
    assert chi_square_p_value(counts[expected > 0], expected[expected > 0]) < 1e-10
