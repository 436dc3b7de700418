"""The survey design object: validated once, reused by every estimate, never mutated."""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from . import quantiles, tables
from .adjustment import Adjustment
from .domains import as_columns, check_columns, domain_df
from .errors import WeightingError
from .influence import replicate_rank, with_weights
from .stages import LONELY_PSU, Stage, build_stages, design_weights, factorize_column

if TYPE_CHECKING:
    from .calfun import CalibrationFunction
    from .ordinal import OrdinalRegression
    from .regression import Regression

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

ColumnSpec = Hashable | Sequence[Hashable] | None


class Design:
    """A probability sample design: weights, strata, (multi-stage) clusters and FPCs.

    Parameters
    ----------
    data : DataFrame
        One row per responding unit.
    weights : column name, array_like or None
        Sampling weights. ``None``: derived from ``fpc`` as R does (the product over stages of
        :math:`N/n`), or all 1 without ``fpc``.
    strata : column name, optional
        First-stage strata.
    psu : column name or list of column names, optional
        Cluster ids, one column per stage. ``None``: every row is its own PSU. Ids are nested
        in strata and in earlier stages (R ``svydesign(nest=TRUE)``), so the same id may be
        reused in different strata.
    fpc : column name or list of column names, optional
        Finite population correction per stage (as many as ``psu`` stages): population counts
        (> 1) or sampling fractions (<= 1), constant within each stratum (stage 1) or each
        earlier-stage cluster (later stages).
    lonely_psu : {"fail", "remove", "certainty", "adjust", "average"}
        A stratum with one PSU (R ``options(survey.lonely.psu=)``); ``"fail"`` raises
        :class:`WeightingError` naming the stratum. Strata with one PSU only inside a domain
        are not lonely unless ``adjust_domain_lonely``.
    adjust_domain_lonely : bool, default False
        R ``options(survey.adjust.domain.lonely=TRUE)`` (survey 4.1): in a domain estimate, a
        stratum with :math:`n_h > 1` PSUs of which only one has rows in the domain is treated
        like a lonely stratum when ``lonely_psu`` is ``"adjust"`` (its PSU total is not
        centred) or ``"average"`` (left out; the other strata scaled up); other settings are
        unaffected, as in R. It applies, as in R, to linearisation designs without
        post-stratification, raking or calibration (R keeps every row of such designs in a
        subset, so no stratum becomes lonely there) and not to replicate designs. The PSUs
        with rows in the domain are counted per domain, not per variable: rows missing one
        variable still count (R's ``na.rm=TRUE`` drops them first).

    Attributes
    ----------
    weights : ndarray of float64
        Final weights, aligned with the rows of ``data``.
    df : float
        Design degrees of freedom: first-stage PSUs minus strata among rows with a nonzero
        weight (R ``degf``); for replicate designs the rank of the replicate weights minus 1.

    Notes
    -----
    The linearisation variance follows R ``svyrecvar`` (see :mod:`weighting.variance`), with
    later stages added only when their FPC is given. Estimates with ``by`` use the full
    design: rows outside a domain get weight 0, no row is dropped (Lumley 2010, sec. 2.3).

    References: Lumley, T. (2010), *Complex Surveys: A Guide to Analysis Using R*, Wiley;
    R package ``survey`` (``svydesign``, ``svyrecvar``, ``degf``).

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"stratum": ["a", "a", "b", "b"], "w": [2.0, 2.0, 3.0, 3.0],
    ...                      "y": [1.0, 3.0, 2.0, 4.0]})
    >>> d = Design(data, weights="w", strata="stratum")
    >>> d.df
    2.0
    >>> d.mean("y")[["variable", "estimate"]]
      variable  estimate
    0        y       2.6
    """

    _data: pd.DataFrame
    _weights: FloatArray
    _base_weights: FloatArray
    _stages: tuple[Stage, ...]
    _stratum_labels: pd.Index
    _lonely_psu: str
    _adjust_domain_lonely: bool
    _adjustments: tuple[Adjustment, ...]
    _subset: BoolArray | None
    _df: float
    _replicates: Any
    _spec: dict[str, Any]
    _subset_df: str = "design"

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        weights: Hashable | ArrayLike | None,
        strata: Hashable | None = None,
        psu: ColumnSpec = None,
        fpc: ColumnSpec = None,
        lonely_psu: str = "fail",
        adjust_domain_lonely: bool = False,
    ) -> None:
        if not isinstance(data, pd.DataFrame):
            raise WeightingError(f"data must be a pandas DataFrame; got {type(data).__name__}")
        n = len(data)
        if n == 0:
            raise WeightingError("data has no rows")
        if lonely_psu not in LONELY_PSU:
            raise WeightingError(f"lonely_psu must be one of {', '.join(LONELY_PSU)}; got {lonely_psu!r}")
        if strata is None:
            stratum, labels = np.zeros(n, dtype=np.intp), pd.Index(["1"])
        else:
            check_columns(data, [strata], "strata")
            stratum, labels = factorize_column(data, strata, "strata", sort=True)
        psu_cols = as_columns(psu, "psu")
        check_columns(data, psu_cols, "psu")
        psu_codes = [factorize_column(data, c, "psu", sort=False)[0] for c in psu_cols] or [np.arange(n, dtype=np.intp)]
        fpc_cols = as_columns(fpc, "fpc")
        fpc_values = None
        if fpc_cols:
            check_columns(data, fpc_cols, "fpc")
            if len(fpc_cols) != len(psu_codes):
                raise WeightingError(
                    f"fpc has {len(fpc_cols)} column(s) but the design has {len(psu_codes)} "
                    "stage(s) of psu; give one fpc column per stage"
                )
            fpc_values = []
            for c in fpc_cols:
                if not pd.api.types.is_numeric_dtype(data[c].dtype):
                    raise WeightingError(f"fpc: column {c!r} is not numeric (dtype {data[c].dtype})")
                fpc_values.append(data[c].to_numpy(dtype=np.float64, na_value=np.nan))
        stages = build_stages(stratum, list(labels), psu_codes, fpc_values, lonely_psu)
        w = design_weights(data, weights, stages, fpc_values is not None)
        self._data = data
        self._weights = w
        self._base_weights = w
        self._stages = stages
        self._stratum_labels = labels
        self._lonely_psu = lonely_psu
        self._adjustments = ()
        self._subset = None
        self._replicates = None
        self._adjust_domain_lonely = bool(adjust_domain_lonely)
        self._spec = {
            "strata": strata, "psu": psu, "fpc": fpc, "lonely_psu": lonely_psu,
            "adjust_domain_lonely": self._adjust_domain_lonely,
        }
        self._df = float(self._domain_df(w != 0))

    # ------------------------------------------------------------------ structure
    @property
    def data(self) -> pd.DataFrame:
        """The data the design was built on."""
        return self._data

    @property
    def weights(self) -> FloatArray:
        """Final weights (after every adjustment), aligned with the rows of :attr:`data`."""
        return self._weights

    @property
    def base_weights(self) -> FloatArray:
        """Sampling weights before any adjustment."""
        return self._base_weights

    @property
    def df(self) -> float:
        """Design degrees of freedom (R ``degf``)."""
        return self._df

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The sampling stages used by the linearisation variance."""
        return self._stages

    @property
    def adjustments(self) -> tuple[Adjustment, ...]:
        """Weighting adjustments applied so far, in order."""
        return self._adjustments

    @property
    def calibrated(self) -> bool:
        """Whether an adjustment changes the variance formula (post-stratification, raking,
        calibration): then influence values are residualised before the variance."""
        return any(a.residualize is not None for a in self._adjustments)

    @property
    def replicates(self) -> Any:
        """The replicate weights (a ``ReplicateWeights``) of a replicate design, else ``None``."""
        return self._replicates

    @property
    def subset_mask(self) -> BoolArray | None:
        """Rows of the domain this design was restricted to by :meth:`subset` (or ``None``)."""
        return self._subset

    @property
    def domain_lonely(self) -> str:
        """How a stratum with one PSU in a domain is handled in domain variances: ``"adjust"``
        or ``"average"`` with ``adjust_domain_lonely`` (uncalibrated linearisation designs),
        else ``"none"``."""
        if self._adjust_domain_lonely and self._lonely_psu in ("adjust", "average"):
            return self._lonely_psu
        return "none"

    @property
    def lonely_psu(self) -> str:
        """How strata with a single PSU are handled."""
        return self._lonely_psu

    @property
    def replicate_weights(self) -> pd.DataFrame:
        """Replicate weights as a DataFrame (``rep_1 .. rep_R``), aligned with :attr:`data`."""
        if self._replicates is None:
            raise WeightingError("this is not a replicate design; call replicate() first")
        W = self._replicates.weights
        return pd.DataFrame(W, index=self._data.index, columns=[f"rep_{r + 1}" for r in range(W.shape[1])])

    def __repr__(self) -> str:
        s1 = self._stages[0]
        mode = f"replicate ({self._replicates.method})" if self._replicates is not None else "linearisation"
        return (
            f"Design(n={len(self._data)}, strata={s1.n_strata}, psu={s1.n_clusters}, "
            f"stages={len(self._stages)}, df={self._df:g}, adjustments={[a.kind for a in self._adjustments]}, "
            f"variance={mode})"
        )

    def _domain_df(self, rows: BoolArray) -> int:
        s1 = self._stages[0]
        return domain_df(s1.cluster, s1.n_clusters, s1.cluster_stratum[s1.cluster], s1.n_strata, rows)

    def _evolve(self, **changes: Any) -> Design:
        new = copy.copy(self)
        for name, value in changes.items():
            setattr(new, f"_{name}", value)
        return new

    # ------------------------------------------------------------------ estimates
    def mean(
        self, variables: ColumnSpec, *, by: ColumnSpec = None, level: float = 0.95, missing: str = "domain"
    ) -> pd.DataFrame:
        """Weighted means with linearisation (or replicate) standard errors.

        Parameters
        ----------
        variables : column name or list of column names
            Numeric analysis variables.
        by : column name or list, optional
            Domains (crossed when several columns); every domain uses the full design.
        level : float, default 0.95
            Confidence level of the t interval with the design degrees of freedom.
        missing : {"domain", "complete", "drop"}
            ``"domain"``: each variable's missing values are excluded as a domain (R
            ``na.rm=TRUE`` one variable at a time); ``"complete"``: rows missing any of the
            variables are excluded from all (R ``na.rm=TRUE`` with several variables);
            ``"drop"``: such rows are removed from the design first (PSU counts and df may
            change; not available after adjustments).

        Returns
        -------
        DataFrame
            See :mod:`weighting.tables`.
        """
        return tables.linear_table(self, "mean", variables, None, by=by, level=level, missing=missing)

    def total(
        self, variables: ColumnSpec, *, by: ColumnSpec = None, level: float = 0.95, missing: str = "domain"
    ) -> pd.DataFrame:
        """Weighted totals; arguments as :meth:`mean`."""
        return tables.linear_table(self, "total", variables, None, by=by, level=level, missing=missing)

    def ratio(
        self,
        numerator: ColumnSpec,
        denominator: ColumnSpec,
        *,
        by: ColumnSpec = None,
        level: float = 0.95,
        missing: str = "domain",
    ) -> pd.DataFrame:
        """Ratios of weighted totals for every (numerator, denominator) pair (R ``svyratio``).

        Rows missing the numerator or the denominator are excluded from that ratio; ``variable``
        is ``"numerator/denominator"``. Other arguments as :meth:`mean`.
        """
        return tables.linear_table(self, "ratio", numerator, denominator, by=by, level=level, missing=missing)

    def proportion(
        self,
        variable: ColumnSpec,
        *,
        by: ColumnSpec = None,
        level: float = 0.95,
        ci: str = "logit",
        missing: str = "domain",
        df: float | None = None,
    ) -> pd.DataFrame:
        """Proportion of every category of a categorical variable, with a proportion interval.

        ``ci``: ``"logit"`` (R ``svyciprop`` default), ``"beta"`` (Korn-Graubard), ``"wilson"``
        (Wilson with the effective sample size), ``"wald"`` (R ``"mean"``), ``"asin"`` (see
        :func:`weighting.intervals.proportion_interval`) or ``"likelihood"`` (see
        :mod:`weighting.likelihood`). Missing values are a domain. The table has a
        ``category`` column (every category of a ``Categorical`` and both values of a boolean,
        observed or not); ``n`` is the number of rows with a known category.

        ``df`` (column ``df``): the degrees of freedom of the interval. Default as R's
        ``svyciprop``, which takes ``degf()`` of the design it is given: the design's
        without ``by``, and with ``by`` each domain's own (``svyby`` passes the domain's
        subset: PSUs minus strata with rows in the domain, or the rank of the domain's
        replicate weights minus 1); a number is used for every row (R's ``df=``).

        A proportion of exactly 0 or 1 (no row, or every row with a value and a nonzero weight
        of the domain in the category) is reported as exactly 0 or 1 with an SE of 0 and
        ``deff`` NaN, whatever the weights, and gets the exact interval of
        :func:`weighting.intervals.proportion_interval` (Clopper-Pearson with the number of
        rows, Korn & Graubard 1998: ``[0, 1 - (alpha/2)^(1/n)]``); R instead reports rounding
        noise (``0.99999999998`` with an SE of ``1e-17``) and intervals that are NaN or of width 0
        (survey 4.1), and ``svyby(~factor(x), ...)`` fails outright in such a domain.

        Examples
        --------
        >>> import pandas as pd
        >>> data = pd.DataFrame({"w": [1.0, 1.0, 2.0, 2.0], "ans": ["yes", "no", "yes", None]})
        >>> Design(data, weights="w").proportion("ans")[["category", "estimate", "n"]]
          category  estimate  n
        0       no      0.25  3
        1      yes      0.75  3
        """
        return tables.proportion_table(self, variable, by=by, level=level, ci=ci, missing=missing, df=df)

    def quantile(
        self,
        variable: ColumnSpec,
        q: float | Sequence[float],
        *,
        by: ColumnSpec = None,
        level: float = 0.95,
        missing: str = "domain",
        df: float | None = None,
    ) -> pd.DataFrame:
        """Quantiles with Woodruff intervals, as R ``svyquantile`` (survey >= 4.1 defaults).

        See :func:`weighting.quantiles.quantile_table`.
        """
        return quantiles.quantile_table(self, variable, q, by=by, level=level, missing=missing, df=df)

    def variance(
        self, variables: ColumnSpec, *, by: ColumnSpec = None, level: float = 0.95, missing: str = "domain"
    ) -> pd.DataFrame:
        """Population variance of each variable (R ``svyvar``), not the variance of an estimate.

        See :func:`weighting.dispersion.variance_table`.
        """
        from .dispersion import variance_table

        return variance_table(self, variables, by=by, level=level, missing=missing)

    def covariance(
        self, variables: ColumnSpec, *, statistic: str = "mean", by: ColumnSpec = None, missing: str = "domain"
    ) -> pd.DataFrame:
        """Covariance matrix of the means or totals of several variables (and domains).

        Rows and columns are labelled by ``variable`` (and the ``by`` values). Use it for
        contrasts and composite indices, e.g. the variance of a weighted sum of item means.
        """
        return tables.covariance_table(self, statistic, variables, by=by, missing=missing)

    def contrast(
        self,
        variables: ColumnSpec,
        contrasts: Mapping[str, Mapping[Hashable, float]],
        *,
        statistic: str = "mean",
        by: ColumnSpec = None,
        level: float = 0.95,
        missing: str = "domain",
    ) -> pd.DataFrame:
        """Linear combinations of domain means or totals (R ``svycontrast``).

        See :func:`weighting.contrasts.contrast_table`.
        """
        from .contrasts import contrast_table

        return contrast_table(self, variables, contrasts, statistic=statistic, by=by, level=level, missing=missing)

    def compare(
        self,
        variable: Hashable,
        by: ColumnSpec,
        *,
        pairs: Sequence[tuple[Hashable, Hashable]] | None = None,
        kind: str = "difference",
        statistic: str = "mean",
        level: float = 0.95,
        missing: str = "domain",
    ) -> pd.DataFrame:
        """Differences or ratios between domains (e.g. county A vs B).

        See :func:`weighting.contrasts.compare_table`.
        """
        from .contrasts import compare_table

        return compare_table(
            self, variable, by, pairs=pairs, kind=kind, statistic=statistic, level=level, missing=missing
        )

    def ttest(
        self, variable: Hashable, group: Hashable | None = None, *, mu: float = 0.0, by: ColumnSpec = None,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Design-based t test of a mean or of a difference of two group means (R ``svyttest``).

        See :func:`weighting.contrasts.ttest_table`.
        """
        from .contrasts import ttest_table

        return ttest_table(self, variable, group, mu=mu, by=by, level=level)

    def crosstab(
        self, row: Hashable, column: Hashable | None = None, *, statistic: str = "total", by: ColumnSpec = None,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Weighted counts or shares of the cells of one or two categorical variables (R
        ``svytable``, ``svytotal(~factor)``); see :func:`weighting.crosstabs.crosstab_table`."""
        from .crosstabs import crosstab_table

        return crosstab_table(self, row, column, statistic=statistic, by=by, level=level)

    def chisq_test(self, row: Hashable, column: Hashable, *, test: str = "F", by: ColumnSpec = None) -> pd.DataFrame:
        """Rao-Scott / Wald test of association of two categorical variables (R ``svychisq``);
        see :func:`weighting.crosstabs.chisq_table`."""
        from .crosstabs import chisq_table

        return chisq_table(self, row, column, test=test, by=by)

    def glm(
        self,
        formula: str | None = None,
        *,
        response: Hashable | None = None,
        predictors: ColumnSpec = None,
        family: str = "gaussian",
        reference: Mapping[Hashable, Any] | None = None,
        intercept: bool = True,
        by: ColumnSpec = None,
        level: float = 0.95,
        max_iter: int = 100,
        tol: float = 1e-10,
    ) -> Regression:
        """Design-based generalised linear model (R ``svyglm``); see :mod:`weighting.regression`.

        Parameters
        ----------
        formula : str, optional
            ``"y ~ x + g + x:g"`` (formulaic syntax; backquote names that are not
            identifiers). Or give ``response`` and ``predictors`` (column names).
        family : {"gaussian", "quasibinomial", "quasipoisson"}
            Linear, logistic or log-linear model (``"binomial"`` and ``"poisson"`` are the same
            as the quasi families: equal estimates and design-based SEs).
        reference : mapping, optional
            ``{column: level}``: reference level of a categorical predictor (default: the first
            category, or the first in sorted order).
        intercept : bool, default True
            Columns form only (in a formula write ``0 +`` to drop it).
        by : column name or list, optional
            Fit the model in every domain (full design kept for the variance).
        level : float, default 0.95
            Confidence level of the coefficient intervals.
        max_iter, tol : int, float
            IRLS iteration cap and relative deviance tolerance.

        Returns
        -------
        Regression
            ``.coefficients`` (``term, estimate, se, t, df, p, ci_low, ci_high``), ``.model``
            (``n, df, dispersion``), ``.wald_test(terms)``, ``.predict(newdata)``.

        Examples
        --------
        >>> import pandas as pd
        >>> data = pd.DataFrame({"w": [1.0, 2.0, 1.0, 2.0, 1.0], "x": [1.0, 2.0, 3.0, 4.0, 5.0],
        ...                      "y": [2.1, 3.9, 6.2, 7.8, 10.1]})
        >>> fit = Design(data, weights="w").glm("y ~ x")
        >>> fit.coefficients[["term", "estimate"]].round(4)
                term  estimate
        0  Intercept    0.0214
        1          x    1.9833
        """
        from .regression import fit_glm

        return fit_glm(
            self, formula, response=response, predictors=predictors, family_name=family,
            reference=reference, intercept=intercept, by=by, level=level, max_iter=max_iter, tol=tol,
        )

    def ordinal_logit(
        self,
        formula: str | None = None,
        *,
        response: Hashable | None = None,
        predictors: ColumnSpec = None,
        reference: Mapping[Hashable, Any] | None = None,
        by: ColumnSpec = None,
        level: float = 0.95,
        max_iter: int = 100,
        tol: float = 1e-12,
    ) -> OrdinalRegression:
        """Proportional-odds model for an ordinal outcome (R ``svyolr``, logit link).

        The outcome is numeric codes (e.g. Likert 1-5) or an ordered pandas ``category``;
        arguments as :meth:`glm`. Returns an ``OrdinalRegression`` whose ``.coefficients``
        has the coefficients and the cut points (``"1|2"``, ...) with design-based SEs; see
        :mod:`weighting.ordinal`.

        Examples
        --------
        >>> import pandas as pd
        >>> data = pd.DataFrame({"y": [1, 2, 3, 1, 2, 3, 3, 2], "x": [0.0, 1, 2, 1, 0, 3, 1, 2]})
        >>> fit = Design(data, weights=None).ordinal_logit("y ~ x")
        >>> fit.coefficients["term"].tolist()
        ['x', '1|2', '2|3']
        """
        from .ordinal import fit_olr

        return fit_olr(
            self, formula, response=response, predictors=predictors, reference=reference, by=by,
            level=level, max_iter=max_iter, tol=tol,
        )

    # ------------------------------------------------------------------ domains
    def subset(self, mask: ArrayLike, *, df: str = "design") -> Design:
        """Restrict estimates to a domain; every PSU and stratum stays in the variance.

        Parameters
        ----------
        mask : array_like of bool, shape (n,)
            Rows in the domain (a boolean Series is aligned positionally).
        df : {"design", "domain"}
            Degrees of freedom of the subset: ``"design"`` keeps the full design's (as
            ``confint(..., df=degf(design))`` and Stata's ``subpop``); ``"domain"`` counts
            only PSUs and strata with domain rows, R's ``degf(subset(design, ...))``.

        Examples
        --------
        >>> import pandas as pd
        >>> data = pd.DataFrame({"h": ["a", "a", "b", "b"], "w": [1.0, 1.0, 1.0, 1.0],
        ...                      "y": [1.0, 2.0, 3.0, 5.0]})
        >>> d = Design(data, weights="w", strata="h")
        >>> sub = d.subset((data["h"] == "b").to_numpy())
        >>> float(sub.mean("y")["estimate"].iloc[0]), sub.df, d.subset(data["h"].eq("b").to_numpy(), df="domain").df
        (4.0, 2.0, 1.0)
        """
        m = np.asarray(mask)
        if m.dtype != bool or m.shape != (len(self._data),):
            raise WeightingError(
                f"mask must be a boolean array with one value per row ({len(self._data)}); "
                f"got dtype {m.dtype} and shape {m.shape}"
            )
        if df not in ("design", "domain"):
            raise WeightingError(f"df must be 'design' or 'domain'; got {df!r}")
        inside = m if self._subset is None else (m & self._subset)
        new_df = self._df
        if df == "domain":
            new_df = float(self._domain_df(inside & (self._weights != 0)))
        return self._evolve(subset=inside, df=new_df, subset_df=df)

    def drop_rows(self, keep: BoolArray) -> Design:
        """A new design on the rows ``keep`` only (PSU counts and df recomputed)."""
        if self._adjustments or self._replicates is not None:
            raise WeightingError(
                "missing='drop' needs an unadjusted, non-replicate design; use missing='domain'"
            )
        new = Design(self._data.loc[keep], weights=self._weights[keep], **self._spec)
        if self._subset is not None:
            new = new.subset(self._subset[keep])
        return new

    # ------------------------------------------------------------------ adjustments
    def _adjusted(self, adjustment: Adjustment) -> Design:
        w = np.array(adjustment.weights, dtype=np.float64)
        if w.shape != self._weights.shape:
            raise WeightingError(f"adjustment {adjustment.kind!r} returned {w.shape} weights for {self._weights.shape} rows")
        w.setflags(write=False)
        reps = self._replicates
        if reps is not None:
            reps = with_weights(reps, adjustment.reapply(reps.weights))
        return self._evolve(weights=w, adjustments=(*self._adjustments, adjustment), replicates=reps)

    def poststratify(self, population: pd.DataFrame) -> Design:
        """Post-stratify to population counts (post-stratum columns and ``count``)."""
        from .poststratification import poststratify

        return self._adjusted(poststratify(self._data, self._weights, population))

    def rake(self, margins: Mapping[Hashable, Mapping[Any, float]], *, max_iter: int = 100, tol: float = 1e-10) -> Design:
        """Rake to marginal counts ``{column: {level: count}}`` (iterative proportional fitting).

        Runs to ``tol`` (relative); R's ``rake()`` defaults stop earlier: ``max_iter=10,
        tol=1 / self.weights.sum()`` reproduces them (see :func:`weighting.raking.rake`).
        """
        from .raking import rake

        return self._adjusted(rake(self._data, self._weights, margins, max_iter=max_iter, tol=tol))

    def calibrate(
        self,
        totals: Mapping[Hashable, Any],
        *,
        method: str | CalibrationFunction = "linear",
        bounds: tuple[float, float] | None = None,
        max_iter: int = 100,
        tol: float = 1e-10,
        trim: tuple[float, float] | None = None,
        aggregate: int | ColumnSpec = None,
    ) -> Design:
        """Calibrate to auxiliary totals (linear/GREG, raking, logit, sinh or a user distance).

        See :func:`weighting.calibration.calibrate`. ``trim=(lower, upper)`` bounds the
        g-weights after calibrating (R ``trim=``). ``aggregate`` gives one g-weight per
        cluster (integrated household weighting): a stage of the design's ``psu`` (``1`` for
        the PSUs, ``2`` for the second-stage units within them; R ``aggregate.stage``) or the
        column(s) whose values identify the clusters.
        """
        from .calibration import calibrate

        clusters = None if aggregate is None else self._aggregate_codes(aggregate)
        return self._adjusted(
            calibrate(
                self._data, self._weights, totals, method=method, bounds=bounds, max_iter=max_iter,
                tol=tol, trim=trim, aggregate=clusters,
            )
        )

    def _aggregate_codes(self, aggregate: int | ColumnSpec) -> IntArray:
        """Cluster codes for ``calibrate(aggregate=)``: a stage of ``psu`` (nested in the
        strata and the earlier stages) or the values of the given columns."""
        from .cells import combine_codes

        if isinstance(aggregate, (int, np.integer)) and not isinstance(aggregate, bool):
            stages = as_columns(self._spec["psu"], "psu")
            if not 1 <= int(aggregate) <= len(stages):
                raise WeightingError(
                    f"aggregate: stage {int(aggregate)} does not exist; the design has "
                    f"{len(stages)} stage(s) of psu"
                )
            columns = ([self._spec["strata"]] if self._spec["strata"] is not None else []) + stages[: int(aggregate)]
        else:
            columns = as_columns(aggregate, "aggregate")
            check_columns(self._data, columns, "aggregate")
        if self._data[columns].isna().to_numpy().any():
            raise WeightingError(f"aggregate: columns {columns} have missing values")
        return combine_codes([self._data[c] for c in columns])[0]

    def trim(self, *, lower: float | None = None, upper: float | None = None, strict: bool = False) -> Design:
        """Trim weights to ``[lower, upper]`` and spread the excess over the other units."""
        from .trimming import trim

        return self._adjusted(trim(self._weights, lower=lower, upper=upper, strict=strict))

    def adjust_nonresponse(self, disposition: Hashable, classes: ColumnSpec = None) -> Design:
        """Weighting-class nonresponse adjustment (see ``weighting.nonresponse``)."""
        from .nonresponse import adjust_for_nonresponse

        return self._adjusted(adjust_for_nonresponse(self._data, self._weights, disposition, classes))

    def replicate(
        self,
        method: str,
        *,
        replicates: int | None = None,
        rng: int | np.random.Generator | None = None,
        fay: float | None = None,
    ) -> Design:
        """Switch to replicate variance (``jk1``, ``jkn``, ``brr``, ``fay``, ``bootstrap``,
        ``subbootstrap``, ``canty_davison``; see :func:`weighting.replication.replicate_weights`).

        Replicate weights are built from the base weights (R ``as.svrepdesign``, keeping a
        first-stage FPC for the jackknives: a census stratum gets no replicate; a stratum with
        one PSU follows the design's ``lonely_psu``, see
        :func:`weighting.replication.replicate_weights`), then every recorded adjustment is
        re-applied to every replicate. Estimates then use
        :math:`V = s \\sum_r c_r (\\hat\\theta_r - \\bar\\theta)^2` and df = rank of the
        replicate weights minus 1 (R ``degf``).
        """
        from .replication import METHODS, replicate_weights

        if self._replicates is not None and self._replicates.method not in METHODS:
            raise WeightingError(
                f"this design has supplied replicate weights (type {self._replicates.method!r}) and "
                "no strata or PSUs to build others from"
            )
        s1 = self._stages[0]
        strata = s1.cluster_stratum[s1.cluster]
        correction = None
        if s1.population is not None and method in ("jk1", "jkn"):
            correction = (1.0 - s1.fraction)[strata]
        population = None if s1.population is None else s1.population[strata]
        rep = replicate_weights(
            method, self._base_weights, strata, s1.cluster, replicates=replicates, rng=rng, fay=fay,
            lonely_psu=self._lonely_psu, fpc_correction=correction, population=population,
        )
        df = float(replicate_rank(rep.weights) - 1)
        W = rep.weights
        for adjustment in self._adjustments:
            W = adjustment.reapply(W)
        return self._evolve(replicates=with_weights(rep, W), df=df)
