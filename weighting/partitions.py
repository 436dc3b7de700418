r"""Rows partitioned into domains, with weight columns: the linear algebra of batched model fits.

A model fitted in ``D`` domains with ``R`` weight columns (the full sample, or every
replicate) is ``D x R`` fits. Each row belongs to one domain, so a fit never needs an
``n x (D R)`` matrix: per-row quantities are ``(n, R)`` (the row's own domain's parameters),
and per-fit sums are group sums over the rows of each domain. :class:`Partition` holds the
domain of every row and computes

* :meth:`Partition.gram`: :math:`\sum_{i \in d} c_{ir} a_i b_i'` for every (domain ``d``,
  column ``r``), shape ``(D, R, k, l)``, with one sparse product per block of rows;
* :meth:`Partition.per_row`: every row's parameters of its own domain, from ``(q, D, R)``;
* :meth:`Partition.sums`: group sums of ``(n, R)`` values, ``(D, R)``.

The cost is that of the data, :math:`O(n R k l)`, whatever the number of domains.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Temporary values per block of rows (rows x columns x products).
CHUNK_CELLS = 4_000_000


class Partition:
    """The domain of every row (``-1``: in no domain, ignored).

    Examples
    --------
    >>> part = Partition(np.array([0, 1, 0, -1]), 2)
    >>> A = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> part.gram(A, np.ones((4, 1)))[:, 0, 0, 0]
    array([10.,  4.])
    """

    def __init__(self, codes: IntArray, n_groups: int) -> None:
        self.valid = codes >= 0
        self.codes = np.where(self.valid, codes, 0).astype(np.intp)
        self.n_groups = int(n_groups)
        n = codes.size
        rows = np.flatnonzero(self.valid)
        self.S = sp.csr_matrix((np.ones(rows.size), (self.codes[rows], rows)), shape=(self.n_groups, n))

    def sums(self, values: FloatArray) -> FloatArray:
        """Group sums of ``(n, R)`` values: ``(D, R)``."""
        return np.asarray(self.S @ values, dtype=np.float64)

    def gram(self, A: FloatArray, C: FloatArray, B: FloatArray | None = None) -> FloatArray:
        """:math:`\\sum_{i \\in d} c_{ir} a_i b_i'` for every domain and column: ``(D, R, k, l)``."""
        B = A if B is None else B
        n, k = A.shape
        m, R = B.shape[1], C.shape[1]
        out = np.zeros((self.n_groups, R * k * m))
        step = max(1, CHUNK_CELLS // max(R * k * m, 1))
        for start in range(0, n, step):  # blocks of rows
            stop = min(n, start + step)
            prod = (A[start:stop, :, None] * B[start:stop, None, :]).reshape(stop - start, 1, k * m)
            block = (C[start:stop, :, None] * prod).reshape(stop - start, R * k * m)
            out += self.S[:, start:stop] @ block
        return out.reshape(self.n_groups, R, k, m)

    def per_row(self, P: FloatArray) -> FloatArray:
        """Every row's parameters of its own domain: ``(q, D, R)`` to ``(n, q, R)``."""
        return np.asarray(P[:, self.codes, :].transpose(1, 0, 2), dtype=np.float64)

    def linear(self, X: FloatArray, P: FloatArray) -> FloatArray:
        """:math:`x_i' \\beta_{d(i), r}` for every row and column: ``(n, R)``, from ``P``
        ``(p, D, R)``."""
        if self.n_groups == 1:
            return np.asarray(X @ P[:, 0, :], dtype=np.float64)
        n, p = X.shape
        R = P.shape[2]
        out = np.empty((n, R))
        step = max(1, CHUNK_CELLS // max(p * R, 1))
        for start in range(0, n, step):  # blocks of rows: the gathered parameters are (rows, p, R)
            stop = min(n, start + step)
            out[start:stop] = np.einsum("np,npr->nr", X[start:stop], P[:, self.codes[start:stop], :].transpose(1, 0, 2))
        return out

    def linear_rows(self, V: FloatArray, M: FloatArray) -> FloatArray:
        """Every row's :math:`v_i' M_{d(i)}` for per-domain matrices ``M`` ``(D, k, l)``:
        ``(n, l)`` (rows in no domain give 0)."""
        if self.n_groups == 1:
            out = np.asarray(V @ M[0], dtype=np.float64)
        else:
            n, k = V.shape
            out = np.empty((n, M.shape[2]))
            step = max(1, CHUNK_CELLS // max(k * M.shape[2], 1))
            for start in range(0, n, step):  # blocks of rows: the gathered matrices are (rows, k, l)
                stop = min(n, start + step)
                out[start:stop] = np.einsum("nk,nkl->nl", V[start:stop], M[self.codes[start:stop]])
        return np.where(self.valid[:, None], out, 0.0)
