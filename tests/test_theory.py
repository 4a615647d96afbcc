"""The test oracles themselves: closed forms (tests/theory.py) and the event-by-event model
(tests/reference_des.py), checked against published numbers, hand-worked cases and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_des

from sim_core.theory import predict as theory


def test_mm1_matches_the_known_numbers():
    assert theory.mm1_mean_sojourn(8, 10) == pytest.approx(0.5)
    assert theory.mm1_sojourn_quantile(8, 10, 0.50) == pytest.approx(0.3466, abs=1e-4)
    assert theory.mm1_sojourn_quantile(8, 10, 0.95) == pytest.approx(1.4979, abs=1e-4)
    assert theory.mm1_sojourn_quantile(8, 10, 0.99) == pytest.approx(2.3026, abs=1e-4)


def test_mmc_mean_matches_the_known_number():
    assert theory.mmc_mean_sojourn(4, 30, 10) == pytest.approx(0.1509, abs=1e-4)


def test_erlang_c_with_one_core_is_the_utilization():
    assert theory.erlang_c(1, 8, 10) == pytest.approx(0.8)
    assert theory.erlang_c(1, 3, 10) == pytest.approx(0.3)


def test_erlang_c_is_a_probability_for_large_clusters():
    wait_p = theory.erlang_c(256, 2500, 10)
    assert 0.0 < wait_p < 1.0
    assert theory.erlang_c(256, 10, 10) < 1e-12


@pytest.mark.parametrize("p", [0.5, 0.9, 0.95, 0.99])
def test_mmc_quantile_with_one_core_is_the_mm1_quantile(p):
    assert theory.mmc_sojourn_quantile(1, 8, 10, p) == pytest.approx(theory.mm1_sojourn_quantile(8, 10, p), rel=1e-9)


@pytest.mark.parametrize(("c", "lam", "mu"), [(4, 30, 10), (2, 10, 10), (8, 70, 10), (3, 5, 2)])
def test_mmc_cdf_inverts_and_matches_sampled_sojourns(c, lam, mu):
    # (2, 10, 10) is the degenerate case c*mu - lam == mu of the convolution
    rng = np.random.default_rng(7)
    n = 400_000
    wait_p = theory.erlang_c(c, lam, mu)
    waits = np.where(rng.random(n) < wait_p, rng.exponential(1 / (c * mu - lam), n), 0.0)
    sojourns = rng.exponential(1 / mu, n) + waits
    assert sojourns.mean() == pytest.approx(theory.mmc_mean_sojourn(c, lam, mu), rel=0.01)
    for p in (0.5, 0.95, 0.99):
        q = theory.mmc_sojourn_quantile(c, lam, mu, p)
        assert theory.mmc_sojourn_cdf(c, lam, mu, q) == pytest.approx(p, abs=1e-9)
        assert np.quantile(sojourns, p) == pytest.approx(q, rel=0.02)


def test_mmc_cdf_is_a_distribution():
    ts = np.linspace(0, 5, 501)
    values = [theory.mmc_sojourn_cdf(4, 30, 10, t) for t in ts]
    assert values[0] == 0.0
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    assert values[-1] == pytest.approx(1.0, abs=1e-9)


def test_mmck_matches_the_known_numbers():
    assert theory.mmck_blocking(2, 6, 25, 10) == pytest.approx(0.262, abs=5e-4)
    assert theory.mmck_mean_sojourn(2, 6, 25, 10) == pytest.approx(0.216, abs=5e-4)


def test_mmck_with_large_k_approaches_mmc():
    assert theory.mmck_blocking(4, 400, 30, 10) < 1e-40
    assert theory.mmck_mean_sojourn(4, 400, 30, 10) == pytest.approx(theory.mmc_mean_sojourn(4, 30, 10), rel=1e-9)


def test_mm1k_blocking_closed_form():
    # M/M/1/K: P(K) = (1 - rho) rho^K / (1 - rho^(K+1))
    rho, k = 0.9, 5
    expected = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    assert theory.mmck_blocking(1, k, 9, 10) == pytest.approx(expected, rel=1e-12)


def test_power_of_one_choice_is_random_routing():
    assert theory.power_of_d_mean_sojourn(0.8, 10, d=1) == pytest.approx(theory.mm1_mean_sojourn(8, 10), rel=1e-12)


def test_power_of_two_mean_field_known_value():
    # rho = 0.9: sum of 0.9^(2^k - 1) = 0.9 + 0.729 + 0.478 + 0.206 + 0.0381 + 0.0013 + ...
    expected = sum(0.9 ** (2**k - 1) for k in range(1, 12))
    assert theory.power_of_d_mean_sojourn(0.9, 1.0) == pytest.approx(expected / 0.9, rel=1e-12)
    assert theory.power_of_d_mean_sojourn(0.9, 1.0) < theory.mm1_mean_sojourn(0.9, 1.0) / 3


def test_unstable_queues_are_refused():
    with pytest.raises(ValueError):
        theory.mm1_mean_sojourn(10, 10)
    with pytest.raises(ValueError):
        theory.erlang_c(2, 25, 10)


# --- the event-by-event reference model -------------------------------------------------


def test_reference_one_core_by_hand():
    result = reference_des.simulate([0.0, 1.0, 1.5, 10.0], [2.0, 1.0, 0.5, 1.0], cores=[1], choices=[0] * 4)
    np.testing.assert_array_equal(result.start, [0.0, 2.0, 3.0, 10.0])
    np.testing.assert_array_equal(result.departure, [2.0, 3.0, 3.5, 11.0])
    np.testing.assert_array_equal(result.latency, [2.0, 2.0, 2.0, 1.0])


def test_reference_two_cores_share_one_queue_by_hand():
    # the third request takes core 2 (free at 1.0), not the core the first one holds until 5.0
    result = reference_des.simulate([0.0, 0.0, 0.5, 0.6], [5.0, 1.0, 1.0, 1.0], cores=[2], choices=[0, 0, 0, 0])
    np.testing.assert_array_equal(result.start, [0.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(result.departure, [5.0, 1.0, 2.0, 3.0])


def test_reference_capacity_rejects_arrivals_that_find_the_node_full():
    # capacity 2: the third arrival finds two in the node; the fourth arrives as one leaves
    result = reference_des.simulate(
        [0.0, 0.1, 0.2, 1.0], [1.0, 1.0, 1.0, 1.0], cores=[1], choices=[0] * 4, capacity=[2]
    )
    np.testing.assert_array_equal(result.status, [0, 0, 1, 0])
    np.testing.assert_array_equal(result.departure[[0, 1, 3]], [1.0, 2.0, 3.0])
    assert math.isnan(result.latency[2])


def test_reference_least_connections_by_hand():
    # two nodes; counts at each arrival decide, ties go to the lower index
    result = reference_des.simulate(
        [0.0, 0.1, 0.2, 0.3, 2.5], [2.0, 0.1, 5.0, 1.0, 1.0], cores=[1, 1], policy="least_connections"
    )
    # t=0: (0,0)->0; t=0.1: (1,0)->1 (leaves 0.2); t=0.2: (1,0) -> 1; t=0.3: (1,1) -> 0 (queues
    # behind request 0, starts 2.0, leaves 3.0); t=2.5: node 0 has 1, node 1 has 1 -> 0
    np.testing.assert_array_equal(result.node, [0, 1, 1, 0, 0])
    np.testing.assert_allclose(result.departure, [2.0, 0.2, 5.2, 3.0, 4.0])


def test_reference_least_connections_rotates_ties_when_asked():
    # three idle nodes and short requests: the lowest index always wins, rotation cycles
    arrivals, services = [0.0, 1.0, 2.0, 3.0], [0.5] * 4
    lowest = reference_des.simulate(arrivals, services, cores=[1] * 3, policy="least_connections")
    rotate = reference_des.simulate(arrivals, services, cores=[1] * 3, policy="least_connections", ties="rotate")
    np.testing.assert_array_equal(lowest.node, [0, 0, 0, 0])
    np.testing.assert_array_equal(rotate.node, [0, 1, 2, 0])


def test_reference_power_of_two_takes_the_second_only_when_it_holds_fewer():
    result = reference_des.simulate(
        [0.0, 0.1, 0.2, 0.3], [5.0] * 4, cores=[1, 1, 1],
        policy="power_of_two", choices=[0, 0, 1, 2], second_choices=[1, 1, 0, 1],
    )
    # t=0.1: node 1 holds 0 < 1 -> 1; t=0.2: node 0 holds 1, not fewer than node 1's 1 -> 1;
    # t=0.3: node 1 holds 2, not fewer than node 2's 0 -> 2
    np.testing.assert_array_equal(result.node, [0, 1, 1, 2])


def _poisson(rng, lam, mu, n):
    return np.cumsum(rng.exponential(1 / lam, n)), rng.exponential(1 / mu, n)


def test_reference_mm4_matches_erlang_c():
    rng = np.random.default_rng(11)
    arrivals, services = _poisson(rng, 30, 10, 300_000)
    result = reference_des.simulate(arrivals, services, cores=[4], choices=np.zeros(len(arrivals), dtype=int))
    latency = result.latency[20_000:]
    assert latency.mean() == pytest.approx(theory.mmc_mean_sojourn(4, 30, 10), rel=0.03)
    assert np.quantile(latency, 0.95) == pytest.approx(theory.mmc_sojourn_quantile(4, 30, 10, 0.95), rel=0.04)


def test_reference_mmck_blocking_matches_theory():
    rng = np.random.default_rng(12)
    arrivals, services = _poisson(rng, 25, 10, 200_000)
    one_node = np.zeros(len(arrivals), dtype=int)
    result = reference_des.simulate(arrivals, services, cores=[2], choices=one_node, capacity=[6])
    rejected = (result.status == reference_des.REJECTED).mean()
    assert rejected == pytest.approx(theory.mmck_blocking(2, 6, 25, 10), rel=0.03)
    served = result.latency[result.status == reference_des.SERVED]
    assert served.mean() == pytest.approx(theory.mmck_mean_sojourn(2, 6, 25, 10), rel=0.03)


def test_reference_least_connections_beats_random_routing():
    rng = np.random.default_rng(13)
    n_nodes, n = 4, 100_000
    arrivals, services = _poisson(rng, 0.8 * 10 * n_nodes, 10, n)
    shortest = reference_des.simulate(arrivals, services, cores=[1] * n_nodes, policy="least_connections")
    rand = reference_des.simulate(arrivals, services, cores=[1] * n_nodes, choices=rng.integers(0, n_nodes, n))
    assert rand.latency.mean() == pytest.approx(theory.mm1_mean_sojourn(8, 10), rel=0.1)
    assert shortest.latency.mean() < 0.6 * rand.latency.mean()
