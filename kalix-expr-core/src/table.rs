//! Lookup tables (docs/language.md): 1D `table.t(x)` and 2D `table.t(col, row)`.

use std::fmt;

/// A lookup table, validated when it is built.
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
        Ok(Table { name: name.to_string(), rows, cols, values })
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

    /// `table.t(x)` on a 1D table.
    pub fn lookup1(&self, x: f64) -> f64 {
        clamped_lerp(&self.rows, &self.values[..self.rows.len()], x)
    }

    /// `table.t(col, row)` on a 2D table: `None` if `col` matches no column key exactly.
    pub fn lookup2(&self, col: f64, row: f64) -> Option<f64> {
        let c = self.cols.iter().position(|k| *k == col)?;
        let n = self.rows.len();
        Some(clamped_lerp(&self.rows, &self.values[c * n..(c + 1) * n], row))
    }
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
