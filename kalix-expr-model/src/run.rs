//! Running a checked model: its input data read once and aligned to the run, the run itself,
//! and its results as columns or as CSV.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use kalix_expr_core::table::Axis;
use kalix_expr_core::{Calendar, Date, Outputs, OutsideLookups, Program, RunError};

use crate::analyze::Analysis;
use crate::data::{self, Csv, DataError, DateColumn};
use crate::diag::{count, Diagnostic, Kind};
use crate::format::format_value;
use crate::load::ModelFile;

/// The most values (steps × series and inputs) a run may hold in memory: about 2 GB. Protects
/// against `steps: Some(1_000_000_000_000)` exhausting memory instead of giving an error.
pub const MAX_RUN_VALUES: usize = 250_000_000;

/// Which steps to run: by default the period every input the model reads has data for (from
/// the latest first date to the earliest last date of their files; else from the model's
/// `[kalix] start`, or 2000-01-01, to `[kalix] end`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunRange {
    /// The date of the first step.
    pub start: Option<Date>,
    /// How many steps.
    pub steps: Option<usize>,
    /// Whether an input may be read as NaN at steps outside its data. Off by default: a run
    /// that starts before or ends after an input's rows is an error naming the input, its
    /// dates and the run's, because `max` and `min` would turn those NaNs into plausible
    /// numbers.
    pub nan_outside_data: bool,
}

/// One input file, read.
#[derive(Debug, Clone)]
struct Source {
    /// How messages name it.
    name: String,
    csv: Csv,
}

/// The input data of a run, each file read once: the model's `[data]` files (as
/// `data.<file>.by_name.<column>` and `data.<file>.by_index.<n>`) and extra CSV files whose
/// column headers are the names expressions use (`data.rain`, `node.up.dsflow`).
///
/// ```
/// use kalix_expr_model::{Data, ModelFile};
/// let model = ModelFile::from_text("m.ini", "[var.b]\nx = data.rain * 2\n");
/// let data = Data::from_columns(None, vec![("data.rain".into(), vec![1.0, 2.5])])?;
/// let results = model.compile()?.run(&data, Default::default())?;
/// assert_eq!(results.column("var.b.x"), Some(&[2.0, 5.0][..]));
/// # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Data {
    files: Vec<Source>,
    /// Lower-case series name → (file, column).
    columns: HashMap<String, (usize, usize)>,
    /// The columns given outside the model's `[data]` section → their file (each only once).
    given: HashMap<String, usize>,
    /// What reading each `[data]` file of the model gave: its index in `files`, or why not
    /// (empty when the data was not read for a model).
    model_files: Vec<Result<usize, ModelFileProblem>>,
}

/// Why a `[data]` file of the model gave no columns.
#[derive(Debug, Clone)]
enum ModelFileProblem {
    /// It cannot be read (its I/O error's kind and text).
    Io(std::io::ErrorKind, String),
    /// Its content is wrong.
    Content(Box<Diagnostic>),
}

impl Data {
    /// Reads `model`'s `[data]` files (those that exist: a missing one is a warning of the
    /// check) and the `extra` files, whose columns take precedence. A file whose content is
    /// wrong, or an extra file that cannot be read, is an error placed in that file.
    pub fn read(model: &ModelFile, extra: &[PathBuf]) -> Result<Data, Vec<Diagnostic>> {
        let d = Data::read_all(model, extra)?;
        match d.model_files.iter().find_map(|o| match o {
            Err(ModelFileProblem::Content(e)) => Some(e),
            _ => None,
        }) {
            Some(e) => Err(vec![(**e).clone()]),
            None => Ok(d),
        }
    }

    /// [`Data::read`] for [`ModelFile::compile_with_data`]: what went wrong with each `[data]`
    /// file is kept for the check to report (which then reads no file again), so each data
    /// file of a run is read once. `Err` only for the extra files.
    pub fn read_all(model: &ModelFile, extra: &[PathBuf]) -> Result<Data, Vec<Diagnostic>> {
        let mut d = Data::default();
        for f in &model.data {
            let csv = match data::read_csv(&f.path, &f.written, DateColumn::First) {
                Ok(csv) => csv,
                Err(DataError::Io(e)) => {
                    d.model_files.push(Err(ModelFileProblem::Io(e.kind(), e.to_string())));
                    continue;
                }
                Err(DataError::Content(e)) => {
                    d.model_files.push(Err(ModelFileProblem::Content(e)));
                    continue;
                }
            };
            d.model_files.push(Ok(d.files.len()));
            let i = d.files.len();
            for prefix in data::source_names(f) {
                for (c, header) in csv.headers.iter().enumerate() {
                    for key in data::column_keys(&prefix, header, c) {
                        d.columns.insert(key, (i, c));
                    }
                }
            }
            d.files.push(Source { name: f.written.clone(), csv });
        }
        for path in extra {
            let name = path.display().to_string();
            let csv = match data::read_csv(path, &name, DateColumn::IfNamedDate) {
                Ok(csv) => csv,
                Err(DataError::Io(e)) => {
                    return Err(vec![Diagnostic::error(Kind::Data, None, format!("cannot read `{name}`: {e}"))])
                }
                Err(DataError::Content(e)) => return Err(vec![*e]),
            };
            d.add(name, csv)?;
        }
        Ok(d)
    }

    /// Where input `name` comes from, in words: ``column `rain` of `climate.csv` `` (`None`
    /// for an input the data does not have).
    pub fn source_of(&self, name: &str) -> Option<String> {
        let &(f, c) = self.columns.get(&name.to_lowercase())?;
        let file = &self.files[f];
        let column = file.csv.headers.get(c).map_or(String::new(), |h| format!("column `{h}` of "));
        Some(format!("{column}`{}`", file.name))
    }

    /// In-memory inputs for a host: each column named as expressions read it (`data.rain`,
    /// `node.dam.dsflow`), the first row on `first_date` (`None`: on the run's first step). A
    /// name given twice is an error.
    ///
    /// ```
    /// use kalix_expr_model::Data;
    /// let data = Data::from_columns(None, vec![("data.rain".into(), vec![1.0, 2.0])])?;
    /// assert_eq!(data.names(), vec!["data.rain"]);
    /// let twice = vec![("x".into(), vec![1.0]), ("X".into(), vec![2.0])];
    /// assert!(Data::from_columns(None, twice).is_err());
    /// # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
    /// ```
    pub fn from_columns(first_date: Option<Date>, columns: Vec<(String, Vec<f64>)>) -> Result<Data, Vec<Diagnostic>> {
        let rows = columns.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
        let (headers, columns): (Vec<String>, Vec<Vec<f64>>) = columns.into_iter().unzip();
        let mut d = Data::default();
        d.add("the host's columns".into(), Csv { headers, first_date, columns, rows })?;
        Ok(d)
    }

    /// Adds in-memory columns (as [`Data::from_columns`]) to data already read, such as a
    /// model's `[data]` files: a host supplies the inputs the files do not have.
    ///
    /// ```
    /// use kalix_expr_model::Data;
    /// let mut data = Data::from_columns(None, vec![("data.rain".into(), vec![1.0])])?;
    /// data.add_columns(None, vec![("data.evap".into(), vec![2.0])])?;
    /// assert_eq!(data.names(), vec!["data.evap", "data.rain"]);
    /// assert!(data.add_columns(None, vec![("data.RAIN".into(), vec![3.0])]).is_err());
    /// # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
    /// ```
    pub fn add_columns(
        &mut self,
        first_date: Option<Date>,
        columns: Vec<(String, Vec<f64>)>,
    ) -> Result<(), Vec<Diagnostic>> {
        let rows = columns.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
        let (headers, columns): (Vec<String>, Vec<Vec<f64>>) = columns.into_iter().unzip();
        self.add("the host's columns".into(), Csv { headers, first_date, columns, rows })
    }

    /// Adds a file given outside the model; each of its headers must be new among such files.
    fn add(&mut self, name: String, csv: Csv) -> Result<(), Vec<Diagnostic>> {
        let i = self.files.len();
        for (c, header) in csv.headers.iter().enumerate() {
            let key = header.to_lowercase();
            if key.is_empty() {
                // A column without a header (a trailing comma) cannot be read by any expression.
                continue;
            }
            if let Some(&j) = self.given.get(&key) {
                let other = if j == i { "twice".to_string() } else { format!("in `{}` too", self.files[j].name) };
                return Err(vec![Diagnostic::error(
                    Kind::Data,
                    None,
                    format!("column `{header}` of `{name}` is given {other}"),
                )]);
            }
            self.given.insert(key.clone(), i);
            self.columns.insert(key, (i, c));
        }
        self.files.push(Source { name, csv });
        Ok(())
    }

    /// The names of every column, lower-case, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.columns.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// What reading the model's `i`-th `[data]` file gave, as a header, when this data was
    /// read for the model.
    pub(crate) fn model_file(&self, i: usize) -> Option<Result<data::Header, DataError>> {
        Some(match self.model_files.get(i)? {
            Ok(f) => Ok(data::Header { names: self.files[*f].csv.headers.clone() }),
            Err(ModelFileProblem::Io(kind, text)) => Err(DataError::Io(std::io::Error::new(*kind, text.clone()))),
            Err(ModelFileProblem::Content(d)) => Err(DataError::Content(d.clone())),
        })
    }

    /// The files that give an input the model reads.
    fn used_files(&self, a: &Analysis) -> Vec<usize> {
        let mut used: Vec<usize> = a.inputs.iter().filter_map(|(n, _)| self.columns.get(n).map(|&(f, _)| f)).collect();
        used.sort_unstable();
        used.dedup();
        used
    }

    /// The first date and the number of steps of a run over this data.
    fn range(&self, model: &ModelFile, a: &Analysis, range: RunRange) -> Result<(Date, usize), Vec<Diagnostic>> {
        let used = self.used_files(a);
        let csvs = || used.iter().map(|&f| &self.files[f].csv);
        let latest_first = csvs().filter_map(|c| c.first_date).max();
        let start = range.start.or(latest_first).or(model.start).unwrap_or(Date { year: 2000, month: 1, day: 1 });
        let run_error = |message: String| vec![Diagnostic::error(Kind::Run, None, message)];
        let steps = match range.steps {
            Some(n) => n,
            None if !used.is_empty() => {
                // To the end of the input that ends first.
                let end = csvs()
                    .map(|c| c.first_date.map_or(0, |d| d.to_days() - start.to_days()) + c.rows as i64)
                    .min()
                    .unwrap_or(0);
                if end <= 0 {
                    return Err(run_error(format!("the input data ends before the start date {start}")));
                }
                end as usize
            }
            None => match model.end {
                Some(end) if end >= start => (end.to_days() - start.to_days() + 1) as usize,
                Some(end) => return Err(run_error(format!("`[kalix] end` ({end}) is before the start date {start}"))),
                None => {
                    return Err(run_error(
                        "nothing says how long to run: give --steps N, input data with --data, or `[kalix] end`".into(),
                    ))
                }
            },
        };
        if steps == 0 {
            return Err(run_error("the run has no steps".into()));
        }
        Ok((start, steps))
    }

    /// Each input file that does not cover the run, as an error naming its inputs, its dates and
    /// the run's.
    fn coverage(&self, a: &Analysis, start: Date, steps: usize) -> Vec<Diagnostic> {
        let run_end = start.add_days(steps as i64 - 1);
        let mut out = Vec::new();
        for f in self.used_files(a) {
            let csv = &self.files[f].csv;
            let first = csv.first_date.map_or(0, |d| d.to_days() - start.to_days());
            let end = first + csv.rows as i64;
            if first <= 0 && end >= steps as i64 {
                continue;
            }
            let names: Vec<&str> = a
                .inputs
                .iter()
                .filter(|(n, _)| self.columns.get(n).is_some_and(|&(g, _)| g == f))
                .map(|(n, _)| n.as_str())
                .collect();
            let shown: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
            let more = if names.len() > 3 { format!(" and {} more", names.len() - 3) } else { String::new() };
            let (what, has) = if names.len() == 1 { ("input", "has") } else { ("inputs", "have") };
            let span = match csv.first_date {
                Some(d) => format!("from {d} to {} ({} rows)", d.add_days(csv.rows as i64 - 1), csv.rows),
                None => format!("for the first {} steps (no dates)", csv.rows),
            };
            let at = a.inputs.iter().find(|(n, _)| Some(&n.as_str()) == names.first()).map(|(_, at)| at.clone());
            out.push(
                Diagnostic::error(
                    Kind::Run,
                    at,
                    format!(
                        "{what} {}{more} {has} data {span} in `{}`, but the run is from {start} to {run_end}",
                        shown.join(", "),
                        self.files[f].name
                    ),
                )
                .with_help("run within the data (--start and --steps), or read NaN outside it with --nan-outside-data"),
            );
        }
        out
    }

    /// The columns of extra files (`--data`) that no input of the model reads, and their files.
    fn unread_columns(&self, a: &Analysis) -> Vec<(&str, usize)> {
        let read: std::collections::HashSet<&str> = a.inputs.iter().map(|(n, _)| n.as_str()).collect();
        let mut unread: Vec<(&str, usize)> =
            self.given.iter().filter(|(k, _)| !read.contains(k.as_str())).map(|(k, &f)| (k.as_str(), f)).collect();
        unread.sort_unstable();
        unread
    }

    /// The columns of extra files (`--data`) that no input of the model reads: warnings, each
    /// with the closest input the model reads but finds no column for (a misspelt header).
    fn unread(&self, a: &Analysis) -> Vec<Diagnostic> {
        let missing: Vec<&str> =
            a.inputs.iter().map(|(n, _)| n.as_str()).filter(|n| !self.columns.contains_key(*n)).collect();
        self.unread_columns(a)
            .into_iter()
            .map(|(column, f)| {
                let d = Diagnostic::warning(
                    Kind::Data,
                    None,
                    format!("column `{column}` of `{}` is read by no expression", self.files[f].name),
                );
                match crate::names::closest(column, missing.iter().copied()) {
                    Some(m) => {
                        d.with_help(format!("did you mean `{m}`? The model reads it and finds no column for it"))
                    }
                    None => d.with_help("check the header's spelling, or leave the column out"),
                }
            })
            .collect()
    }

    /// The column of every input, aligned to the run: a dated file by its dates, an undated one
    /// from the first step; NaN where a file has no row. Every input without data is reported.
    fn columns(&self, a: &Analysis, start: Date, steps: usize) -> Result<Vec<Vec<f64>>, Vec<Diagnostic>> {
        let mut missing = Vec::new();
        let unread: Vec<&str> = self.unread_columns(a).into_iter().map(|(c, _)| c).collect();
        let mut columns = Vec::with_capacity(a.inputs.len());
        for (name, at) in &a.inputs {
            let Some(&(f, c)) = self.columns.get(name) else {
                let help = match crate::names::closest(name, unread.iter().copied()) {
                    Some(column) => format!("a `--data` file has a column `{column}`: is it this input, misspelt?"),
                    None => format!("supply it as a CSV column named `{name}`: --data FILE.csv"),
                };
                missing.push(
                    Diagnostic::error(Kind::Data, Some(at.clone()), format!("no data for input `{name}`"))
                        .with_help(help),
                );
                continue;
            };
            let csv = &self.files[f].csv;
            let offset = csv.first_date.map_or(0, |d| start.to_days() - d.to_days());
            let values = &csv.columns[c];
            columns.push(
                (0..steps as i64)
                    .map(|t| usize::try_from(t + offset).ok().and_then(|i| values.get(i)).copied().unwrap_or(f64::NAN))
                    .collect(),
            );
        }
        if missing.is_empty() {
            Ok(columns)
        } else {
            Err(missing)
        }
    }
}

/// A model that checked without errors, compiled once and ready to run any number of times
/// (each run has its own state; `Send + Sync`).
///
/// ```
/// use kalix_expr_model::{ModelFile, RunRange};
/// let model = ModelFile::from_text("m.ini", "[var.b]\nk = sim.step * 2\n");
/// let compiled = model.compile()?;
/// let range = RunRange { steps: Some(3), ..RunRange::default() };
/// let results = compiled.run(&Default::default(), range)?;
/// assert_eq!(results.column("var.b.k"), Some(&[0.0, 2.0, 4.0][..]));
/// # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
/// ```
#[derive(Debug)]
pub struct CompiledModel<'m> {
    pub(crate) model: &'m ModelFile,
    pub(crate) analysis: Analysis,
    pub(crate) program: Program,
}

impl<'m> CompiledModel<'m> {
    pub(crate) fn new(model: &'m ModelFile, analysis: Analysis, program: Program) -> Self {
        CompiledModel { model, analysis, program }
    }

    /// The warnings of the check (a compiled model has no errors).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.analysis.diagnostics
    }

    /// The inputs the model reads (lower-case names), in the order of their first use.
    pub fn inputs(&self) -> impl Iterator<Item = &str> {
        self.analysis.inputs.iter().map(|(n, _)| n.as_str())
    }

    /// The core program, for a host that drives runs itself.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Sets the engine of its runs (see [`Program::set_engine`]): the JIT by default where
    /// the `jit` feature is built, or the interpreter. The results are the same bits.
    ///
    /// ```
    /// use kalix_expr_core::Engine;
    /// use kalix_expr_model::ModelFile;
    /// let m = ModelFile::from_text("m.ini", "[var.b]\nk = sim.step * 2\n");
    /// let mut compiled = m.compile()?;
    /// compiled.set_engine(Engine::Interpreter);
    /// assert_eq!(compiled.program().engine(), Engine::Interpreter);
    /// # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
    /// ```
    pub fn set_engine(&mut self, engine: kalix_expr_core::Engine) -> &mut Self {
        self.program.set_engine(engine);
        self
    }

    /// Runs the model over `data` for `range`. Every input the model reads must be in `data`.
    pub fn run(&self, data: &Data, range: RunRange) -> Result<Results, Vec<Diagnostic>> {
        self.run_with(data, range, &mut |_, _| {})
    }

    /// [`CompiledModel::run`], calling `progress(steps_done, steps)` every
    /// [`Program::PROGRESS_EVERY`] steps and at the end (for a progress bar). Reports how many
    /// steps the run has before its first step, as `progress(0, steps)`.
    pub fn run_with(
        &self,
        data: &Data,
        range: RunRange,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Results, Vec<Diagnostic>> {
        // The outputs are kept, beside the inputs.
        let width = self.analysis.inputs.len() + self.model.series.len();
        let (start, steps, columns) = self.prepare(data, range, width, "series")?;
        let inputs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let calendar = Calendar::daily(start);
        progress(0, steps);
        let outputs = self
            .program
            .run_on(&calendar, &inputs, steps, &mut |done| progress(done, steps))
            .map_err(|e| vec![self.run_error(&e)])?;
        let mut warnings = data.unread(&self.analysis);
        warnings.extend(self.outside_warnings(outputs.outside_lookups()));
        Ok(Results { calendar, outputs, warnings })
    }

    /// Runs the model over `data` for `range`, handing each step's values (every series, in
    /// model order) to `each` as soon as they are computed, and keeping nothing else: memory
    /// stays flat however long the run. Everything that can be refused before the first step
    /// is (missing inputs, a run outside the data), so `each` is called only for a run that
    /// starts. `progress(done, steps)` as for
    /// [`CompiledModel::run_with`]. An error of `each` (a full disk) stops the run.
    ///
    /// ```
    /// use kalix_expr_model::{ModelFile, RunRange};
    /// let model = ModelFile::from_text("m.ini", "[var.b]\nk = sim.step * 2\n");
    /// let range = RunRange { steps: Some(3), ..RunRange::default() };
    /// let mut rows = Vec::new();
    /// let summary = model.compile()?.run_each(&Default::default(), range, &mut |_, _| {}, &mut |date, values| {
    ///     rows.push((date.to_string(), values[0]));
    ///     Ok(())
    /// })?;
    /// assert_eq!(rows, [("2000-01-01".into(), 0.0), ("2000-01-02".into(), 2.0), ("2000-01-03".into(), 4.0)]);
    /// assert_eq!((summary.steps, summary.series), (3, 1));
    /// # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
    /// ```
    pub fn run_each(
        &self,
        data: &Data,
        range: RunRange,
        progress: &mut dyn FnMut(usize, usize),
        each: &mut dyn FnMut(Date, &[f64]) -> io::Result<()>,
    ) -> Result<Summary, Vec<Diagnostic>> {
        self.stream(data, range, progress, each, None)
    }

    /// [`CompiledModel::run_each`], adding to `nanos` (one per series, in model order) the time
    /// each series' evaluation took over the run: a profile. One more element gets the clock's
    /// own cost over the run (see `Run::eval_all_profiled`). Timing costs a clock read per
    /// series and step, which only a profiled run pays.
    ///
    /// ```
    /// use kalix_expr_model::{ModelFile, RunRange};
    /// let model = ModelFile::from_text("m.ini", "[var.b]\nk = sim.step * 2\nj = sqrt(var.b.k)\n");
    /// let compiled = model.compile()?;
    /// let mut nanos = vec![0; 2];
    /// let range = RunRange { steps: Some(100), ..RunRange::default() };
    /// compiled.run_each_profiled(&Default::default(), range, &mut |_, _| {}, &mut |_, _| Ok(()), &mut nanos)?;
    /// assert!(nanos.iter().all(|&n| n > 0));
    /// # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
    /// ```
    pub fn run_each_profiled(
        &self,
        data: &Data,
        range: RunRange,
        progress: &mut dyn FnMut(usize, usize),
        each: &mut dyn FnMut(Date, &[f64]) -> io::Result<()>,
        nanos: &mut [u64],
    ) -> Result<Summary, Vec<Diagnostic>> {
        self.stream(data, range, progress, each, Some(nanos))
    }

    fn stream(
        &self,
        data: &Data,
        range: RunRange,
        progress: &mut dyn FnMut(usize, usize),
        each: &mut dyn FnMut(Date, &[f64]) -> io::Result<()>,
        mut nanos: Option<&mut [u64]>,
    ) -> Result<Summary, Vec<Diagnostic>> {
        let started = std::time::Instant::now();
        // The inputs are aligned to the run in memory; the outputs are not kept.
        let (start, steps, columns) = self.prepare(data, range, self.analysis.inputs.len(), "inputs")?;
        let inputs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let mut run = self.program.start_over(start, &inputs);
        let mut row = Vec::with_capacity(self.model.series.len());
        progress(0, steps);
        for t in 0..steps {
            match nanos.as_deref_mut() {
                None => run.eval_all(),
                Some(nanos) => run.eval_all_profiled(nanos),
            }
            .map_err(|e| vec![self.run_error(&e)])?;
            row.clear();
            row.extend(run.series_values());
            each(run.date(), &row)
                .map_err(|e| vec![Diagnostic::error(Kind::Output, None, format!("cannot write the results: {e}"))])?;
            run.next_step().map_err(|e| vec![self.run_error(&e)])?;
            if (t + 1) % Program::PROGRESS_EVERY == 0 {
                progress(t + 1, steps);
            }
        }
        progress(steps, steps);
        let mut warnings = data.unread(&self.analysis);
        warnings.extend(self.outside_warnings(&run.outside_lookups()));
        Ok(Summary { steps, series: row.len(), start, seconds: started.elapsed().as_secs_f64(), warnings })
    }

    /// A warning for each table that a run looked up outside its keys (tables that state
    /// `extrapolation`), at the table's section.
    fn outside_warnings(&self, outside: &[OutsideLookups]) -> Vec<Diagnostic> {
        outside
            .iter()
            .map(|o| {
                let def = self.model.tables.iter().find(|t| t.name.eq_ignore_ascii_case(&o.table));
                let keys = def
                    .map(|t| t.table.key_range(Axis::Row))
                    .map_or(String::new(), |(a, b)| format!("its row keys run from {a} to {b}; "));
                Diagnostic::warning(Kind::Run, def.map(|t| t.at.clone()), o.to_string())
                    .with_help(format!("{keys}`extrapolation = error` stops the run at the first such lookup instead"))
            })
            .collect()
    }

    /// The names of the series, in model order (the columns of [`CompiledModel::run_each`]).
    pub fn series_names(&self) -> impl Iterator<Item = &str> {
        self.program.series_names()
    }

    /// What every run checks before its first step: its range, its size in memory (`width`
    /// values a step, of `what`), every input's column, and that the data covers the run. The
    /// first date, the steps, and the input columns aligned to the run.
    pub(crate) fn prepare(
        &self,
        data: &Data,
        range: RunRange,
        width: usize,
        what: &str,
    ) -> Result<Prepared, Vec<Diagnostic>> {
        let (start, steps) = data.range(self.model, &self.analysis, range)?;
        if steps.saturating_mul(width.max(1)) > MAX_RUN_VALUES {
            return Err(vec![Diagnostic::error(
                Kind::Run,
                None,
                format!("a run of {steps} steps over {width} {what} is too large (more than {MAX_RUN_VALUES} values)"),
            )]);
        }
        let columns = data.columns(&self.analysis, start, steps)?;
        if !range.nan_outside_data {
            let outside = data.coverage(&self.analysis, start, steps);
            if !outside.is_empty() {
                return Err(outside);
            }
        }
        Ok((start, steps, columns))
    }

    /// A run error placed in the model file, with the step and date.
    pub(crate) fn run_error(&self, e: &RunError) -> Diagnostic {
        let m = self.model;
        let series = m.series.iter().find(|s| s.name.eq_ignore_ascii_case(&e.series));
        let d = &e.error.diagnostics()[0];
        let at = series.map(|s| s.value.location(&m.file, d.span().start, d.span().end));
        Diagnostic::error(Kind::Expression(d.kind().clone()), at, d.kind().to_string())
            .with_help_opt(d.suggestion().cloned())
            .with_note(format!("at step {} ({}), in `{}`", e.step, e.date, e.series))
    }

    /// "the model has 2 warnings" for a note after a run, or `None` without warnings.
    pub fn warning_summary(&self) -> Option<String> {
        let (_, warnings) = self.analysis.counts();
        (warnings > 0).then(|| format!("the model has {}", count(warnings, "warning")))
    }
}

/// A run checked before its first step: its first date, its steps, and the input columns
/// aligned to it.
pub(crate) type Prepared = (Date, usize, Vec<Vec<f64>>);

/// What a streamed run did ([`CompiledModel::run_each`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Steps run.
    pub steps: usize,
    /// Series computed at each step.
    pub series: usize,
    /// The date of the first step.
    pub start: Date,
    /// Wall-clock seconds the run took.
    pub seconds: f64,
    /// What the run noticed without stopping (see [`Results::warnings`]).
    pub warnings: Vec<Diagnostic>,
}

/// The series of a run, one column each in model order, with the run's dates.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    calendar: Calendar,
    outputs: Outputs,
    warnings: Vec<Diagnostic>,
}

impl Results {
    /// What the run noticed without stopping: columns of the given data files that no
    /// expression reads (a misspelt header is the usual cause), each with a suggestion.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The series names, in model order.
    pub fn names(&self) -> &[String] {
        self.outputs.names()
    }

    /// The number of steps.
    pub fn steps(&self) -> usize {
        self.outputs.steps()
    }

    /// The date of step `t`.
    pub fn date(&self, t: usize) -> Date {
        self.calendar.date(t)
    }

    /// The column of the series named `name` (matched case-insensitively).
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.outputs.column(name)
    }

    /// The column of series `i`.
    pub fn column_at(&self, i: usize) -> &[f64] {
        self.outputs.column_at(i)
    }

    /// Writes the results as CSV: a `date` column, then one column per series, every value
    /// in the shortest text that reads back to the same `f64` ([`format_value`]).
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut out = BufWriter::new(out);
        csv_header(&mut out, self.names().iter().map(String::as_str))?;
        let columns: Vec<&[f64]> = (0..self.names().len()).map(|i| self.column_at(i)).collect();
        let mut row = Vec::with_capacity(columns.len());
        for t in 0..self.steps() {
            row.clear();
            row.extend(columns.iter().map(|c| c[t]));
            csv_row(&mut out, self.date(t), &row)?;
        }
        out.flush()
    }

    /// Writes the CSV to `path` whole or not at all, without clobbering what is not ours
    /// ([`kalix_expr_core::files::replace_file`]): a symbolic link is followed to its file, a
    /// FIFO or a device (`/dev/null`) is written directly, and a regular file is replaced by a
    /// rename from a temporary file beside it, keeping its permissions, so a reader never sees
    /// half a file and a failed run leaves an older file as it was.
    pub fn write_csv_file(&self, path: &Path) -> io::Result<()> {
        kalix_expr_core::files::replace_file(path, &mut |f| self.write_csv(f))
    }
}

/// The CSV header of `names`: `date`, then one column per series.
pub fn csv_header<'a>(out: &mut dyn Write, names: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
    out.write_all(b"date")?;
    for name in names {
        write!(out, ",{}", csv_cell(name))?;
    }
    out.write_all(b"\n")
}

/// One CSV row: the date, then each value in the shortest text that reads back to it.
pub fn csv_row(out: &mut dyn Write, date: Date, values: &[f64]) -> io::Result<()> {
    write!(out, "{date}")?;
    for v in values {
        write!(out, ",{}", format_value(*v))?;
    }
    out.write_all(b"\n")
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
