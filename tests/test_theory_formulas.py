"""The closed forms added for the theory overlay, against published values and each other."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim_core.theory import predict as theory


def test_erlang_b_published_value():
    assert theory.erlang_b(10, 8.0) == pytest.approx(0.1217, abs=5e-5)
    assert theory.erlang_b(1, 1.0) == pytest.approx(0.5)
    assert theory.erlang_b(0, 3.0) == 1.0


def test_erlang_b_is_mmck_with_no_waiting_room():
    assert theory.mmck_blocking(10, 10, 8.0, 1.0) == pytest.approx(theory.erlang_b(10, 8.0), rel=1e-12)


def test_md1_at_rho_09_is_55_over_mu():
    assert theory.mdc_mean_sojourn(1, 0.9, 1.0) == pytest.approx(5.5, rel=1e-6)
    assert theory.mdc_mean_sojourn(1, 9.0, 10.0) == pytest.approx(0.55, rel=1e-6)
    assert theory.mg1_mean_sojourn(0.9, 1.0, cv=0.0) == pytest.approx(5.5, rel=1e-12)


def test_md4_at_rho_09_is_2_over_mu_by_crommelin():
    assert theory.mdc_mean_sojourn(4, 3.6, 1.0) == pytest.approx(2.000, abs=5e-4)


@pytest.mark.parametrize("rho", [0.3, 0.7, 0.95])
def test_crommelin_with_one_core_is_pollaczek_khinchine(rho):
    assert theory.mdc_mean_sojourn(1, rho, 1.0) == pytest.approx(theory.mg1_mean_sojourn(rho, 1.0, 0.0), rel=1e-6)


@pytest.mark.parametrize(("c", "lam"), [(1, 0.9), (4, 3.6), (3, 1.5)])
def test_md_c_wait_distribution_has_the_mean_and_the_wait_probability(c, lam):
    cdf = theory.mdc_wait_cdf(c, lam, 1.0)
    # P(no wait) = P(an arrival finds fewer than c in the system) = P(N <= c - 1), PASTA
    pi = theory.mdc_distribution(c, lam, 1.0)
    assert cdf(0.0) == pytest.approx(pi[:c].sum(), abs=1e-9)
    xs = np.linspace(0.0, 120.0, 2_401)
    mean_wait = np.trapezoid(1.0 - np.array([cdf(x) for x in xs]), xs)  # E[W] = integral of P(W > x)
    assert mean_wait == pytest.approx(theory.mdc_mean_sojourn(c, lam, 1.0) - 1.0, rel=2e-3)


def test_md1_wait_probability_is_rho():
    assert theory.mdc_wait_cdf(1, 0.9, 1.0)(0.0) == pytest.approx(0.1, abs=1e-9)


@pytest.mark.parametrize(("n", "expected"), [(2, 7.588), (5, 6.142), (10, 5.660)])
def test_round_robin_erlang_arrivals_published_values(n, expected):
    assert theory.enm1_mean_sojourn(n, 0.9, 1.0) == pytest.approx(expected, abs=1e-3)


def test_erlang_one_arrivals_are_poisson():
    assert theory.erlang_arrivals_sigma(1, 0.8, 1.0) == pytest.approx(0.8, rel=1e-9)
    assert theory.enm1_mean_sojourn(1, 0.8, 1.0) == pytest.approx(theory.mm1_mean_sojourn(0.8, 1.0), rel=1e-9)


@pytest.mark.parametrize(("rho", "expected"), [(0.5, 1.2657), (0.7, 1.6145), (0.9, 2.6141), (0.99, 5.432)])
def test_power_of_two_mean_field_published_values(rho, expected):
    assert theory.power_of_d_mean_sojourn(rho, 1.0) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_power_of_two_distribution_has_the_mean_field_mean(rho):
    cdf = theory.power_of_d_sojourn_cdf(rho, 1.0)
    xs = np.linspace(0.0, 80.0, 3_201)
    mean = np.trapezoid(1.0 - np.array([cdf(x) for x in xs]), xs)
    assert mean == pytest.approx(theory.power_of_d_mean_sojourn(rho, 1.0), rel=1e-3)


@pytest.mark.parametrize("p", [0.5, 0.95, 0.99])
def test_power_of_one_distribution_is_mm1(p):
    cdf = theory.power_of_d_sojourn_cdf(0.8, 10.0, d=1)
    assert theory.quantile(cdf, p, 0.1) == pytest.approx(theory.mm1_sojourn_quantile(8.0, 10.0, p), rel=1e-6)


@pytest.mark.parametrize(("c", "lam"), [(1, 8.0), (4, 30.0), (2, 10.0)])
def test_mmck_distribution_with_a_large_cap_is_mmc(c, lam):
    cdf = theory.mmck_sojourn_cdf(c, 400, lam, 10.0)
    for p in (0.5, 0.95, 0.99):
        q = theory.quantile(cdf, p, 0.1)
        assert q == pytest.approx(theory.mmc_sojourn_quantile(c, lam, 10.0, p), rel=1e-6)


def test_mmck_distribution_has_the_little_mean_and_the_wait_probability():
    c, k, lam, mu = 2, 6, 25.0, 10.0
    cdf = theory.mmck_sojourn_cdf(c, k, lam, mu)
    xs = np.linspace(0.0, 5.0, 5_001)
    mean = np.trapezoid(1.0 - np.array([cdf(x) for x in xs]), xs)
    assert mean == pytest.approx(theory.mmck_mean_sojourn(c, k, lam, mu), rel=1e-4)
    probs = theory.mmck_distribution(c, k, lam, mu)
    assert theory.mmck_wait_probability(c, k, lam, mu) == pytest.approx(sum(probs[c:k]) / (1 - probs[k]))


def test_mmck_overloaded_is_finite_and_rejects_the_excess():
    # 50 req/s at one 10 req/s core holding 20: in the long run at least 80% must be turned away
    blocked = theory.mmck_blocking(1, 20, 50.0, 10.0)
    assert blocked == pytest.approx(0.8, abs=1e-6)
    assert math.isfinite(theory.mmck_mean_sojourn(1, 20, 50.0, 10.0))


def test_quantile_refuses_p_outside_0_1():
    with pytest.raises(ValueError):
        theory.quantile(lambda t: 1.0, 1.0, 1.0)
