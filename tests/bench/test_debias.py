"""Coat: propensity weighting and doubly robust learning beat naive MF on the random test set."""

from __future__ import annotations

import numpy as np
import pytest

from bench.debias import compare, estimate_propensities, evaluate, load_coat, mean_scores


@pytest.fixture(scope="module")
def coat(coat_dir):
    return load_coat(coat_dir)


def test_coat_loads_with_the_documented_shape(coat):
    assert coat.train.shape == coat.test.shape == (290, 300)
    assert (coat.train > 0).sum() == 6_960 and (coat.test > 0).sum() == 4_640
    p = estimate_propensities(coat, "features")
    assert p.shape == (290, 300) and 0 < p.min() and p.max() < 1
    assert np.isclose(p.mean(), (coat.train > 0).mean(), rtol=0.05)


def test_evaluate_scores_a_perfect_and_a_reversed_ranking(coat):
    truth = coat.test.astype(float)
    auc, ndcg = evaluate(truth, coat.test)
    assert auc == 1.0 and ndcg == 1.0
    auc_rev, _ = evaluate(-truth, coat.test)
    assert auc_rev == 0.0


@pytest.mark.slow
def test_ips_and_dr_beat_naive_mf_on_auc(coat):
    means = mean_scores(compare(coat, seeds=(0, 1)))
    assert means["ips"][0] > means["mf"][0]
    assert means["dr"][0] > means["mf"][0]
    assert 0.6 < means["mf"][0] < 0.8
