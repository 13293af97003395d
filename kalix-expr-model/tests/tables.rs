//! Lookup tables from files, with a chosen interpolation and extrapolation: values against
//! hand computations, errors at the table file's line and column, and the run's report of
//! lookups outside a table's keys.

use std::path::Path;

use kalix_expr_model::{Data, Diagnostic, ModelFile, RunRange, Severity};

/// Writes `files` into a fresh folder and loads `model.ini` from it.
fn model(files: &[(&str, &str)]) -> (tempfile::TempDir, ModelFile) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let m = ModelFile::load(dir.path().join("model.ini")).unwrap();
    (dir, m)
}

/// Each series' column, and the run's warnings.
type Ran = (Vec<Vec<f64>>, Vec<Diagnostic>);

/// Runs `m` over `data.x` and returns each series' column.
fn run(m: &ModelFile, xs: &[f64]) -> Result<Ran, Vec<Diagnostic>> {
    let data = Data::from_columns(None, vec![("data.x".into(), xs.to_vec())])?;
    let compiled = m.compile()?;
    let range = RunRange { steps: Some(xs.len()), ..RunRange::default() };
    let results = compiled.run(&data, range)?;
    let names: Vec<String> = compiled.series_names().map(str::to_string).collect();
    let columns = names.iter().map(|n| results.column(n).unwrap().to_vec()).collect();
    Ok((columns, results.warnings().to_vec()))
}

fn place(d: &Diagnostic) -> (String, usize, usize) {
    let file = d.at.as_ref().map(|a| a.file.name()).unwrap_or_default();
    let file = Path::new(file).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    (file, d.line().unwrap_or(0), d.column().unwrap_or(0))
}

/// The check's diagnostics, but for the warnings of unused tables.
fn problems(m: &ModelFile) -> Vec<Diagnostic> {
    m.check().diagnostics.into_iter().filter(|d| !d.message.ends_with("is never used")).collect()
}

const LEVELS: &str = "# storage curve\nlevel, volume\n0, 0\n1, 100\n2, 400\n";
const PUMP: &str = "head, 10, 20\n0, 0, 0\n5, 50, 80\n10, 60, 100\n";

#[test]
fn a_table_file_gives_what_the_same_values_inline_give() {
    let (_dir, m) = model(&[
        ("levels.csv", LEVELS),
        ("pump.csv", PUMP),
        (
            "model.ini",
            "[table.f]\nfile = levels.csv\n[table.i]\nvalues = level, volume, 0, 0, 1, 100, 2, 400\n\
             [table.p]\nfile = pump.csv\n[table.q]\nn_cols = 3\nvalues = head, 10, 20, 0, 0, 0, 5, 50, 80, 10, 60, 100\n\
             [var.t]\nf = table.f(data.x)\ni = table.i(data.x)\np = table.p(20, data.x * 4)\nq = table.q(20, data.x * 4)\n",
        ),
    ]);
    assert!(problems(&m).is_empty(), "{:?}", problems(&m));
    let xs = [-1.0, 0.0, 0.25, 1.0, 1.5, 2.0, 7.0, f64::NAN];
    let (cols, _) = run(&m, &xs).unwrap();
    for (a, b) in [(0, 1), (2, 3)] {
        for (x, y) in cols[a].iter().zip(&cols[b]) {
            assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()), "{x} vs {y}");
        }
    }
    assert_eq!(&cols[0][..7], &[0.0, 0.0, 25.0, 100.0, 250.0, 400.0, 400.0]);
    // Column 20 at heads -4, 0, 1, 4, 6, 8, 28: clamped below 0 and above 10.
    assert_eq!(&cols[2][..7], &[0.0, 0.0, 16.0, 64.0, 84.0, 92.0, 100.0]);
}

#[test]
fn each_interpolation_and_extrapolation_gives_the_hand_computed_values() {
    let (_dir, m) = model(&[
        ("levels.csv", LEVELS),
        ("pump.csv", PUMP),
        (
            "model.ini",
            "[table.lin]\nfile = levels.csv\nextrapolation = linear\n\
             [table.step]\nfile = levels.csv\ninterpolation = step\n\
             [table.bilinear]\nfile = pump.csv\ninterpolation = linear\ncolumn_interpolation = linear\n\
             [table.colstep]\nfile = pump.csv\ncolumn_interpolation = step\n\
             [var.t]\nlin = table.lin(data.x)\nstep = table.step(data.x)\n\
             bi = table.bilinear(15, data.x * 4)\ncs = table.colstep(17, data.x * 4)\n",
        ),
    ]);
    let xs = [-1.0, 0.5, 1.0, 1.75, 2.0, 3.0];
    let (cols, _) = run(&m, &xs).unwrap();
    // Linear, extended past both ends by the end segments (slopes 100 and 300).
    assert_eq!(cols[0], [-100.0, 50.0, 100.0, 325.0, 400.0, 700.0]);
    // Step: the value of the next-lower key, held at the ends.
    assert_eq!(cols[1], [0.0, 0.0, 100.0, 100.0, 400.0, 400.0]);
    // Bilinear at column 15, halfway between columns 10 and 20, heads -4, 2, 4, 7, 8, 12.
    let col10 = |h: f64| {
        if h <= 0.0 {
            0.0
        } else if h <= 5.0 {
            10.0 * h
        } else {
            50.0 + 2.0 * (h.min(10.0) - 5.0)
        }
    };
    let col20 = |h: f64| {
        if h <= 0.0 {
            0.0
        } else if h <= 5.0 {
            16.0 * h
        } else {
            80.0 + 4.0 * (h.min(10.0) - 5.0)
        }
    };
    let want: Vec<f64> = xs.iter().map(|x| (col10(x * 4.0) + col20(x * 4.0)) / 2.0).collect();
    assert_eq!(cols[2], want);
    // Column key 17 steps down to column 10.
    let want: Vec<f64> = xs.iter().map(|x| col10(x * 4.0)).collect();
    assert_eq!(cols[3], want);
}

#[test]
fn an_exact_table_refuses_a_key_it_does_not_have_naming_the_nearest() {
    let (_dir, m) = model(&[(
        "model.ini",
        "[table.codes]\nvalues = 1, 10, 2, 20, 5, 50\ninterpolation = exact\n[var.t]\nc = table.codes(data.x)\n",
    )]);
    let (cols, _) = run(&m, &[1.0, 5.0]).unwrap();
    assert_eq!(cols[0], [10.0, 50.0]);
    let errors = run(&m, &[2.0, 3.0]).unwrap_err();
    let text = errors[0].to_string();
    assert!(text.contains("`table.codes` has no row with key 3 (nearest keys: 2, 5)"), "{text}");
    assert!(text.contains("step 1 (2000-01-02)"), "{text}");
    assert!(errors[0].help_text().is_some_and(|h| h.contains("`step`")), "{text}");
}

#[test]
fn extrapolation_error_stops_the_run_at_the_first_lookup_outside_the_keys() {
    let (_dir, m) = model(&[(
        "model.ini",
        "[table.curve]\nvalues = 0, 0, 10, 100\nextrapolation = error\n[var.t]\nc = table.curve(data.x)\n",
    )]);
    let (cols, _) = run(&m, &[0.0, 10.0, 2.5]).unwrap();
    assert_eq!(cols[0], [0.0, 100.0, 25.0]);
    let errors = run(&m, &[1.0, 1.0, 12.0, -3.0]).unwrap_err();
    let text = errors[0].to_string();
    assert!(text.contains("`table.curve` is looked up at 12, outside its row keys (0 to 10)"), "{text}");
    assert!(text.contains("step 2 (2000-01-03)"), "{text}");
}

#[test]
fn a_run_reports_once_per_table_how_often_it_clamped_or_extrapolated() {
    let (_dir, m) = model(&[(
        "model.ini",
        "[table.a]\nvalues = 0, 0, 10, 100\nextrapolation = clamp\n[table.b]\nvalues = 0, 0, 10, 100\n\
         extrapolation = linear\n[table.quiet]\nvalues = 0, 0, 10, 100\n\
         [var.t]\na = table.a(data.x)\nb = table.b(data.x) + table.b(data.x - 20)\nq = table.quiet(data.x)\n",
    )]);
    let (cols, warnings) = run(&m, &[5.0, 11.0, 12.0, -1.0]).unwrap();
    assert_eq!(cols[0], [50.0, 100.0, 100.0, 0.0]);
    assert_eq!(cols[1], [50.0 - 150.0, 110.0 - 90.0, 120.0 - 80.0, -10.0 - 210.0]);
    let messages: Vec<&str> = warnings.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`table.a`: 3 lookups outside its keys clamped, the first on 2000-01-02",
            "`table.b`: 7 lookups outside its keys extrapolated, the first on 2000-01-01",
        ]
    );
    assert!(warnings.iter().all(|d| d.severity == Severity::Warning));
    assert_eq!(place(&warnings[0]).1, 1, "at the table's section");
}

#[test]
fn table_file_problems_are_reported_at_the_files_line_and_column() {
    let (_dir, m) = model(&[
        ("ragged.csv", "x, y\n0, 0\n1, 2, 3\n"),
        ("bad.csv", "0, 0\n1, lots\n"),
        ("unordered.csv", "0, 0\n5, 1\n3, 2\n"),
        ("empty.csv", "# nothing\n\n"),
        (
            "model.ini",
            "[table.r]\nfile = ragged.csv\n[table.b]\nfile = bad.csv\n[table.u]\nfile = unordered.csv\n\
             [table.m]\nfile = missing.csv\n[table.e]\nfile = empty.csv\n[table.n]\nfile = bad.csv\nn_cols = 3\n\
             [table.both]\nfile = bad.csv\nvalues = 0, 0\n",
        ),
    ]);
    let found: Vec<(String, usize, usize, String)> = problems(&m)
        .iter()
        .map(|d| {
            let (f, l, c) = place(d);
            (f, l, c, d.message.clone())
        })
        .collect();
    let want = [
        ("ragged.csv", 3, 1, "in `table.r`: this row has 3 cells, but row 1 has 2"),
        ("bad.csv", 2, 4, "in `table.b`: cell 4 `lots` is not a finite number"),
        ("unordered.csv", 3, 1, "in `table.u`: keys must be strictly ascending, but 3 follows 5"),
        ("model.ini", 8, 8, "the file of `table.m` does not exist"),
        ("model.ini", 10, 8, "the file of `table.e` has no rows"),
        ("model.ini", 13, 10, "`n_cols = 3`, but the rows of `bad.csv` have 2 cells"),
        ("model.ini", 15, 8, "`table.both` has both `values` and `file`"),
    ];
    assert_eq!(found.len(), want.len(), "{found:#?}");
    for (wf, wl, wc, wm) in want {
        let Some((file, line, col, _)) = found.iter().find(|f| f.3.starts_with(wm)) else {
            panic!("no `{wm}` in {found:#?}")
        };
        assert_eq!((file.as_str(), *line, *col), (wf, wl, wc), "{wm}");
    }
}

#[test]
fn unknown_options_are_errors_with_the_nearest_word() {
    let (_dir, m) = model(&[(
        "model.ini",
        "[table.t]\nvalues = 0, 0, 1, 1\ninterpolation = lienar\nextrapolation = clip\ninterpolaton = step\n\
         column_interpolation = linear\n",
    )]);
    let report = problems(&m);
    let found: Vec<(Severity, &str, Option<&str>)> =
        report.iter().map(|d| (d.severity, d.message.as_str(), d.help_text())).collect();
    assert_eq!(found[0].1, "unknown interpolation `lienar`");
    assert!(found[0].2.is_some_and(|h| h.starts_with("did you mean `linear`?")), "{found:?}");
    assert_eq!(found[1].1, "unknown extrapolation `clip`");
    assert_eq!((found[2].0, found[2].1), (Severity::Warning, "unknown table key `interpolaton`"));
    assert_eq!(found[2].2, Some("did you mean `interpolation`?"));
    assert!(found[3].1.contains("1D table: `column_interpolation` has no effect"), "{found:?}");
    assert_eq!(found.len(), 4, "{found:?}");
}

#[test]
fn kexpr_check_reads_the_table_files_relative_to_the_model() {
    let (dir, _) = model(&[("model.ini", "[var.t]\nx = 1\n")]);
    std::fs::create_dir(dir.path().join("tables")).unwrap();
    std::fs::write(dir.path().join("tables/levels.csv"), LEVELS).unwrap();
    std::fs::write(dir.path().join("model.ini"), "[table.l]\nfile = tables/levels.csv\n[var.t]\nx = table.l(1.5)\n")
        .unwrap();
    let m = ModelFile::load(dir.path().join("model.ini")).unwrap();
    assert!(problems(&m).is_empty());
    assert_eq!(m.tables[0].table.lookup1(1.5), 250.0);
    assert!(Path::new(&dir.path().join("tables/levels.csv")).exists());
}
