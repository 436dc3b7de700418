r"""The Canty-Davison bootstrap of PSUs within strata (R ``bootweights``).

R's ``as.svrepdesign(type="bootstrap")`` (survey 4.1.1, ``bootweights``/``bootstratum``): in
each stratum draw :math:`n_h` PSUs with replacement (without FPC), or, with a population of
:math:`N_h` PSUs, draw :math:`n_h` without replacement from a pseudo-population made by
repeating the sampled PSUs cyclically to :math:`\lfloor N_h \rfloor` units (the first
:math:`N_h \bmod n_h` PSUs of a random order get one copy more; the order is drawn once per
stratum, as R). The replicate factor of a PSU is the number of times it is drawn; the variance
uses :math:`V = \frac{\bar n}{(\bar n - 1)(R - 1)} \sum_r (\hat\theta_r - \bar\theta)^2` with
:math:`\bar n` the harmonic mean of the :math:`n_h` (exact for equal :math:`n_h`: the
with-replacement bootstrap variance of a total is :math:`(n-1)/n` times the design-based one).

References: Canty, A. J. and Davison, A. C. (1999), Resampling-based variance estimation for
labour force surveys, *The Statistician* 48, 379-391; Lumley, T., R package ``survey``.
The draws cannot reproduce R's random numbers; the structure and constants are R's.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .errors import WeightingError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def canty_davison_factors(
    unit_psu: IntArray,
    psu_stratum: IntArray,
    size: IntArray,
    labels: list[object],
    replicates: int,
    rng: np.random.Generator,
    population: FloatArray | None = None,
) -> tuple[FloatArray, float]:
    """Replicate factors ``(n, R)`` and the scale of the Canty-Davison bootstrap.

    ``unit_psu``: PSU of every unit; ``psu_stratum``: stratum of every PSU; ``size``: PSUs per
    stratum; ``population``: :math:`N_h` per stratum (``None`` or ``inf``: with replacement).

    Examples
    --------
    >>> f, scale = canty_davison_factors(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]),
    ...                                  np.array([2, 2]), ["a", "b"], 4, np.random.default_rng(1))
    >>> (f[:2].sum(axis=0) == 2).all() and (f[2:].sum(axis=0) == 2).all(), scale
    (np.True_, 0.6666666666666666)
    """
    lonely = np.flatnonzero(size < 2)
    if lonely.size:
        raise WeightingError(
            f"the Canty-Davison bootstrap needs at least 2 PSUs per stratum; strata "
            f"{[labels[k] for k in lonely[:5]]} have one"
        )
    n_psu = psu_stratum.size
    by_stratum = np.argsort(psu_stratum, kind="stable")
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    # multinomial(n_h, 1/n_h) in every stratum, all strata at once
    slot_stratum = np.repeat(np.arange(size.size), size)
    picks = rng.integers(0, size[slot_stratum], size=(replicates, slot_stratum.size))
    chosen = by_stratum[start[slot_stratum] + picks]
    offsets = (np.arange(replicates) * n_psu)[:, None]
    draws = np.bincount((chosen + offsets).ravel(), minlength=replicates * n_psu)
    counts = draws.reshape(replicates, n_psu).T.astype(np.float64)
    if population is not None:  # strata with a finite population: without replacement
        finite = np.isfinite(population)
        pseudo = np.floor(np.where(finite, population, 0.0)).astype(np.int64)
        small = np.flatnonzero(finite & (pseudo < size))
        if small.size:
            raise WeightingError(
                f"population smaller than the sample in strata {[labels[k] for k in small[:5]]}"
            )
        for h in np.flatnonzero(finite):  # once per stratum, when the replicates are built
            psus = by_stratum[start[h] : start[h] + size[h]]
            order = rng.permutation(psus)
            copies = np.full(size[h], pseudo[h] // size[h])
            copies[: pseudo[h] % size[h]] += 1
            drawn = rng.multivariate_hypergeometric(copies, int(size[h]), size=replicates)
            counts[order] = drawn.T
    n_bar = 1.0 / np.mean(1.0 / size)
    return counts[unit_psu], float(n_bar / ((n_bar - 1.0) * (replicates - 1.0)))
