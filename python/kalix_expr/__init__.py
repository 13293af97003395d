"""Kalix formulas and model files in Python, bit for bit as in Kalix and Rust.

Formulas over numpy arrays::

    >>> import numpy as np
    >>> import kalix_expr
    >>> f = kalix_expr.Expr("max(0, rain - loss)")
    >>> f.variables
    ['rain', 'loss']
    >>> f(rain=np.array([1.0, 5.0, 2.5]), loss=2)
    array([0. , 3. , 0.5])

Model files to DataFrames (pandas optional)::

    >>> model = kalix_expr.Model.load("creek.ini")          # doctest: +SKIP
    >>> frame = model.run({"data.rain": rain, "data.evap": evap}, start="2024-01-01")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from ._kalix_expr import CompiledExpr as _CompiledExpr
from ._kalix_expr import Error
from ._kalix_expr import LoadedModel as _LoadedModel
from ._kalix_expr import __version__

__all__ = ["Expr", "ExprSet", "Model", "Diagnostic", "Error", "__version__"]

_DIVISION = ("inf", "nan", "error")
_DOMAIN = ("nan", "error")


def _error(text: str, code: str) -> Error:
    err = Error(text)
    err.kind, err.code, err.line, err.column, err.help, err.diagnostics = "expression", code, None, None, None, []
    return err


def _threads(threads: Optional[int]) -> int:
    if threads is None:
        return 0
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads is a positive number of cores, not {threads}")
    return threads


class Expr:
    """A formula, parsed and compiled once, evaluated over numbers or numpy arrays.

    Keyword arguments of a call give the variables: numbers or arrays, broadcast together as
    numpy does; any float or integer dtype is converted to float64 once. The result is a
    float64 array of the broadcast shape (a numpy float64 for numbers alone). The batch engine
    evaluates it without a Python loop, with the GIL released, on all cores for large arrays
    (``threads=`` chooses how many).

    Options, as keywords of the constructor:

    * ``division_by_zero``: ``"inf"`` (IEEE, as Kalix: ``1/0 = inf``), ``"nan"`` or ``"error"``;
    * ``domain_errors``: ``"nan"`` (``sqrt(-1) = nan``) or ``"error"``;
    * ``missing``: what a variable not given is: ``None`` (an error naming it) or a number;
    * ``single_step``: ``False`` (the default) refuses offsets and windows (``x[-1, 0]``,
      ``moving_mean(x, 30, 0)``), which read a run's history: run them in a ``Model``.
      ``True`` evaluates each row as a run's first step (an offset reads its default, a
      window its first value).

    >>> float(Expr("x / y")(x=1.0, y=0.0))
    inf
    >>> float(Expr("x / y", division_by_zero="nan")(x=1.0, y=0.0))
    nan
    >>> Expr("a + b", missing=0.0)(a=np.arange(3))
    array([0., 1., 2.])
    >>> float(Expr("x[-1, 5] + 1", single_step=True)(x=2.0))
    6.0
    """

    def __init__(
        self,
        source: str,
        *,
        division_by_zero: str = "inf",
        domain_errors: str = "nan",
        missing: Optional[float] = None,
        single_step: bool = False,
    ) -> None:
        if division_by_zero not in _DIVISION:
            raise ValueError(f"division_by_zero is one of {_DIVISION}, not {division_by_zero!r}")
        if domain_errors not in _DOMAIN:
            raise ValueError(f"domain_errors is one of {_DOMAIN}, not {domain_errors!r}")
        self._compiled = _CompiledExpr(source, division_by_zero, domain_errors, bool(single_step))
        self._options = {
            "division_by_zero": division_by_zero,
            "domain_errors": domain_errors,
            "single_step": bool(single_step),
            "missing": None if missing is None else float(missing),
        }

    @property
    def source(self) -> str:
        """The formula's text."""
        return self._compiled.source

    @property
    def variables(self) -> List[str]:
        """The variables, in order of first appearance."""
        return list(self._compiled.variables)

    @property
    def options(self) -> Dict[str, Any]:
        """The options it was made with."""
        return dict(self._options)

    def __call__(self, *, threads: Optional[int] = None, **values: Any) -> Any:
        names = self._compiled.variables
        unknown = [k for k in values if k not in names]
        if unknown:
            raise TypeError(
                f"{self.source!r} has no variable {unknown[0]!r}; its variables are {names}"
            )
        missing = self._options["missing"]
        arrays: List[np.ndarray] = []
        for name in names:
            if name in values:
                arrays.append(np.asarray(values[name]))
            elif missing is not None:
                arrays.append(np.asarray(missing, dtype=np.float64))
            else:
                raise _error(f"error: no value for variable `{name}` of {self.source!r}", "variable_missing")
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        columns: List[Any] = []
        for name, a in zip(names, arrays):
            if a.dtype.kind not in "fiub":
                raise TypeError(f"`{name}` is not numbers (dtype {a.dtype})")
            if a.ndim == 0:
                columns.append(float(a))
                continue
            if a.shape != shape:
                a = np.broadcast_to(a, shape)
            columns.append(np.ascontiguousarray(a, dtype=np.float64).reshape(-1))
        out = self._compiled.eval(columns, n, _threads(threads))
        if shape == ():
            return np.float64(out[0])
        return out.reshape(shape)

    def __repr__(self) -> str:
        return f"Expr({self.source!r})"

    def __reduce__(self):
        # Pickled as its source and options, so processes (multiprocessing, Dask, Ray) rebuild
        # it by compiling again.
        return (_rebuild_expr, (self.source, self._options))


def _rebuild_expr(source: str, options: Dict[str, Any]) -> Expr:
    return Expr(source, **options)


class ExprSet:
    """Several formulas evaluated over the same variables.

    >>> s = ExprSet(["a + b", "a * b", "max(a, 2)"])
    >>> [float(v) for v in s(a=3.0, b=4.0)]
    [7.0, 12.0, 3.0]
    """

    def __init__(self, sources: Iterable[str], **options: Any) -> None:
        self._exprs = [Expr(s, **options) for s in sources]

    @property
    def variables(self) -> List[str]:
        """Every variable of the set, in order of first appearance."""
        seen: List[str] = []
        for e in self._exprs:
            seen.extend(v for v in e.variables if v not in seen)
        return seen

    @property
    def sources(self) -> List[str]:
        """The formulas' texts."""
        return [e.source for e in self._exprs]

    def __len__(self) -> int:
        return len(self._exprs)

    def __getitem__(self, i: int) -> Expr:
        return self._exprs[i]

    def __call__(self, *, threads: Optional[int] = None, **values: Any) -> List[Any]:
        return [e(threads=threads, **{k: v for k, v in values.items() if k in e.variables}) for e in self._exprs]

    def __reduce__(self):
        options = self._exprs[0].options if self._exprs else {}
        return (_rebuild_set, (self.sources, options))


def _rebuild_set(sources: List[str], options: Dict[str, Any]) -> ExprSet:
    return ExprSet(sources, **options)


class Diagnostic:
    """One problem of a model: where it is, how bad, what is wrong, and the help."""

    __slots__ = ("file", "line", "column", "severity", "message", "help", "kind", "code", "text")

    def __init__(self, d: Mapping[str, Any]) -> None:
        for k in self.__slots__:
            setattr(self, k, d.get(k))

    def __repr__(self) -> str:
        place = f"{self.file}:{self.line}:{self.column}" if self.line else (self.file or "")
        return f"<Diagnostic {self.severity} {place}: {self.message}>"

    def __str__(self) -> str:
        return str(self.text)


def _load(path: str) -> _LoadedModel:
    return _LoadedModel.load(os.fspath(path))


class Model:
    """A Kalix model file: checked as ``kexpr check`` does, run as ``kexpr run`` does.

    >>> m = Model.from_text("[var.b]\\nk = sim.step * 2\\n")
    >>> m.series
    ['var.b.k']
    >>> m.run(steps=3, dataframe=False)["var.b.k"]
    array([0., 2., 4.])
    """

    def __init__(self, loaded: _LoadedModel, overrides: Optional[Dict[str, float]] = None) -> None:
        self._model = loaded
        self._overrides = dict(overrides or {})
        self.warnings: List[Diagnostic] = []

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"]) -> "Model":
        """Loads the model file at ``path`` (its ``[data]`` files are read when it runs)."""
        return cls(_load(os.fspath(path)))

    @classmethod
    def from_text(cls, text: str, path: str = "model.ini") -> "Model":
        """A model from its text; ``path`` names it and places its relative files."""
        return cls(_LoadedModel.from_text(text, os.fspath(path)))

    @property
    def path(self) -> str:
        """The model file's path."""
        return self._model.path

    @property
    def constants(self) -> Dict[str, float]:
        """The ``[const]`` constants and their values."""
        return dict(self._model.constants())

    def with_constants(self, values: Optional[Mapping[str, float]] = None, **more: float) -> "Model":
        """The same model with some constants set otherwise (``"const.k"`` or ``k=``): one
        member of an ensemble or a calibration. The model itself is unchanged.

        >>> m = Model.from_text("[const]\\nconst.k = 2\\n[var.b]\\nx = const.k * 10\\n")
        >>> m.with_constants(k=3).run(steps=1, dataframe=False)["var.b.x"]
        array([30.])
        """
        values = {**dict(values or {}), **more}
        loaded = self._model.with_constants([(str(k), float(v)) for k, v in values.items()])
        return Model(loaded, {**self._overrides, **values})

    @property
    def series(self) -> List[str]:
        """The computed series, in evaluation order (the run's columns)."""
        return list(self._model.series())

    def check(self) -> List[Diagnostic]:
        """Every problem of the model, errors and warnings, as ``kexpr check`` reports them."""
        return [Diagnostic(d) for d in self._model.check()]

    def run(
        self,
        inputs: Any = None,
        *,
        start: Any = None,
        steps: Optional[int] = None,
        nan_outside_data: bool = False,
        dataframe: Optional[bool] = None,
        engine: str = "jit",
    ) -> Any:
        """Runs the model and returns its series.

        ``inputs`` are the series the model reads that its ``[data]`` files do not give: a dict
        of arrays (the first row on the run's first step) or a pandas DataFrame (its
        DatetimeIndex gives the dates). The result is a DataFrame indexed by date when pandas
        is installed (``dataframe=False`` asks for a dict of arrays, with a ``"date"`` array of
        ``datetime64[D]``). ``engine="interpreter"`` runs every series on the interpreter
        instead of as native code (``"jit"``, the default): the results are the same bits.
        """
        columns = []
        first_date = None
        if inputs is not None:
            if hasattr(inputs, "columns") and hasattr(inputs, "index"):
                index = inputs.index
                if hasattr(index, "to_numpy") and np.issubdtype(np.asarray(index).dtype, np.datetime64):
                    first_date = str(np.datetime_as_string(np.asarray(index)[0].astype("datetime64[D]")))
                items = [(str(c), inputs[c].to_numpy()) for c in inputs.columns]
            else:
                items = [(str(k), v) for k, v in dict(inputs).items()]
            for name, values in items:
                columns.append((name, np.ascontiguousarray(np.asarray(values, dtype=np.float64).reshape(-1))))
        start_text = None if start is None else str(np.datetime64(str(start)[:10], "D"))
        dates, names, arrays, warnings = self._model.run(
            columns, first_date, start_text, steps, nan_outside_data, engine
        )
        self.warnings = [Diagnostic(w) for w in warnings]
        date_array = np.array(dates, dtype="datetime64[D]")
        want_frame = dataframe if dataframe is not None else _has_pandas()
        if want_frame:
            import pandas as pd

            return pd.DataFrame(dict(zip(names, arrays)), index=pd.DatetimeIndex(date_array, name="date"))
        out: Dict[str, Any] = {"date": date_array}
        out.update(zip(names, arrays))
        return out

    def __reduce__(self):
        # Pickled as its text, path and changed constants: a worker process rebuilds it without
        # reading the file.
        return (_rebuild_model, (self._model.text, self.path, self._overrides))

    def __repr__(self) -> str:
        return f"Model({self.path!r})"


def _rebuild_model(text: str, path: str, overrides: Dict[str, float]) -> Model:
    model = Model.from_text(text, path)
    return model.with_constants(overrides) if overrides else model


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True
