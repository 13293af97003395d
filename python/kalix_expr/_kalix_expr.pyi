"""Type stubs of the compiled half of kalix_expr (see kalix_expr/__init__.py for the API)."""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class Error(ValueError):
    kind: str
    code: str
    line: Optional[int]
    column: Optional[int]
    help: Optional[str]
    diagnostics: List[Dict[str, Any]]

class CompiledExpr:
    def __init__(
        self, source: str, division_by_zero: str = "inf", domain_errors: str = "nan", single_step: bool = False
    ) -> None: ...
    @property
    def variables(self) -> List[str]: ...
    @property
    def source(self) -> str: ...
    def eval(
        self, columns: Sequence[Union[float, npt.NDArray[np.float64]]], n: int, threads: int = 0
    ) -> npt.NDArray[np.float64]: ...

class LoadedModel:
    @staticmethod
    def load(path: str) -> "LoadedModel": ...
    @staticmethod
    def from_text(text: str, path: str) -> "LoadedModel": ...
    @property
    def path(self) -> str: ...
    @property
    def text(self) -> str: ...
    def with_constants(self, values: List[Tuple[str, float]]) -> "LoadedModel": ...
    def constants(self) -> List[Tuple[str, float]]: ...
    def check(self) -> List[Dict[str, Any]]: ...
    def series(self) -> List[str]: ...
    def run(
        self,
        columns: List[Tuple[str, npt.NDArray[np.float64]]],
        first_date: Optional[str] = None,
        start: Optional[str] = None,
        steps: Optional[int] = None,
        nan_outside_data: bool = False,
        engine: str = "jit",
    ) -> Tuple[List[str], List[str], List[npt.NDArray[np.float64]], List[Dict[str, Any]]]: ...
