"""Hadamard matrices for balanced repeated replication, chosen as R's ``survey::hadamard``.

Matrices are returned in R's 0/1 coding (1 for +1, 0 for -1) with a first row and column of
ones. For a given number of strata the order and, except where noted, the matrix itself are
those of R's ``hadamard()``, so that BRR and Fay replicate weights have the same columns as R.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.typing import NDArray

IntMatrix = NDArray[np.int8]

#: Orders R keeps ready-made; 28 and 36 are built here by Paley's second construction, a valid
#: but different matrix from R's stored ones (BRR variances of linear statistics are the same).
BASE_ORDERS = (4, 16, 28, 36)
#: Largest prime used by the Paley construction (as R).
MAX_PRIME = 7919


@cache
def _primes_3_mod_4() -> NDArray[np.int64]:
    sieve = np.ones(MAX_PRIME + 1, dtype=bool)
    sieve[:2] = False
    for k in range(2, int(MAX_PRIME**0.5) + 1):
        if sieve[k]:
            sieve[k * k :: k] = False
    primes = np.flatnonzero(sieve)
    return primes[primes % 4 == 3]


def sylvester(order: int) -> IntMatrix:
    """Sylvester matrix of a power-of-two order: entry 1 iff popcount(i & j) is even.

    Examples
    --------
    >>> sylvester(4)
    array([[1, 1, 1, 1],
           [1, 0, 1, 0],
           [1, 1, 0, 0],
           [1, 0, 0, 1]], dtype=int8)
    """
    idx = np.arange(order)
    bits = np.bitwise_and.outer(idx, idx)
    parity = np.zeros_like(bits)
    while bits.any():
        parity ^= bits & 1
        bits >>= 1
    return (1 - parity).astype(np.int8)


def _residues(p: int) -> NDArray[np.bool_]:
    is_residue = np.zeros(p, dtype=bool)
    is_residue[(np.arange(1, (p - 1) // 2 + 1) ** 2) % p] = True
    return is_residue


def paley(p: int) -> IntMatrix:
    """Order p + 1 matrix for a prime p = 3 (mod 4): core entry 0 iff (i + j) mod p is 0 or a
    quadratic residue, bordered by ones (the construction R's ``paley`` uses)."""
    core = np.add.outer(np.arange(p), np.arange(p)) % p
    zero = _residues(p)[core] | (core == 0)
    H = np.ones((p + 1, p + 1), dtype=np.int8)
    H[1:, 1:] = np.where(zero, 0, 1)
    return H


def paley2(q: int) -> IntMatrix:
    """Order 2(q + 1) matrix for a prime q = 1 (mod 4) (Paley's second construction), normalised."""
    chi = np.where(_residues(q), 1, -1)
    chi[0] = 0
    C = np.zeros((q + 1, q + 1), dtype=np.int64)
    C[0, 1:] = 1
    C[1:, 0] = 1
    C[1:, 1:] = chi[np.subtract.outer(np.arange(q), np.arange(q)) % q]
    H = np.kron(C, np.array([[1, -1], [-1, -1]])) + np.kron(
        np.eye(q + 1, dtype=np.int64), np.array([[1, 1], [1, -1]])
    )
    H = H * H[0][None, :]
    H = H * H[:, 0][:, None]
    return ((H + 1) // 2).astype(np.int8)


def double(H: IntMatrix) -> IntMatrix:
    """``[[H, H], [H, 1 - H]]``: a Hadamard matrix of twice the order."""
    return np.block([[H, H], [H, 1 - H]]).astype(np.int8)


def _base(order: int) -> IntMatrix:
    if order in (4, 16):
        return sylvester(order)
    return paley2(13 if order == 28 else 17)


def _paley_at_least(n: int, largest: int) -> IntMatrix | None:
    """A Paley-based matrix of order > n and at most ``largest`` (None if there is none)."""
    ceiling = n + 4 - n % 4
    if n % 4 + 4 == n % 8:
        order = ceiling
        while order % 8 == 0:
            order //= 2
        if order - 1 in _primes_3_mod_4():
            H = paley(order - 1)
            while order < ceiling:
                H, order = double(H), order * 2
            return H
    if n > MAX_PRIME:
        return None
    primes = _primes_3_mod_4()
    p = int(primes[primes >= n][0])
    if p + 1 > ceiling + 4 and ceiling + 4 < largest:
        return _paley_at_least(ceiling + 3, 2 * (ceiling + 3))
    if p > largest:
        return None
    return paley(p)


def hadamard(n: int) -> IntMatrix:
    r"""The Hadamard matrix R's ``survey::hadamard(n)`` uses for ``n`` strata (order > n).

    Notes
    -----
    BRR needs a Hadamard matrix of order greater than the number of strata, rows 2..n+1 of which
    give the half-sample of each stratum (McCarthy 1969; Wolter 2007, sec. 3.3). As R does, the
    order is a multiple of 4 just above ``n`` whenever one of these constructions reaches it:
    Sylvester doubling :math:`H_{2k} = [[H, H], [H, -H]]` (Sylvester 1867) of the orders 4 and
    16, Paley's first construction for primes :math:`p \equiv 3 \pmod 4` up to 7919 (Paley
    1933), doublings of those, or the orders 28 and 36 (R: stored matrices; here Paley's second
    construction with q = 13, 17, see :func:`uses_substitute`). The same choice of order, and
    of the matrix itself for every order not built from 28 or 36, is checked against R for
    n = 1..150.

    Examples
    --------
    >>> hadamard(3).shape, hadamard(8).shape, hadamard(48).shape
    ((4, 4), (12, 12), (56, 56))
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n!r}")
    m = n - n % 4
    ready = [s for s in BASE_ORDERS if m < s <= m + 4]
    if ready:
        return _base(min(ready))
    sizes = [s * 2 ** max(0, math.ceil(math.log2((n + 1) / s))) for s in BASE_ORDERS]
    best = int(np.argmin(np.array(sizes) - n))
    if sizes[best] - n > 4:
        H = _paley_at_least(n, sizes[best])
        if H is not None:
            return H
    H = _base(BASE_ORDERS[best])
    for _ in range(round(math.log2(sizes[best] / BASE_ORDERS[best]))):
        H = double(H)
    return H


def uses_substitute(n: int) -> bool:
    """Whether ``hadamard(n)`` is built from an order-28 or -36 matrix that differs from R's."""
    H = hadamard(n)
    for base in (28, 36):
        order = base
        while order <= H.shape[0]:
            if order == H.shape[0] and np.array_equal(H, _double_n(_base(base), order // base)):
                return True
            order *= 2
    return False


def _double_n(H: IntMatrix, factor: int) -> IntMatrix:
    while factor > 1:
        H, factor = double(H), factor // 2
    return H
