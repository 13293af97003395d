//! Input series from CSV files.
//!
//! A file has a header line, then one row per step. The first column may hold dates (for
//! `[data]` files it always does, as in Kalix; for `--data` files when its header is `date`):
//! `YYYY-MM-DD` (or another form Kalix reads), one day after another. Every other cell is
//! trimmed and read with [`str::parse::<f64>`] (so `NaN` and `inf` are accepted); an **empty
//! cell is NaN**. A cell that is not a number is an error naming the file, line and column.
//! Double quotes may enclose a cell (`"Rain, mm"`), with `""` for a quote inside.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use kalix_expr_core::Date;

use crate::diag::{Diagnostic, Kind, Location, SourceFile};
use crate::load::{parse_date, DataFile};
use crate::names::sanitize_name;

/// The names a `[data]` file's columns go by, `data.<name>.…`: its file name, sanitised
/// (`Climate.csv` → `climate_csv`), and its alias if it has one. The one place that says so.
pub fn source_names(f: &DataFile) -> Vec<String> {
    let file_name = Path::new(&f.written).file_name().map(|n| sanitize_name(&n.to_string_lossy()));
    file_name.into_iter().chain(f.alias.as_deref().map(sanitize_name)).collect()
}

/// The two names of column `index` (0-based, after the date column) headed `header` of the
/// `[data]` file named `source`: `data.<source>.by_name.<sanitised header>` and
/// `data.<source>.by_index.<index + 1>`.
///
/// ```
/// let keys = kalix_expr_model::data::column_keys("climate_csv", "Rain (mm)", 0);
/// assert_eq!(keys, ["data.climate_csv.by_name.rain__mm_", "data.climate_csv.by_index.1"]);
/// ```
pub fn column_keys(source: &str, header: &str, index: usize) -> [String; 2] {
    [format!("data.{source}.by_name.{}", sanitize_name(header)), format!("data.{source}.by_index.{}", index + 1)]
}

/// Whether a file's first column holds dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateColumn {
    /// Always (`[data]` files, as Kalix reads them).
    First,
    /// When its header is `date`, in any case (`--data` files).
    IfNamedDate,
}

/// Why a data file could not be read.
#[derive(Debug)]
pub enum DataError {
    /// The file cannot be opened or read.
    Io(std::io::Error),
    /// Its content is wrong, at a place in it.
    Content(Box<Diagnostic>),
}

/// The header of a `[data]` file: the names of its value columns (after the date column).
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The headers as written.
    pub names: Vec<String>,
}

impl Header {
    /// Whether `column` (`by_name.<sanitised header>` or `by_index.<1-based>`) is one of them.
    pub fn provides(&self, column: &str) -> bool {
        if let Some(name) = column.strip_prefix("by_name.") {
            return self.names.iter().any(|n| sanitize_name(n) == name);
        }
        if let Some(index) = column.strip_prefix("by_index.") {
            return index.parse::<usize>().is_ok_and(|i| i >= 1 && i <= self.names.len());
        }
        false
    }

    /// Every column as `by_name.<name>` and `by_index.<n>`.
    pub fn columns(&self) -> Vec<String> {
        let by_name = self.names.iter().map(|n| format!("by_name.{}", sanitize_name(n)));
        by_name.chain((1..=self.names.len()).map(|i| format!("by_index.{i}"))).collect()
    }
}

/// A data file read in full.
#[derive(Debug, Clone, PartialEq)]
pub struct Csv {
    /// The value columns' headers as written (after the date column, if any).
    pub headers: Vec<String>,
    /// The first row's date, if the file has a date column.
    pub first_date: Option<Date>,
    /// One column per header, one value per row.
    pub columns: Vec<Vec<f64>>,
    /// The number of rows.
    pub rows: usize,
}

fn content(file: &Arc<SourceFile>, start: usize, end: usize, message: String) -> DataError {
    DataError::Content(Box::new(Diagnostic::error(Kind::Data, Some(Location::new(file, start, end)), message)))
}

/// The cells of one line, each trimmed and unquoted, with the byte offset of its text in the
/// line. `Err` holds the offset of an unterminated quote.
fn split_fields(line: &str) -> Result<Vec<(usize, String)>, usize> {
    let mut fields = Vec::new();
    let mut start = 0;
    loop {
        let rest = &line[start..];
        let lead = rest.len() - rest.trim_start().len();
        let at = start + lead;
        if line[at..].starts_with('"') {
            let mut text = String::new();
            let mut i = at + 1;
            loop {
                let Some(q) = line[i..].find('"') else { return Err(at) };
                text.push_str(&line[i..i + q]);
                i += q + 1;
                if line[i..].starts_with('"') {
                    text.push('"');
                    i += 1;
                } else {
                    break;
                }
            }
            fields.push((at, text));
            match line[i..].find(',') {
                Some(c) => start = i + c + 1,
                None => return Ok(fields),
            }
        } else {
            match rest.find(',') {
                Some(c) => {
                    fields.push((at, rest[..c].trim().to_string()));
                    start += c + 1;
                }
                None => {
                    fields.push((at, rest.trim().to_string()));
                    return Ok(fields);
                }
            }
        }
    }
}

/// The lines of `text` with their byte offsets, line breaks (`\n` or `\r\n`) removed.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    text.split('\n').map(move |l| {
        let start = at;
        at += l.len() + 1;
        (start, l.strip_suffix('\r').unwrap_or(l))
    })
}

/// Whether the header `cells` start with a date column.
fn has_dates(cells: &[(usize, String)], dates: DateColumn) -> bool {
    match dates {
        DateColumn::First => true,
        DateColumn::IfNamedDate => cells.first().is_some_and(|(_, h)| h.eq_ignore_ascii_case("date")),
    }
}

/// Reads only the header of the file at `path` (`name` is how messages call it).
pub fn read_header(path: &Path, name: &str, dates: DateColumn) -> Result<Header, DataError> {
    let mut reader = BufReader::new(std::fs::File::open(path).map_err(DataError::Io)?);
    let mut skipped = 0;
    loop {
        let mut bytes = Vec::new();
        // A header is short; the limit protects against a file that is one endless line.
        let n = (&mut reader).take(1 << 20).read_until(b'\n', &mut bytes).map_err(DataError::Io)?;
        if n == 0 {
            let file = Arc::new(SourceFile::new(name, ""));
            return Err(content(&file, 0, 0, "the data file is empty: expected a header line".into()));
        }
        let Ok(line) = String::from_utf8(bytes) else {
            let file = Arc::new(SourceFile::new(name, ""));
            return Err(content(&file, 0, 0, "the data file is not valid UTF-8".into()));
        };
        let line = line.trim_start_matches('\u{feff}');
        if line.trim().is_empty() {
            skipped += 1;
            continue;
        }
        let line = line.trim_end_matches(['\n', '\r']);
        let cells = split_fields(line).map_err(|q| {
            // Only the header was read: blank lines before it keep the line number right.
            let file = Arc::new(SourceFile::new(name, format!("{}{line}", "\n".repeat(skipped))));
            content(&file, skipped + q, skipped + q + 1, "unterminated `\"`".into())
        })?;
        let skip = usize::from(has_dates(&cells, dates));
        return Ok(Header { names: cells.into_iter().skip(skip).map(|(_, h)| h).collect() });
    }
}

/// Reads the file at `path` in full (`name` is how messages call it).
pub fn read_csv(path: &Path, name: &str, dates: DateColumn) -> Result<Csv, DataError> {
    let bytes = std::fs::read(path).map_err(DataError::Io)?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let file = Arc::new(SourceFile::new(name, String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned()));
            return Err(content(&file, valid, valid, "the data file is not valid UTF-8".into()));
        }
    };
    let file = Arc::new(SourceFile::new(name, text));
    parse_csv(&file, dates)
}

/// Parses the text of a data file.
pub fn parse_csv(file: &Arc<SourceFile>, dates: DateColumn) -> Result<Csv, DataError> {
    let text = file.text();
    let bom = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut rows = lines(&text[bom..]).map(|(at, l)| (at + bom, l)).filter(|(_, l)| !l.trim().is_empty());
    let Some((header_at, header_line)) = rows.next() else {
        return Err(content(file, 0, 0, "the data file is empty: expected a header line".into()));
    };
    let unterminated = |at: usize| content(file, at, at + 1, "unterminated `\"`".into());
    let header = split_fields(header_line).map_err(|q| unterminated(header_at + q))?;
    let dated = has_dates(&header, dates);
    let skip = usize::from(dated);
    let headers: Vec<String> = header.iter().skip(skip).map(|(_, h)| h.clone()).collect();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); headers.len()];
    let mut first_date: Option<Date> = None;
    let mut previous: Option<Date> = None;
    let mut n_rows = 0;
    for (at, line) in rows {
        let cells = split_fields(line).map_err(|q| unterminated(at + q))?;
        if cells.len() != header.len() {
            return Err(content(
                file,
                at,
                at + line.len(),
                format!("this row has {} cells, the header has {}", cells.len(), header.len()),
            ));
        }
        if dated {
            let (c, text) = &cells[0];
            let Some(date) = parse_date(text) else {
                return Err(content(file, at + c, at + c + text.len(), format!("`{text}` is not a date (YYYY-MM-DD)")));
            };
            if let Some(p) = previous {
                if date != p.add_days(1) {
                    return Err(content(
                        file,
                        at + c,
                        at + c + text.len(),
                        format!("date {date} does not follow {p}: rows must be consecutive days"),
                    ));
                }
            }
            first_date.get_or_insert(date);
            previous = Some(date);
        }
        for ((c, text), column) in cells[skip..].iter().zip(&mut columns) {
            let value = if text.is_empty() {
                f64::NAN
            } else {
                text.parse::<f64>().map_err(|_| {
                    content(file, at + c, at + c + text.len(), format!("`{}` is not a number", text.escape_debug()))
                })?
            };
            column.push(value);
        }
        n_rows += 1;
    }
    Ok(Csv { headers, first_date, columns, rows: n_rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, dates: DateColumn) -> Result<Csv, String> {
        let file = Arc::new(SourceFile::new("d.csv", text));
        parse_csv(&file, dates).map_err(|e| match e {
            DataError::Content(d) => format!("{} {}", d.position().unwrap_or_default(), d.message),
            DataError::Io(e) => e.to_string(),
        })
    }

    #[test]
    fn dated_files_read_values_and_empty_cells_as_nan() {
        let csv = parse(
            "\u{feff}date,data.rain, \"Evap, mm\"\r\n2000-01-01,1.5,\r\n2000-01-02, -2 ,NaN\r\n\r\n",
            DateColumn::IfNamedDate,
        )
        .unwrap();
        assert_eq!(csv.headers, ["data.rain", "Evap, mm"]);
        assert_eq!(csv.first_date, Date::new(2000, 1, 1));
        assert_eq!(csv.columns[0], [1.5, -2.0]);
        assert!(csv.columns[1][0].is_nan() && csv.columns[1][1].is_nan());
        assert_eq!(csv.rows, 2);
    }

    #[test]
    fn undated_files_have_no_date_column_unless_it_is_first_by_rule() {
        let csv = parse("a,b\n1,2\n", DateColumn::IfNamedDate).unwrap();
        assert_eq!((csv.headers.len(), csv.first_date), (2, None));
        let csv = parse("Time,flow\n01/01/2000,2\n", DateColumn::First).unwrap();
        assert_eq!((csv.headers, csv.first_date), (vec!["flow".to_string()], Date::new(2000, 1, 1)));
    }

    #[test]
    fn bad_cells_are_errors_at_their_line_and_column() {
        assert_eq!(
            parse("date,x\n2000-01-01,1\n2000-01-02, 1.2.3\n", DateColumn::IfNamedDate),
            Err("d.csv:3:13 `1.2.3` is not a number".into())
        );
        assert_eq!(
            parse("date,x\n2000-01-01,1\n2000-01-03,1\n", DateColumn::IfNamedDate),
            Err("d.csv:3:1 date 2000-01-03 does not follow 2000-01-01: rows must be consecutive days".into())
        );
        assert_eq!(
            parse("date,x\n2000-13-01,1\n", DateColumn::IfNamedDate),
            Err("d.csv:2:1 `2000-13-01` is not a date (YYYY-MM-DD)".into())
        );
        assert_eq!(
            parse("a,b\n1\n", DateColumn::IfNamedDate),
            Err("d.csv:2:1 this row has 1 cells, the header has 2".into())
        );
        assert_eq!(parse("a,\"b\n1,2\n", DateColumn::IfNamedDate), Err("d.csv:1:3 unterminated `\"`".into()));
        assert_eq!(
            parse("", DateColumn::IfNamedDate),
            Err("d.csv:1:1 the data file is empty: expected a header line".into())
        );
    }

    #[test]
    fn headers_name_columns_by_name_and_index() {
        let h = Header { names: vec!["Rain (mm)".into(), "evap".into()] };
        assert!(h.provides("by_name.rain__mm_") && h.provides("by_index.2"));
        assert!(!h.provides("by_index.3") && !h.provides("by_index.0") && !h.provides("by_name.rain"));
    }
}
