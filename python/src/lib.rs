//! `kalix_expr._kalix_expr`: the compiled half of the Python package. The Python half
//! (`kalix_expr/__init__.py`) does the numpy broadcasting and the pandas conversions; this half
//! compiles formulas once and evaluates them over whole columns with the batch engine, the GIL
//! released and on as many cores as asked, and loads, checks and runs model files.
#![forbid(unsafe_code)]

use kalix_expr::model::{Data, Diagnostic, ModelFile, RunRange};
use kalix_expr::{Compiled, Date, DivByZero, DomainErrors, Engine, Error as ExprError, Expr, Options};
use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

create_exception!(
    _kalix_expr,
    Error,
    PyValueError,
    "A formula or model that does not parse, check or evaluate. The text is the rendered \
     diagnostic; `kind`, `code`, `line`, `column`, `help` and `diagnostics` carry it as data."
);

/// Rows per block of a batch evaluation: a block's columns stay in cache, and blocks are what
/// the cores share out.
const BLOCK: usize = 1 << 14;

/// Sets the attributes of an `Error` and returns it.
fn error_with(
    py: Python<'_>,
    text: String,
    kind: &str,
    code: &str,
    place: Option<(usize, usize)>,
    help: Option<String>,
    all: Vec<PyObject>,
) -> PyErr {
    let err = Error::new_err(text);
    let value = err.value(py);
    let (line, column) = match place {
        Some((l, c)) => (Some(l), Some(c)),
        None => (None, None),
    };
    let _ = value.setattr("kind", kind);
    let _ = value.setattr("code", code);
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    let _ = value.setattr("help", help);
    let _ = value.setattr("diagnostics", all);
    err
}

/// An expression's error as a Python `Error`.
fn expr_error(py: Python<'_>, e: &ExprError) -> PyErr {
    // Lines and columns as model diagnostics count them.
    let source = kalix_expr::model::SourceFile::new("", e.source_text());
    let all: Vec<PyObject> = e
        .diagnostics()
        .iter()
        .filter_map(|d| {
            let (line, column) = source.line_col(d.span().start);
            let dict = PyDict::new(py);
            dict.set_item("message", d.kind().to_string()).ok()?;
            dict.set_item("code", d.kind().code()).ok()?;
            dict.set_item("line", line).ok()?;
            dict.set_item("column", column).ok()?;
            dict.set_item("help", d.suggestion().map(|h| h.text().to_string())).ok()?;
            Some(dict.into_any().unbind())
        })
        .collect();
    let first = &e.diagnostics()[0];
    let place = source.line_col(first.span().start);
    let help = first.suggestion().map(|h| h.text().to_string());
    error_with(py, e.to_string(), "expression", &first.kind().code(), Some(place), help, all)
}

/// A model diagnostic as a dict: file, line, column, severity, message, help, kind, code.
fn diagnostic_dict(py: Python<'_>, d: &Diagnostic) -> PyResult<PyObject> {
    let dict = PyDict::new(py);
    dict.set_item("file", d.at.as_ref().map(|a| a.file.name().to_string()))?;
    dict.set_item("line", d.line())?;
    dict.set_item("column", d.column())?;
    dict.set_item("severity", d.severity.as_str())?;
    dict.set_item("message", &d.message)?;
    dict.set_item("help", d.help_text())?;
    dict.set_item("kind", d.kind.code())?;
    dict.set_item("code", d.code())?;
    dict.set_item("text", d.to_string())?;
    Ok(dict.into_any().unbind())
}

/// Model diagnostics as a Python `Error`: the text is all of them rendered.
fn model_error(py: Python<'_>, diags: &[Diagnostic]) -> PyErr {
    let text = kalix_expr::model::render_all(diags).trim_end().to_string();
    let all: Vec<PyObject> = diags.iter().filter_map(|d| diagnostic_dict(py, d).ok()).collect();
    match diags.iter().find(|d| d.is_error()).or(diags.first()) {
        Some(d) => {
            let place = d.line().zip(d.column());
            error_with(py, text, d.kind.code(), &d.code(), place, d.help_text().map(str::to_string), all)
        }
        None => error_with(py, text, "run", "run", None, None, all),
    }
}

/// One input of an evaluation: a number for every row, or a contiguous float64 column.
#[derive(FromPyObject)]
enum Column<'py> {
    Scalar(f64),
    Array(PyReadonlyArray1<'py, f64>),
}

/// A column as the evaluation reads it, without the GIL.
enum Col<'a> {
    Scalar(f64),
    Slice(&'a [f64]),
}

/// Evaluates rows `start..start + out.len()`; scalars are spread into `scratch` buffers.
fn eval_block(
    c: &Compiled,
    cols: &[Col<'_>],
    start: usize,
    out: &mut [f64],
    scratch: &mut Vec<Vec<f64>>,
) -> Result<(), ExprError> {
    let len = out.len();
    let mut k = 0;
    for col in cols {
        if let Col::Scalar(v) = col {
            if scratch.len() <= k {
                scratch.push(Vec::new());
            }
            scratch[k].clear();
            scratch[k].resize(len, *v);
            k += 1;
        }
    }
    let mut views: Vec<&[f64]> = Vec::with_capacity(cols.len());
    let mut k = 0;
    for col in cols {
        match col {
            Col::Slice(s) => views.push(&s[start..start + len]),
            Col::Scalar(_) => {
                views.push(&scratch[k]);
                k += 1;
            }
        }
    }
    c.eval_batch(&views, out)
}

/// Evaluates every row, in blocks, on `threads` cores (0: all).
fn eval_rows(c: &Compiled, cols: &[Col<'_>], out: &mut [f64], threads: usize) -> Result<(), ExprError> {
    if threads == 1 || out.len() <= 2 * BLOCK {
        let mut scratch = Vec::new();
        for (i, chunk) in out.chunks_mut(BLOCK).enumerate() {
            eval_block(c, cols, i * BLOCK, chunk, &mut scratch)?;
        }
        return Ok(());
    }
    let run = |out: &mut [f64]| {
        out.par_chunks_mut(BLOCK)
            .enumerate()
            .try_for_each_init(Vec::new, |scratch, (i, chunk)| eval_block(c, cols, i * BLOCK, chunk, scratch))
    };
    if threads == 0 {
        return run(out);
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(|| run(out)),
        Err(_) => run(out),
    }
}

/// A compiled formula.
#[pyclass(module = "kalix_expr._kalix_expr", frozen)]
struct CompiledExpr {
    compiled: Compiled,
    variables: Vec<String>,
}

#[pymethods]
impl CompiledExpr {
    /// Parses and compiles `source`, its variables in order of first appearance.
    #[new]
    #[pyo3(signature = (source, division_by_zero = "inf", domain_errors = "nan", single_step = false))]
    fn new(
        py: Python<'_>,
        source: &str,
        division_by_zero: &str,
        domain_errors: &str,
        single_step: bool,
    ) -> PyResult<Self> {
        let div = match division_by_zero {
            "inf" | "ieee" => DivByZero::Ieee,
            "nan" => DivByZero::Nan,
            "error" => DivByZero::Error,
            other => {
                return Err(PyValueError::new_err(format!(
                    "division_by_zero is \"inf\", \"nan\" or \"error\", not {other:?}"
                )))
            }
        };
        let domain = match domain_errors {
            "nan" => DomainErrors::Nan,
            "error" => DomainErrors::Error,
            other => {
                return Err(PyValueError::new_err(format!("domain_errors is \"nan\" or \"error\", not {other:?}")))
            }
        };
        let expr = Expr::parse(source).map_err(|e| expr_error(py, &e))?;
        let variables: Vec<String> = expr.variables().into_iter().map(str::to_string).collect();
        let names: Vec<&str> = variables.iter().map(String::as_str).collect();
        let opts = Options { div_by_zero: div, domain_errors: domain, single_step, ..Options::default() };
        let compiled = expr.compile_with(&names, &opts).map_err(|e| expr_error(py, &e))?;
        Ok(CompiledExpr { compiled, variables })
    }

    /// The variables, in order of first appearance.
    #[getter]
    fn variables(&self) -> Vec<String> {
        self.variables.clone()
    }

    /// The source text.
    #[getter]
    fn source(&self) -> String {
        self.compiled.source().to_string()
    }

    /// Evaluates `n` rows: one column per variable, in order, each a number or a contiguous
    /// float64 array of `n`; the GIL is released, and `threads` cores work (0: all).
    #[pyo3(signature = (columns, n, threads = 0))]
    fn eval<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<Column<'py>>,
        n: usize,
        threads: usize,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        if columns.len() != self.variables.len() {
            return Err(PyValueError::new_err(format!(
                "{} columns for {} variables",
                columns.len(),
                self.variables.len()
            )));
        }
        let mut cols = Vec::with_capacity(columns.len());
        for (c, name) in columns.iter().zip(&self.variables) {
            cols.push(match c {
                Column::Scalar(v) => Col::Scalar(*v),
                Column::Array(a) => {
                    let s = a.as_slice().map_err(|_| PyValueError::new_err(format!("`{name}` is not contiguous")))?;
                    if s.len() != n {
                        return Err(PyValueError::new_err(format!("`{name}` has {} rows, not {n}", s.len())));
                    }
                    Col::Slice(s)
                }
            });
        }
        // numpy's allocator asks for huge pages for large arrays: writing 80 MB of fresh
        // memory then costs a few dozen page faults, not twenty thousand.
        let result = PyArray1::<f64>::zeros(py, n, false);
        {
            let mut rw = result.readwrite();
            let out = rw.as_slice_mut().map_err(|e| PyValueError::new_err(e.to_string()))?;
            let compiled = &self.compiled;
            py.allow_threads(|| eval_rows(compiled, &cols, out, threads)).map_err(|e| expr_error(py, &e))?;
        }
        Ok(result)
    }
}

/// A Kalix model file, loaded.
#[pyclass(module = "kalix_expr._kalix_expr", frozen)]
struct LoadedModel {
    model: ModelFile,
}

/// The engine named `"jit"` or `"interpreter"` (`"interp"` too, as `kexpr run --engine`).
fn engine(text: &str) -> PyResult<Engine> {
    match text {
        "jit" => Ok(Engine::Jit),
        "interpreter" | "interp" => Ok(Engine::Interpreter),
        _ => Err(PyValueError::new_err(format!("engine `{text}` is not one of \"jit\", \"interpreter\""))),
    }
}

/// A date `YYYY-MM-DD`.
fn date(text: &str) -> PyResult<Date> {
    text.parse::<Date>().map_err(|e| PyValueError::new_err(format!("`{text}` is not a date YYYY-MM-DD: {e}")))
}

#[pymethods]
impl LoadedModel {
    /// Loads the model file at `path`.
    #[staticmethod]
    fn load(py: Python<'_>, path: &str) -> PyResult<Self> {
        ModelFile::load(path).map(|model| LoadedModel { model }).map_err(|d| model_error(py, &d))
    }

    /// A model from its text; `path` names it and places its relative files.
    #[staticmethod]
    fn from_text(text: &str, path: &str) -> Self {
        let dir = std::path::Path::new(path).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        let env = |name: &str| std::env::var(name).ok();
        LoadedModel { model: kalix_expr::model::load_text(path, text, &dir, &env) }
    }

    /// The model file's path as loaded.
    #[getter]
    fn path(&self) -> String {
        self.model.file.name().to_string()
    }

    /// The model file's text.
    #[getter]
    fn text(&self) -> String {
        self.model.file.text().to_string()
    }

    /// The model with some constants set to other values (`const.k` or `k`): an ensemble
    /// member. An unknown constant is an error naming the closest.
    fn with_constants(&self, py: Python<'_>, values: Vec<(String, f64)>) -> PyResult<Self> {
        let mut model = self.model.clone();
        for (name, v) in values {
            let lower = name.to_lowercase();
            let full = if lower.starts_with("const.") { lower } else { format!("const.{lower}") };
            match model.constants.iter_mut().find(|c| c.name == full) {
                Some(c) => c.value = v,
                None => {
                    let close = kalix_expr::model::closest(&full, self.model.constants.iter().map(|c| c.name.as_str()));
                    let help = close.map(|c| format!("did you mean `{c}`?"));
                    let text = format!("error: the model has no constant `{full}`");
                    return Err(error_with(py, text, "definition", "constant_unknown", None, help, Vec::new()));
                }
            }
        }
        Ok(LoadedModel { model })
    }

    /// The constants and their values.
    fn constants(&self) -> Vec<(String, f64)> {
        self.model.constants.iter().map(|c| (c.name.clone(), c.value)).collect()
    }

    /// Every problem of the model, as `kexpr check` finds them.
    fn check(&self, py: Python<'_>) -> PyResult<Vec<PyObject>> {
        let report = self.model.check();
        report.diagnostics.iter().map(|d| diagnostic_dict(py, d)).collect()
    }

    /// The series, in evaluation order.
    fn series(&self) -> Vec<String> {
        self.model.series.iter().map(|s| s.name.clone()).collect()
    }

    /// Runs the model over its `[data]` files and `columns` (name, float64 array; the first row
    /// on `first_date`, or on the run's first step): the dates, the series' names and their
    /// columns, and the run's warnings. `engine` is `"jit"` (native code for the series it
    /// compiles) or `"interpreter"`: the same bits either way.
    #[pyo3(signature = (columns, first_date = None, start = None, steps = None, nan_outside_data = false, engine = "jit"))]
    // Python's keyword arguments, one each: a struct would only move them into a tuple.
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn run<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<(String, PyReadonlyArray1<'py, f64>)>,
        first_date: Option<&str>,
        start: Option<&str>,
        steps: Option<usize>,
        nan_outside_data: bool,
        engine: &str,
    ) -> PyResult<(Vec<String>, Vec<String>, Vec<Bound<'py, PyArray1<f64>>>, Vec<PyObject>)> {
        let engine = self::engine(engine)?;
        let first_date = first_date.map(date).transpose()?;
        let start = start.map(date).transpose()?;
        let columns: Vec<(String, Vec<f64>)> =
            columns.iter().map(|(n, a)| (n.clone(), a.as_array().iter().copied().collect())).collect();
        let model = &self.model;
        let outcome = py.allow_threads(|| {
            let mut data = Data::read_all(model, &[])?;
            data.add_columns(first_date, columns)?;
            let mut compiled = model.compile_with_data(None, &data)?;
            compiled.set_engine(engine);
            let results = compiled.run(&data, RunRange { start, steps, nan_outside_data })?;
            let dates: Vec<String> = (0..results.steps()).map(|t| results.date(t).to_string()).collect();
            let names = results.names().to_vec();
            let cols: Vec<Vec<f64>> = (0..names.len()).map(|i| results.column_at(i).to_vec()).collect();
            let mut warnings = compiled.warnings().to_vec();
            warnings.extend(results.warnings().iter().cloned());
            Ok::<_, Vec<Diagnostic>>((dates, names, cols, warnings))
        });
        let (dates, names, cols, warnings) = outcome.map_err(|d| model_error(py, &d))?;
        let arrays = cols.into_iter().map(|c| c.into_pyarray(py)).collect();
        let warnings = warnings.iter().map(|d| diagnostic_dict(py, d)).collect::<PyResult<_>>()?;
        Ok((dates, names, arrays, warnings))
    }
}

/// The compiled half of `kalix_expr`.
#[pymodule]
fn _kalix_expr(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Error", m.py().get_type::<Error>())?;
    m.add_class::<CompiledExpr>()?;
    m.add_class::<LoadedModel>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
