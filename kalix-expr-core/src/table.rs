//! Lookup tables (docs/language.md): 1D `table.t(x)` and 2D `table.t(col, row)`.

use std::fmt;

/// A lookup table, validated when it is built.
///
/// By default it looks up as Kalix does: linear between row keys, clamped at the ends, and (2D)
/// the column key matched exactly. [`Table::with_interpolation`] and
/// [`Table::with_extrapolation`] choose otherwise.
///
/// ```
/// use kalix_expr_core::Table;
/// let t = Table::from_cells("curve", &["0", "0", "10", "100"], 2)?;
/// assert_eq!(t.lookup1(2.5), 25.0);
/// assert_eq!(t.lookup1(50.0), 100.0);
/// # Ok::<(), kalix_expr_core::TableError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    name: String,
    /// Row keys (1D: the x values), strictly ascending.
    rows: Vec<f64>,
    /// Column keys of a 2D table, strictly ascending (empty for 1D).
    cols: Vec<f64>,
    /// Values column-major: `values[c * rows.len() + r]` (1D: the y values).
    values: Vec<f64>,
    /// How a row key between two keys looks up.
    row_mode: Interpolation,
    /// How a column key looks up (2D).
    col_mode: Interpolation,
    /// What a key outside the keys gives.
    outside: Extrapolation,
    /// Whether lookups outside the keys are counted and reported after a run.
    report_outside: bool,
}

/// How a key between two of a table's keys looks up (`interpolation = …` in a model file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interpolation {
    /// Linear between the neighbouring keys (Kalix's rows).
    Linear,
    /// The value of the next-lower key.
    Step,
    /// The key must be one of the keys, else the lookup is an error (Kalix's 2D columns).
    Exact,
}

/// What a key outside a table's keys gives (`extrapolation = …` in a model file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extrapolation {
    /// The value at the nearest end (Kalix).
    Clamp,
    /// The end segment extended (on a linear axis; a step axis holds its end value).
    Linear,
    /// The lookup is an error that stops the run.
    Error,
}

impl Interpolation {
    /// The word a model file writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Interpolation::Linear => "linear",
            Interpolation::Step => "step",
            Interpolation::Exact => "exact",
        }
    }

    /// The interpolation a model file's word names (case-insensitive).
    ///
    /// ```
    /// use kalix_expr_core::table::Interpolation;
    /// assert_eq!(Interpolation::parse("Step"), Some(Interpolation::Step));
    /// assert_eq!(Interpolation::parse("cubic"), None);
    /// ```
    pub fn parse(word: &str) -> Option<Interpolation> {
        [Interpolation::Linear, Interpolation::Step, Interpolation::Exact]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(word.trim()))
    }
}

impl Extrapolation {
    /// The word a model file writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Extrapolation::Clamp => "clamp",
            Extrapolation::Linear => "linear",
            Extrapolation::Error => "error",
        }
    }

    /// The extrapolation a model file's word names (case-insensitive).
    ///
    /// ```
    /// use kalix_expr_core::table::Extrapolation;
    /// assert_eq!(Extrapolation::parse("error"), Some(Extrapolation::Error));
    /// ```
    pub fn parse(word: &str) -> Option<Extrapolation> {
        [Extrapolation::Clamp, Extrapolation::Linear, Extrapolation::Error]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(word.trim()))
    }
}

/// A table's axis: rows (the x of a 1D table, the second argument of a 2D one) or columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    /// The row keys.
    Row,
    /// The column keys of a 2D table.
    Column,
}

impl Axis {
    /// `"row"` or `"column"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Axis::Row => "row",
            Axis::Column => "column",
        }
    }
}

/// A lookup's value, and whether a key was outside the keys (clamped or extrapolated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    /// The value.
    pub value: f64,
    /// Whether a key lay outside its axis' keys.
    pub outside: bool,
}

/// Why a lookup has no value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Miss {
    /// An exact axis with no such key (NaN matches none).
    NoKey {
        /// The axis.
        axis: Axis,
        /// The key.
        key: f64,
    },
    /// A key outside the keys of a table whose extrapolation is `error`.
    OutOfRange {
        /// The axis.
        axis: Axis,
        /// The key.
        key: f64,
    },
}

/// Why a table's cells do not make a table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// `n_cols` is less than 2.
    #[error("table `{table}`: n_cols must be at least 2, found {n_cols}")]
    ColumnsTooFew {
        /// The table.
        table: String,
        /// The value given.
        n_cols: usize,
    },
    /// The number of cells is not a multiple of `n_cols`.
    #[error("table `{table}`: {cells} cells do not fill rows of {n_cols}")]
    CellsRagged {
        /// The table.
        table: String,
        /// How many cells.
        cells: usize,
        /// Cells per row.
        n_cols: usize,
    },
    /// A cell that is not a finite number where one is required.
    #[error("table `{table}`: cell {index} `{text}` is not a finite number")]
    CellInvalid {
        /// The table.
        table: String,
        /// 1-based cell position.
        index: usize,
        /// The cell's text.
        text: String,
    },
    /// Keys that are not strictly ascending.
    #[error("table `{table}`: keys must be strictly ascending, but {next} follows {prev}")]
    KeysUnordered {
        /// The table.
        table: String,
        /// The earlier key.
        prev: f64,
        /// The key after it.
        next: f64,
    },
    /// No data rows.
    #[error("table `{table}` has no rows")]
    Empty {
        /// The table.
        table: String,
    },
    /// More cells than [`Table::MAX_CELLS`].
    #[error("table `{table}` has {cells} cells, more than the limit of {limit}")]
    TooLarge {
        /// The table.
        table: String,
        /// How many cells.
        cells: usize,
        /// The limit.
        limit: usize,
    },
}

fn number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

impl Table {
    /// The most cells a table may have. Protects loading from a runaway file.
    pub const MAX_CELLS: usize = 10_000_000;

    /// A table from its cells in row order (`values = …` split at commas) and `n_cols`.
    ///
    /// 1D (`n_cols = 2`): x,y pairs, with an optional first row of two text labels. 2D: a first
    /// row of a text corner label and the column keys, then rows of a row key and values.
    pub fn from_cells<S: AsRef<str>>(name: &str, cells: &[S], n_cols: usize) -> Result<Table, TableError> {
        let table = || name.to_string();
        if n_cols < 2 {
            return Err(TableError::ColumnsTooFew { table: table(), n_cols });
        }
        if cells.len() > Self::MAX_CELLS {
            return Err(TableError::TooLarge { table: table(), cells: cells.len(), limit: Self::MAX_CELLS });
        }
        let cells: Vec<&str> = cells.iter().map(|c| c.as_ref().trim()).collect();
        if cells.len() % n_cols != 0 {
            return Err(TableError::CellsRagged { table: table(), cells: cells.len(), n_cols });
        }
        let num = |i: usize| {
            number(cells[i]).ok_or_else(|| TableError::CellInvalid {
                table: table(),
                index: i + 1,
                text: cells[i].chars().take(40).collect(),
            })
        };
        let (cols, first_row) = if n_cols == 2 {
            // An optional header of two labels.
            let header = !cells.is_empty() && number(cells[0]).is_none() && number(cells[1]).is_none();
            (Vec::new(), usize::from(header))
        } else {
            if cells.is_empty() {
                return Err(TableError::Empty { table: table() });
            }
            let cols = (1..n_cols).map(num).collect::<Result<Vec<_>, _>>()?;
            (cols, 1)
        };
        let n_rows = cells.len() / n_cols - first_row;
        if n_rows == 0 {
            return Err(TableError::Empty { table: table() });
        }
        let mut rows = Vec::with_capacity(n_rows);
        let mut values = vec![0.0; n_rows * (n_cols - 1)];
        for r in 0..n_rows {
            let at = (first_row + r) * n_cols;
            rows.push(num(at)?);
            for c in 1..n_cols {
                values[(c - 1) * n_rows + r] = num(at + c)?;
            }
        }
        for keys in [&rows, &cols] {
            if let Some(w) = keys.windows(2).find(|w| w[1] <= w[0]) {
                return Err(TableError::KeysUnordered { table: table(), prev: w[0], next: w[1] });
            }
        }
        Ok(Table {
            name: name.to_string(),
            rows,
            cols,
            values,
            row_mode: Interpolation::Linear,
            col_mode: Interpolation::Exact,
            outside: Extrapolation::Clamp,
            report_outside: false,
        })
    }

    /// The table with its row and column interpolation (the column mode is ignored by a 1D
    /// table).
    ///
    /// ```
    /// use kalix_expr_core::table::{Interpolation, Table};
    /// let t = Table::from_cells("t", &["0", "0", "10", "100"], 2)?
    ///     .with_interpolation(Interpolation::Step, Interpolation::Exact);
    /// assert_eq!(t.lookup1(7.5), 0.0);
    /// # Ok::<(), kalix_expr_core::TableError>(())
    /// ```
    pub fn with_interpolation(mut self, rows: Interpolation, columns: Interpolation) -> Table {
        self.row_mode = rows;
        self.col_mode = columns;
        self
    }

    /// The table with its extrapolation; `report` asks the run to count lookups outside the
    /// keys and report them at its end (a model file that writes `extrapolation = …` does).
    ///
    /// ```
    /// use kalix_expr_core::table::{Extrapolation, Table};
    /// let t = Table::from_cells("t", &["0", "0", "10", "100"], 2)?.with_extrapolation(Extrapolation::Linear, true);
    /// assert_eq!(t.lookup1(20.0), 200.0);
    /// # Ok::<(), kalix_expr_core::TableError>(())
    /// ```
    pub fn with_extrapolation(mut self, outside: Extrapolation, report: bool) -> Table {
        self.outside = outside;
        self.report_outside = report;
        self
    }

    /// The row and column interpolation.
    pub fn interpolation(&self) -> (Interpolation, Interpolation) {
        (self.row_mode, self.col_mode)
    }

    /// The extrapolation.
    pub fn extrapolation(&self) -> Extrapolation {
        self.outside
    }

    /// Whether lookups outside the keys are counted and reported after a run.
    pub fn reports_outside(&self) -> bool {
        self.report_outside
    }

    /// Whether the table looks up exactly as Kalix does (linear rows clamped at the ends, exact
    /// columns, nothing reported): the evaluator's fast path.
    pub fn is_kalix(&self) -> bool {
        self.row_mode == Interpolation::Linear
            && self.col_mode == Interpolation::Exact
            && self.outside == Extrapolation::Clamp
            && !self.report_outside
    }

    /// The row keys.
    pub fn row_keys(&self) -> &[f64] {
        &self.rows
    }

    /// The lookup of `table.t(x)` (`args = [x]`) or `table.t(col, row)` (`args = [col, row]`)
    /// under the table's interpolation and extrapolation.
    ///
    /// ```
    /// use kalix_expr_core::table::{Extrapolation, Found, Interpolation, Miss, Table, Axis};
    /// let t = Table::from_cells("t", &["0", "0", "10", "100"], 2)?
    ///     .with_interpolation(Interpolation::Exact, Interpolation::Exact);
    /// assert_eq!(t.lookup(&[10.0]), Ok(Found { value: 100.0, outside: false }));
    /// assert_eq!(t.lookup(&[5.0]), Err(Miss::NoKey { axis: Axis::Row, key: 5.0 }));
    /// # Ok::<(), kalix_expr_core::TableError>(())
    /// ```
    pub fn lookup(&self, args: &[f64]) -> Result<Found, Miss> {
        match *args {
            [x] => self.in_column(0, x),
            [col, row] if !self.cols.is_empty() => {
                let cols = &self.cols;
                if let Some(c) = cols.iter().position(|k| *k == col) {
                    // A column key looks up its own column, whatever the interpolation.
                    return self.in_column(c, row);
                }
                let (c0, c1, w, outside) = match position(cols, col, self.col_mode, self.outside, Axis::Column)? {
                    Position::At(c) => return self.in_column(c, row),
                    Position::Held(c) => return self.in_column(c, row).map(|f| Found { outside: true, ..f }),
                    Position::Between(c, outside) => (c, c + 1, col, outside),
                    Position::Nan => return Ok(Found { value: f64::NAN, outside: false }),
                };
                let (a, b) = (self.in_column(c0, row)?, self.in_column(c1, row)?);
                let value = a.value + ((w - cols[c0]) * (b.value - a.value)) / (cols[c1] - cols[c0]);
                Ok(Found { value, outside: outside || a.outside || b.outside })
            }
            _ => Ok(Found { value: f64::NAN, outside: false }),
        }
    }

    /// The lookup of row key `x` in column `c` (0 for a 1D table).
    fn in_column(&self, c: usize, x: f64) -> Result<Found, Miss> {
        let n = self.rows.len();
        let ys = &self.values[c * n..(c + 1) * n];
        match position(&self.rows, x, self.row_mode, self.outside, Axis::Row)? {
            Position::At(i) => Ok(Found { value: ys[i], outside: false }),
            Position::Held(i) => Ok(Found { value: ys[i], outside: true }),
            Position::Between(i, outside) => {
                let (x0, x1, y0, y1) = (self.rows[i], self.rows[i + 1], ys[i], ys[i + 1]);
                Ok(Found { value: y0 + ((x - x0) * (y1 - y0)) / (x1 - x0), outside })
            }
            Position::Nan => Ok(Found { value: f64::NAN, outside: false }),
        }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// 1 for a 1D table, 2 for a 2D table: the arity of `table.<name>(…)`.
    pub fn arity(&self) -> usize {
        if self.cols.is_empty() {
            1
        } else {
            2
        }
    }

    /// The column keys of a 2D table.
    pub fn column_keys(&self) -> &[f64] {
        &self.cols
    }

    /// `table.t(x)` on a 1D table (NaN where the lookup has no value).
    pub fn lookup1(&self, x: f64) -> f64 {
        if self.is_kalix() {
            return clamped_lerp(&self.rows, &self.values[..self.rows.len()], x);
        }
        self.lookup(&[x]).map_or(f64::NAN, |f| f.value)
    }

    /// `table.t(col, row)` on a 2D table: `None` where the lookup has no value (as Kalix: `col`
    /// matching no column key exactly).
    pub fn lookup2(&self, col: f64, row: f64) -> Option<f64> {
        if self.is_kalix() {
            let c = self.cols.iter().position(|k| *k == col)?;
            let n = self.rows.len();
            return Some(clamped_lerp(&self.rows, &self.values[c * n..(c + 1) * n], row));
        }
        self.lookup(&[col, row]).ok().map(|f| f.value)
    }

    /// The keys of `axis` nearest `key`: the one below and the one above (one at an end, none
    /// for NaN), for an error's text.
    ///
    /// ```
    /// use kalix_expr_core::table::{Axis, Table};
    /// let t = Table::from_cells("t", &["0", "0", "10", "100", "20", "0"], 2)?;
    /// assert_eq!(t.nearest_keys(Axis::Row, 12.0), vec![10.0, 20.0]);
    /// # Ok::<(), kalix_expr_core::TableError>(())
    /// ```
    pub fn nearest_keys(&self, axis: Axis, key: f64) -> Vec<f64> {
        let keys = match axis {
            Axis::Row => &self.rows,
            Axis::Column => &self.cols,
        };
        if key.is_nan() || keys.is_empty() {
            return Vec::new();
        }
        let i = keys.partition_point(|k| *k < key);
        keys[i.saturating_sub(1)..(i + 1).min(keys.len())].iter().copied().filter(|k| *k != key).collect()
    }

    /// Which rows (and columns) a lookup of `args` read, in words: what `kexpr why` shows.
    ///
    /// ```
    /// use kalix_expr_core::Table;
    /// let t = Table::from_cells("t", &["0", "0", "10", "100", "20", "0"], 2)?;
    /// assert_eq!(t.describe_lookup(&[12.0]), "between row 10 → 100 and row 20 → 0");
    /// assert_eq!(t.describe_lookup(&[25.0]), "past the last row, 20 → 0 (clamped)");
    /// # Ok::<(), kalix_expr_core::TableError>(())
    /// ```
    pub fn describe_lookup(&self, args: &[f64]) -> String {
        let n = self.rows.len();
        let row = |c: usize, x: f64| -> String {
            let ys = &self.values[c * n..(c + 1) * n];
            let at = |i: usize| format!("row {} → {}", self.rows[i], ys[i]);
            let how = match self.outside {
                Extrapolation::Linear if self.row_mode == Interpolation::Linear => "extrapolated",
                Extrapolation::Error => "an error",
                _ => "clamped",
            };
            match position(&self.rows, x, self.row_mode, self.outside, Axis::Row) {
                Err(_) if self.row_mode == Interpolation::Exact => format!("no row with key {x}"),
                Err(_) => format!("outside the rows ({} to {}): an error", self.rows[0], self.rows[n - 1]),
                Ok(Position::Nan) => "NaN key: NaN".to_string(),
                Ok(Position::At(i)) if self.row_mode == Interpolation::Step && self.rows[i] != x => {
                    format!("{} (the next-lower key)", at(i))
                }
                Ok(Position::At(i)) => at(i),
                Ok(Position::Held(i)) => {
                    let side = if i == 0 { "before the first row" } else { "past the last row" };
                    format!("{side}, {} → {} ({how})", self.rows[i], ys[i])
                }
                Ok(Position::Between(i, false)) => format!("between {} and {}", at(i), at(i + 1)),
                Ok(Position::Between(i, true)) => {
                    format!("outside the rows, along {} and {} ({how})", at(i), at(i + 1))
                }
            }
        };
        match *args {
            [x] => row(0, x),
            [col, x] if !self.cols.is_empty() => match self.cols.iter().position(|k| *k == col) {
                Some(c) => format!("column {col}: {}", row(c, x)),
                None => match position(&self.cols, col, self.col_mode, self.outside, Axis::Column) {
                    Ok(Position::At(c)) => format!("column {} (the next-lower key): {}", self.cols[c], row(c, x)),
                    Ok(Position::Held(c)) => format!("column {} (the nearest end): {}", self.cols[c], row(c, x)),
                    Ok(Position::Between(c, _)) => format!(
                        "between column {}: {}; and column {}: {}",
                        self.cols[c],
                        row(c, x),
                        self.cols[c + 1],
                        row(c + 1, x)
                    ),
                    Ok(Position::Nan) => "NaN column key: NaN".to_string(),
                    Err(_) => format!("no column with key {col}"),
                },
            },
            _ => String::new(),
        }
    }

    /// The first and last key of `axis`.
    pub fn key_range(&self, axis: Axis) -> (f64, f64) {
        let keys = match axis {
            Axis::Row => &self.rows,
            Axis::Column => &self.cols,
        };
        (keys.first().copied().unwrap_or(f64::NAN), keys.last().copied().unwrap_or(f64::NAN))
    }
}

/// Where a key falls among an axis' keys.
enum Position {
    /// On key `i`.
    At(usize),
    /// Outside the keys, held at the end key `i`.
    Held(usize),
    /// Between keys `i` and `i + 1` (linear), `true` if extrapolated past them.
    Between(usize, bool),
    /// A NaN key on a linear or step axis: the value is NaN.
    Nan,
}

/// Where `x` falls among `keys` (strictly ascending, at least one) under `mode` and `outside`.
fn position(keys: &[f64], x: f64, mode: Interpolation, outside: Extrapolation, axis: Axis) -> Result<Position, Miss> {
    let n = keys.len();
    if mode == Interpolation::Exact {
        return keys.iter().position(|k| *k == x).map(Position::At).ok_or(Miss::NoKey { axis, key: x });
    }
    if x.is_nan() {
        return Ok(Position::Nan);
    }
    let below = x < keys[0];
    let above = x > keys[n - 1];
    if below || above {
        if outside == Extrapolation::Error {
            return Err(Miss::OutOfRange { axis, key: x });
        }
        let end = if below { 0 } else { n - 1 };
        if outside == Extrapolation::Linear && mode == Interpolation::Linear && n >= 2 {
            return Ok(Position::Between(if below { 0 } else { n - 2 }, true));
        }
        return Ok(Position::Held(end));
    }
    Ok(match mode {
        Interpolation::Step => Position::At(keys.partition_point(|k| *k <= x) - 1),
        // Kalix's rule: the ends exactly, an interior key by the segment to its left.
        _ if x == keys[0] => Position::At(0),
        _ if x == keys[n - 1] => Position::At(n - 1),
        _ => Position::Between(keys.partition_point(|k| *k < x).max(1) - 1, false),
    })
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table.{}", self.name)
    }
}

/// Clamped linear interpolation through `(xs[i], ys[i])`, `xs` strictly ascending, exactly as
/// Kalix computes it: the ends clamp exactly, NaN gives NaN, and between keys (an interior key
/// uses the segment to its left) `y0 + ((x - x0) * (y1 - y0)) / (x1 - x0)`.
///
/// ```
/// use kalix_expr_core::table::clamped_lerp;
/// assert_eq!(clamped_lerp(&[0.0, 10.0], &[0.0, 100.0], 2.5), 25.0);
/// assert!(clamped_lerp(&[0.0, 10.0], &[0.0, 100.0], f64::NAN).is_nan());
/// ```
pub fn clamped_lerp(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let n = xs.len().min(ys.len());
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x <= xs[0] {
        return ys[0];
    }
    if x >= xs[n - 1] {
        return ys[n - 1];
    }
    let i = xs[..n].partition_point(|k| *k < x).max(1);
    let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
    y0 + ((x - x0) * (y1 - y0)) / (x1 - x0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_d_tables_take_an_optional_header() {
        let t = Table::from_cells("t", &["Volume [ML]", "Percent", "0", "0", "100", "50"], 2).unwrap();
        assert_eq!(t.arity(), 1);
        assert_eq!(t.lookup1(50.0), 25.0);
        assert_eq!(t.lookup1(-5.0), 0.0);
        assert_eq!(t.lookup1(500.0), 50.0);
        assert!(t.lookup1(f64::NAN).is_nan());
    }

    #[test]
    fn two_d_tables_match_columns_exactly() {
        let cells = ["x", "1", "2", "0", "0", "0", "100", "50", "30", "1e9", "50", "30"];
        let t = Table::from_cells("pump", &cells, 3).unwrap();
        assert_eq!(t.arity(), 2);
        assert_eq!(t.lookup2(2.0, 50.0), Some(15.0));
        assert_eq!(t.lookup2(1.0, 5e9), Some(50.0));
        assert_eq!(t.lookup2(1.5, 50.0), None);
        assert_eq!(t.lookup2(f64::NAN, 50.0), None);
    }

    #[test]
    fn bad_tables_are_refused() {
        assert!(matches!(Table::from_cells("t", &["1", "2", "3"], 2), Err(TableError::CellsRagged { .. })));
        assert!(matches!(Table::from_cells("t", &["1", "2", "1", "3"], 2), Err(TableError::KeysUnordered { .. })));
        assert!(matches!(Table::from_cells("t", &["1", "nan"], 2), Err(TableError::CellInvalid { index: 2, .. })));
        assert!(matches!(Table::from_cells("t", &["a", "b"], 2), Err(TableError::Empty { .. })));
        assert!(matches!(Table::from_cells("t", &["1", "2"], 1), Err(TableError::ColumnsTooFew { .. })));
    }

    #[test]
    fn interior_knots_use_the_segment_to_their_left() {
        let (xs, ys) = ([0.0, 0.3, 1.0], [0.0, 0.7, 3.0]);
        let left: f64 = 0.0 + ((0.3 - 0.0) * (0.7 - 0.0)) / (0.3 - 0.0);
        assert_eq!(clamped_lerp(&xs, &ys, 0.3).to_bits(), left.to_bits());
    }
}
