//! `kexpr check` and `kexpr run` on model files, as a user runs them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn kexpr_env<S: AsRef<OsStr>>(args: &[S], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kexpr"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().expect("kexpr was killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn kexpr<S: AsRef<OsStr>>(args: &[S]) -> Run {
    kexpr_env(args, &[])
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Writes `text` to `dir/name` and returns the path as a string.
fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// 1-based line and column (in chars) of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in the text"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, column)
}

/// The JSON diagnostics of `kexpr check --format json`, as `(severity, line, column, message)`.
fn json_problems(run: &Run) -> Vec<(String, u64, u64, String)> {
    let items: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["severity"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

// ---- check ----

#[test]
fn the_bundled_example_checks_clean() {
    let model = root().join("examples/model/creek.ini");
    let run = kexpr(&[OsStr::new("check"), model.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.ends_with(": 0 errors, 0 warnings (11 expressions checked)\n"), "{}", run.stdout);
}

#[test]
fn real_kalix_models_check_without_errors() {
    let folder = root().join("../shared/kalix-models");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        eprintln!("note: {} is absent; the real Kalix models are not checked", folder.display());
        return;
    };
    let mut models: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "ini")).collect();
    models.sort();
    assert!(!models.is_empty(), "no models in {}", folder.display());
    for model in &models {
        let run = kexpr(&[OsStr::new("check"), model.as_os_str()]);
        assert_eq!(run.code, 0, "{}:\n{}", model.display(), run.stdout);
        assert!(run.stdout.contains(": 0 errors, "), "{}:\n{}", model.display(), run.stdout);
        let json = kexpr(&[OsStr::new("check"), model.as_os_str(), OsStr::new("--format"), OsStr::new("json")]);
        assert_eq!(json.code, 0);
        assert!(json_problems(&json).iter().all(|p| p.0 == "warning"), "{}", json.stdout);
    }
}

#[test]
fn seeded_mistakes_are_reported_at_their_line_and_column() {
    let original = std::fs::read_to_string(root().join("examples/model/creek.ini")).unwrap();
    let seeds = [
        ("fn.megalitres(fn.effective", "fn.megalitre(fn.effective"),
        ("moving_mean(data.rain, 7, 0)", "moving_mean(data.rain, 7)"),
        ("min(const.pump_capacity,", "min(const.pump_capacty,"),
        ("before = this[-1, 120];", "before = this;"),
        ("max(0.05 * this.usflow, 20)", "max(0.05 * this.usflow., 20)"),
    ];
    let mut text = original.clone();
    for (from, to) in seeds {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "creek.ini", &text);
    let run = kexpr(&["check", &path, "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let at = |needle: &str| {
        let (l, c) = position(&text, needle);
        (l as u64, c as u64)
    };
    let expected = [
        ("error", at("fn.megalitre("), "unknown function `fn.megalitre`"),
        ("error", at("moving_mean(data.rain, 7)"), "`moving_mean` takes 3 arguments, found 2"),
        ("error", at("this;"), "`this` is read before it is computed in the step: it is itself"),
        ("error", at("const.pump_capacty"), "unknown variable `const.pump_capacty`"),
        ("warning", at("this.usflow., 20"), "`this.usflow.` ends with a dot"),
    ];
    let found = json_problems(&run);
    for (severity, (line, column), message) in expected {
        assert!(
            found.iter().any(|p| p.0 == severity && (p.1, p.2) == (line, column) && p.3 == message),
            "{severity} {line}:{column} {message} not in {found:#?}"
        );
    }
    // The same, as text: `--> file:line:column`, the line, a caret, the help.
    let human = kexpr(&["check", &path]);
    assert_eq!(human.code, 1);
    let (line, column) = position(&text, "fn.megalitre(");
    let block = format!(
        "error: unknown function `fn.megalitre`\n  --> {path}:{line}:{column}\n   |\n{line} | runoff = fn.megalitre(fn.effective_rain(data.rain, const.initial_loss_mm), const.area_km2)\n   |          ^^^^^^^^^^^^\n   |\n   = help: did you mean `fn.megalitres`?\n"
    );
    assert!(human.stdout.contains(&block), "{}", human.stdout);
    // The typos leave `fn.megalitres` and `const.pump_capacity` unused: two more warnings.
    assert!(human.stdout.ends_with(": 4 errors, 3 warnings (11 expressions checked)\n"), "{}", human.stdout);
}

#[test]
fn a_typo_in_a_real_model_is_found_on_its_line() {
    let model = root().join("../shared/kalix-models/regression_tests_speed_3_unregulated_users_with_functions.ini");
    let Ok(original) = std::fs::read_to_string(&model) else {
        eprintln!("note: {} is absent; skipped", model.display());
        return;
    };
    // Line 39 of the file: `pump = max(0, min(15.9, this.usflow - 615), min(24.2, …), …)`.
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    let column = lines[38].find("min(24.2").unwrap() + 1;
    lines[38] = lines[38].replacen("min(24.2", "mni(24.2", 1);
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "model.ini", &(lines.join("\n") + "\n"));
    let run = kexpr(&["check", &path]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(&format!("error: unknown function `mni`\n  --> {path}:39:{column}\n")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("= help: did you mean `min`?"), "{}", run.stdout);
}

#[test]
fn check_reports_every_kind_of_problem_at_once() {
    let text = "\
[kalix]
start = 2000-01-01

[data]
climate.csv

[const]
const.k = 1.5
const.unused = 2

[fn]
twice(x) = x * 2
never(x) = x + var.b.nothere
a(x) = fn.b(x)
b(x) = fn.a(x)

[table.curve]
values = 0, 0,
         10, 100,

[var.b]
p = fn.twice(data.climate_csv.by_name.rain) * const.k + var.b.q
q = max(0, lg10(data.evap.), const.kk)
r = { t = sim.mnth;
      t + nope }

[node.dam]
type = storage
evap = this.volume * 0.1 + this.usflow[1, 0]
observed = 1

[node.x]
type = reservoir
";
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "m.ini", text);
    let run = kexpr(&["check", &path, "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let p = |needle: &str| {
        let (l, c) = position(text, needle);
        (l as u64, c as u64)
    };
    let expected: Vec<(&str, (u64, u64), &str)> = vec![
        ("warning", p("climate.csv"), "data file `climate.csv` not found"),
        ("warning", p("const.unused"), "constant `const.unused` is never used"),
        ("warning", p("never"), "function `fn.never` is never called"),
        // In the body of a function nothing calls: Kalix loads such a model, so a warning.
        ("warning", p("var.b.nothere"), "unknown variable `var.b.nothere`"),
        ("error", p("a(x)"), "recursive functions: fn.a -> fn.b -> fn.a"),
        ("warning", p("table.curve]"), "table `table.curve` is never used"),
        (
            "error",
            p("var.b.q"),
            "`var.b.q` is read before it is computed in the step: it is a series computed later in the step",
        ),
        ("error", p("lg10"), "unknown function `lg10`"),
        ("warning", p("data.evap."), "`data.evap.` ends with a dot"),
        ("error", p("const.kk"), "unknown variable `const.kk`"),
        ("error", p("sim.mnth"), "unknown variable `sim.mnth`"),
        ("error", p("nope"), "unknown variable `nope`"),
        (
            "error",
            p("this.usflow[1, 0]"),
            "`node.dam.usflow` cannot take an offset of 1: computed series cannot look forward",
        ),
        ("warning", p("observed"), "`observed` is not a property of node type `storage`"),
        ("warning", p("reservoir"), "unknown node type `reservoir`"),
    ];
    let found = json_problems(&run);
    let expected: Vec<(String, u64, u64, String)> =
        expected.into_iter().map(|(s, (l, c), m)| (s.to_string(), l, c, m.to_string())).collect();
    assert_eq!(found, expected);
    // Every field is there, in the documented order, and help is null or a string.
    let first = run.stdout.lines().skip(1).take(9).map(str::trim).collect::<Vec<_>>().join(" ");
    assert!(first.starts_with("{ \"file\": \""), "{first}");
    for key in ["\"line\"", "\"column\"", "\"end_line\"", "\"end_column\"", "\"severity\"", "\"message\"", "\"help\""] {
        assert!(first.contains(key), "{key} in {first}");
    }
}

#[test]
fn warnings_alone_exit_0() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "m.ini", "[const]\nconst.k = 1\n[var.b]\nx = 2\n");
    let run = kexpr(&["check", &path]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.starts_with("warning: constant `const.k` is never used\n"), "{}", run.stdout);
    assert!(run.stdout.ends_with("m.ini: 0 errors, 1 warning (1 expression checked)\n"), "{}", run.stdout);
}

#[test]
fn an_unreadable_model_file_exits_2() {
    let run = kexpr(&["check", "/nonexistent/model.ini"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("error: cannot read `/nonexistent/model.ini`: "), "{}", run.stderr);
    let dir = TempDir::new().unwrap();
    let run = kexpr(&[OsStr::new("check"), dir.path().as_os_str()]);
    assert_eq!(run.code, 2, "a folder");
}

#[test]
fn hostile_model_files_give_errors_not_crashes() {
    let dir = TempDir::new().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("utf8.ini", b"[var.b]\nx = 1\ny = \xff\n".to_vec(), ":3:5\n"),
        ("nul.ini", b"[var.b]\nx = 1\0\n".to_vec(), ":2:6\n"),
        ("quote.ini", b"[var.b]\nx = \"1 # 2\n".to_vec(), ":2:5\n"),
        ("truncated.ini", b"[var.b]\nx = { a = 1;\n    assert(a > 0".to_vec(), ":3:11\n"),
        ("header.ini", b"[var.b\nx = 1".to_vec(), ":1:1\n"),
        // Longer than the core's expression limit, which it reports where the limit is reached.
        ("long.ini", format!("[var.b]\nx = {}1\n", "1 + ".repeat(100_000)).into_bytes(), ":2:65541\n"),
    ];
    for (name, bytes, at) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let run = kexpr(&[OsStr::new("check"), path.as_os_str()]);
        assert_eq!(run.code, 1, "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.starts_with("error: "), "{name}: {}", run.stdout);
        assert!(run.stdout.contains(&format!("{}{at}", path.display())), "{name}: {}", run.stdout);
    }
    // 100 MB (sparse, so the test stays quick): refused before it is read.
    let big = dir.path().join("big.ini");
    std::fs::File::create(&big).unwrap().set_len(100 * 1024 * 1024).unwrap();
    let run = kexpr(&[OsStr::new("check"), big.as_os_str()]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.starts_with("error: the model file is larger than the limit of 16 MiB\n"), "{}", run.stdout);
}

#[test]
fn environment_variables_fill_values() {
    let dir = TempDir::new().unwrap();
    write(&dir, "in.csv", "date,x\n2000-01-01,4\n");
    let path = write(&dir, "m.ini", "[data]\n${INPUTS}/in.csv\n[var.b]\ny = data.in_csv.by_name.x * ${SCALE:-10}\n");
    let inputs = dir.path().to_str().unwrap();
    let run = kexpr_env(&["run", &path], &[("INPUTS", inputs)]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "date,var.b.y\n2000-01-01,40\n"), "{}", run.stderr);
    let run = kexpr_env(&["run", &path], &[("INPUTS", inputs), ("SCALE", "3")]);
    assert_eq!(run.stdout, "date,var.b.y\n2000-01-01,12\n");
    let run = kexpr(&["check", &path]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(&format!("error: environment variable `INPUTS` is not set\n --> {path}:2:1\n")),
        "{}",
        run.stdout
    );
}

// ---- run ----

const SMALL: &str = "\
[const]
const.k = 0.1

[fn]
half(x) = x / 2

[table.t]
values = 0, 0,
         10, 3,

[var.b]
a = data.x * const.k
s = sum_since(data.x, sim.new_month)
p = this[-1, 1] * 3 + fn.half(var.b.a)
m = moving_mean(data.x, 2, 0)
l = table.t(data.x)

[node.n]
type = inflow
inflow = var.b.a + this.usflow[-1, 0.5]
";

#[test]
fn run_outputs_match_values_computed_by_hand_bit_for_bit() {
    let dir = TempDir::new().unwrap();
    let model = write(&dir, "m.ini", SMALL);
    let data = write(&dir, "in.csv", "date,data.x,node.n.usflow\n2000-01-30,1.5,7\n2000-01-31,2.25,8\n2000-02-01,,9\n");
    let run = kexpr(&["run", &model, "--data", &data]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let x = [1.5, 2.25, f64::NAN];
    let usflow = [7.0, 8.0, 9.0];
    let a: Vec<f64> = x.iter().map(|x| x * 0.1).collect();
    let s = [1.5, 1.5 + 2.25, f64::NAN];
    let mut p = [0.0; 3];
    for t in 0..3 {
        let before = if t == 0 { 1.0 } else { p[t - 1] };
        p[t] = before * 3.0 + a[t] / 2.0;
    }
    let m = [(0.0 + 1.5) / 2.0, (1.5 + 2.25) / 2.0, f64::NAN];
    let l: Vec<f64> = x.iter().map(|x| 0.0 + ((x - 0.0) * (3.0 - 0.0)) / (10.0 - 0.0)).collect();
    let inflow = [a[0] + 0.5, a[1] + usflow[0], a[2] + usflow[1]];
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("date,var.b.a,var.b.s,var.b.p,var.b.m,var.b.l,node.n.inflow"));
    for (t, date) in ["2000-01-30", "2000-01-31", "2000-02-01"].iter().enumerate() {
        let line = lines.next().unwrap();
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], *date);
        for (cell, want) in cells[1..].iter().zip([a[t], s[t], p[t], m[t], l[t], inflow[t]]) {
            let got: f64 = cell.parse().unwrap_or_else(|_| panic!("{cell} in {line}"));
            assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{got} != {want} in {line}");
        }
    }
    assert_eq!(lines.next(), None);
}

#[test]
fn values_print_in_plain_decimal_up_to_exponent_20() {
    let dir = TempDir::new().unwrap();
    let model = write(&dir, "m.ini", "[var.b]\na = 1000\nb = 1e21\nc = 1e-7\nd = 0.000001\ne = 0 / 0\nf = -1 / 0\n");
    let run = kexpr(&["run", &model, "--steps", "1"]);
    assert_eq!(
        run.stdout,
        "date,var.b.a,var.b.b,var.b.c,var.b.d,var.b.e,var.b.f\n2000-01-01,1000,1e21,1e-7,0.000001,NaN,-inf\n"
    );
}

#[test]
fn without_inputs_start_and_steps_define_the_run() {
    let dir = TempDir::new().unwrap();
    let text = "[var.cal]\nday = sim.day\nleap = sim.is_leap\n";
    let model = write(&dir, "m.ini", text);
    let run = kexpr(&["run", &model, "--start", "2000-02-28", "--steps", "3"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "date,var.cal.day,var.cal.leap\n2000-02-28,28,1\n2000-02-29,29,1\n2000-03-01,1,1\n")
    );
    // The default start is 2000-01-01; `[kalix] start` overrides it; `[kalix] end` gives the steps.
    let run = kexpr(&["run", &model, "--steps", "1"]);
    assert_eq!(run.stdout.lines().nth(1), Some("2000-01-01,1,1"));
    let model = write(&dir, "k.ini", &format!("[kalix]\nstart = 1999-12-30\nend = 2000-01-01\n{text}"));
    let run = kexpr(&["run", &model]);
    assert_eq!(run.stdout, "date,var.cal.day,var.cal.leap\n1999-12-30,30,0\n1999-12-31,31,0\n2000-01-01,1,1\n");
    // With neither inputs, --steps nor `[kalix] end`, nothing says how long to run.
    let model = write(&dir, "n.ini", text);
    let run = kexpr(&["run", &model]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("give --steps N"), "{}", run.stderr);
}

#[test]
fn start_and_steps_select_from_dated_inputs() {
    let dir = TempDir::new().unwrap();
    let model = write(&dir, "m.ini", "[var.b]\ny = data.x * 2\n");
    let data = write(&dir, "in.csv", "date,data.x\n2000-01-01,1\n2000-01-02,2\n2000-01-03,3\n");
    let run = kexpr(&["run", &model, "--data", &data, "--start", "2000-01-02"]);
    assert_eq!(run.stdout, "date,var.b.y\n2000-01-02,4\n2000-01-03,6\n");
    // A run past the data is refused, naming the input, its dates and the run's ...
    let run = kexpr(&["run", &model, "--data", &data, "--start", "2000-01-03", "--steps", "2"]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    assert!(
        run.stderr.starts_with(&format!(
            "error: input `data.x` has data from 2000-01-01 to 2000-01-03 (3 rows) in `{data}`, but the run is from 2000-01-03 to 2000-01-04"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.ends_with(": 1 error\n"), "{}", run.stderr);
    // ... and so is one that starts before it; reading NaN there must be asked for.
    let run = kexpr(&["run", &model, "--data", &data, "--start", "1800-01-01", "--steps", "2"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = kexpr(&["run", &model, "--data", &data, "--start", "2000-01-03", "--steps", "2", "--nan-outside-data"]);
    assert_eq!(run.stdout, "date,var.b.y\n2000-01-03,6\n2000-01-04,NaN\n");
    // Undated inputs start at the run's start.
    let data = write(&dir, "plain.csv", "DATA.X\n5\n6\n");
    let run = kexpr(&["run", &model, "--data", &data, "--start", "2010-05-01", "--quiet"]);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("date,var.b.y\n2010-05-01,10\n2010-05-02,12\n", ""));
}

#[test]
fn check_reads_a_model_from_stdin_named_by_path() {
    let dir = TempDir::new().unwrap();
    write(&dir, "rain.csv", "date,mm\n2000-01-01,1\n");
    let path = dir.path().join("draft.ini");
    let text = "[data]\nrain.csv\n[var.b]\nx = data.rain_csv.by_name.mm + sim.stpe\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_kexpr"))
        .args(["check", "-", "--path", path.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // Named by --path, and its `[data]` file found beside it (no "not found" warning).
    assert!(stdout.contains(&format!(" --> {}:4:32", path.display())), "{stdout}");
    assert!(stdout.ends_with(": 1 error, 0 warnings (1 expression checked)\n"), "{stdout}");
}

#[test]
fn the_default_run_is_the_period_every_input_covers() {
    let dir = TempDir::new().unwrap();
    let model = write(&dir, "m.ini", "[var.b]\ny = data.x + data.z\n");
    let x = write(&dir, "x.csv", "date,data.x\n2000-01-01,1\n2000-01-02,2\n2000-01-03,3\n");
    let z = write(&dir, "z.csv", "date,data.z\n2000-01-02,10\n2000-01-03,20\n2000-01-04,30\n");
    let run = kexpr(&["run", &model, "--data", &x, "--data", &z]);
    assert_eq!(run.stdout, "date,var.b.y\n2000-01-02,12\n2000-01-03,23\n", "{}", run.stderr);
}

#[test]
fn a_data_column_no_expression_reads_is_a_warning_with_the_likely_input() {
    let dir = TempDir::new().unwrap();
    let model = write(&dir, "m.ini", "[var.b]\ny = data.rain * 2 + data.evap\n");
    let data = write(&dir, "in.csv", "data.rian,data.evap\n1,2\n");
    let run = kexpr(&["run", &model, "--data", &data]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("error: no data for input `data.rain`"), "{}", run.stderr);
    assert!(run.stderr.contains("a `--data` file has a column `data.rian`"), "{}", run.stderr);
    let data = write(&dir, "ok.csv", "data.rain,data.evap,data.spare\n1,2,3\n");
    let run = kexpr(&["run", &model, "--data", &data]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "date,var.b.y\n2000-01-01,4\n"), "{}", run.stderr);
    assert!(run.stderr.starts_with("warning: column `data.spare` of "), "{}", run.stderr);
}

#[test]
fn data_section_files_are_named_as_kalix_names_them() {
    let dir = TempDir::new().unwrap();
    write(&dir, "Climate Data.csv", "Date,Rain (mm),evap\n2001-03-01,2,5\n2001-03-02,4,6\n");
    let text = "[data]\nClimate Data.csv\nclim = Climate Data.csv\n[var.b]\nr = data.climate_data_csv.by_name.rain__mm_\ne = data.climate_data_csv.by_index.2\nz = data.clim.by_index.1 + sim.day\n";
    let model = write(&dir, "m.ini", text);
    let run = kexpr(&["run", &model]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "date,var.b.r,var.b.e,var.b.z\n2001-03-01,2,5,3\n2001-03-02,4,6,6\n"),
        "{}",
        run.stderr
    );
    // A `--data` column of the same name takes precedence.
    let data = write(&dir, "over.csv", "data.climate_data_csv.by_index.2\n50\n60\n");
    let run = kexpr(&["run", &model, "--data", &data]);
    assert_eq!(run.stdout.lines().nth(1), Some("2001-03-01,2,50,3"));
    // In check, a column the file does not have is a warning with a suggestion.
    let model =
        write(&dir, "typo.ini", "[data]\nClimate Data.csv\n[var.b]\nr = data.climate_data_csv.by_name.rain_mm\n");
    let run = kexpr(&["check", &model]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("warning: `data.climate_data_csv.by_name.rain_mm` is not a column of its data file"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("did you mean `data.climate_data_csv.by_name.rain__mm_`?"), "{}", run.stdout);
}

#[test]
fn a_failed_assert_exits_2_naming_the_place_the_step_and_the_date() {
    let dir = TempDir::new().unwrap();
    let text =
        "[var.b]\ntotal = this[-1, 0] + data.x\ncheck = { t = var.b.total;\n          assert(t < 10);\n          t }\n";
    let model = write(&dir, "m.ini", text);
    let data = write(&dir, "in.csv", "date,data.x\n2000-01-01,4\n2000-01-02,5\n2000-01-03,6\n");
    let out = dir.path().join("out.csv");
    std::fs::write(&out, "old results\n").unwrap();
    let run =
        kexpr(&[OsStr::new("run"), model.as_ref(), "--data".as_ref(), data.as_ref(), "-o".as_ref(), out.as_os_str()]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    assert!(run.stderr.starts_with("error: assertion failed: `"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!(" --> {model}:4:")), "{}", run.stderr);
    assert!(run.stderr.contains("4 |           assert(t < 10);\n"), "{}", run.stderr);
    assert!(run.stderr.contains("  = note: at step 2 (2000-01-03), in `var.b.check`\n"), "{}", run.stderr);
    // The earlier output is untouched and no temporary file is left.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old results\n");
    let left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.iter().all(|n| !n.contains(".tmp")), "{left:?}");
}

#[test]
fn a_two_d_table_key_miss_exits_2() {
    let dir = TempDir::new().unwrap();
    let text = "[table.rule]\nn_cols = 3\nvalues = x, 1, 2,\n 0, 0, 0,\n 100, 50, 30\n[var.b]\np = table.rule(sim.month, 50)\n";
    let model = write(&dir, "m.ini", text);
    let run = kexpr(&["run", &model, "--start", "2000-02-27", "--steps", "5"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("error: `table.rule` has no column with key 3 (column keys: 1, 2)\n"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&format!(" --> {model}:7:5\n")), "{}", run.stderr);
    assert!(run.stderr.contains("= note: at step 3 (2000-03-01), in `var.b.p`"), "{}", run.stderr);
}

#[test]
fn the_output_file_is_written_whole() {
    let dir = TempDir::new().unwrap();
    let model = write(&dir, "m.ini", "[var.b]\nx = sim.step\n");
    let out = dir.path().join("out.csv");
    let run = kexpr(&[
        OsStr::new("run"),
        model.as_ref(),
        "--steps".as_ref(),
        "2".as_ref(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (0, "", ""));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "date,var.b.x\n2000-01-01,0\n2000-01-02,1\n");
    let run = kexpr(&["run", &model, "--steps", "2", "--output", "/nonexistent/out.csv"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("error: cannot write `/nonexistent/out.csv`: "), "{}", run.stderr);
}

#[test]
fn a_needed_input_without_a_column_is_an_error_naming_it() {
    let dir = TempDir::new().unwrap();
    let text = "[node.u]\ntype = unregulated_user\npump = max(0, this.usflow - 84) + data.rain\n";
    let model = write(&dir, "m.ini", text);
    let data = write(&dir, "in.csv", "data.rain\n1\n");
    let run = kexpr(&["run", &model, "--data", &data]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    assert!(
        run.stderr.starts_with(&format!("error: no data for input `node.u.usflow`\n --> {model}:3:15\n")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("= help: supply it as a CSV column named `node.u.usflow`"), "{}", run.stderr);
}

#[test]
fn bad_input_data_names_the_file_line_and_column() {
    let dir = TempDir::new().unwrap();
    let model = write(&dir, "m.ini", "[var.b]\ny = data.x\n");
    let data = write(&dir, "in.csv", "date,data.x\n2000-01-01,1\n2000-01-02,one\n");
    let run = kexpr(&["run", &model, "--data", &data]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with(&format!("error: `one` is not a number\n --> {data}:3:12\n")), "{}", run.stderr);
    let run = kexpr(&["run", &model, "--data", "/nonexistent.csv"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("error: cannot read `/nonexistent.csv`: "), "{}", run.stderr);
    let again = write(&dir, "again.csv", "DATA.x\n1\n");
    let run = kexpr(&["run", &model, "--data", &data, "--data", &again]);
    assert_eq!(run.code, 2);
}

#[test]
fn a_model_with_errors_does_not_run() {
    let dir = TempDir::new().unwrap();
    let model = write(&dir, "m.ini", "[var.b]\ny = lg10(2)\n");
    let run = kexpr(&["run", &model, "--steps", "1"]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(run.stderr.starts_with(&format!("error: unknown function `lg10`\n --> {model}:2:5\n")), "{}", run.stderr);
}

#[test]
fn the_bundled_example_runs_sixty_days() {
    let dir = root().join("examples/model");
    let run = kexpr(&[
        OsStr::new("run"),
        dir.join("creek.ini").as_os_str(),
        OsStr::new("--data"),
        dir.join("creek.csv").as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 61);
    assert!(lines[0].starts_with("date,var.catchment.runoff,"), "{}", lines[0]);
    assert!(lines[1].starts_with("2024-01-01,") && lines[60].starts_with("2024-02-29,"));
}

#[test]
fn run_gives_the_same_csv_on_the_jit_and_the_interpreter() {
    // 1,500 days of the example's inputs: past the JIT's warm-up of 1,000 steps.
    let calendar = kalix_expr::Calendar::daily(kalix_expr::Date::new(2024, 1, 1).unwrap());
    let mut csv = String::from("date,data.rain,data.evap,node.pump_station.usflow\n");
    for t in 0..1500 {
        let rain = if t % 7 == 0 { 12.5 } else { (t % 5) as f64 * 0.4 };
        let flow = 40.0 + ((t as f64) * 0.05).sin() * 30.0;
        csv.push_str(&format!("{},{rain},{},{flow}\n", calendar.date(t), 4.0 + (t % 3) as f64));
    }
    let dir = TempDir::new().unwrap();
    let data = write(&dir, "long.csv", &csv);
    let model = root().join("examples/model/creek.ini");
    let model = model.to_str().unwrap();
    let jit = kexpr(&["run", model, "--data", &data, "--engine", "jit", "--quiet"]);
    let interp = kexpr(&["run", model, "--data", &data, "--engine", "interp", "--quiet"]);
    assert_eq!(jit.code, 0, "{}", jit.stderr);
    assert_eq!(interp.code, 0, "{}", interp.stderr);
    assert_eq!(jit.stdout.lines().count(), 1501);
    assert!(jit.stdout == interp.stdout, "the engines' CSVs differ");
}
