//! The `kexpr` binary as a user runs it: arguments in, text and an exit status out.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any one run may take. Generous for a loaded debug build: it guards against hangs
/// and runaway recursion on hostile input, not against slowness.
const QUICK: Duration = Duration::from_secs(10);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn finish(out: Output, started: Instant) -> Run {
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    Run {
        code: out.status.code().expect("kexpr was killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn kexpr<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kexpr")).args(args).stdin(Stdio::null()).output().unwrap();
    finish(out, started)
}

/// Runs with `input` on stdin (for text the OS will not pass as an argument: NUL bytes, or
/// more than the 128 KiB Linux allows in one argument).
fn kexpr_stdin(args: &[&str], input: Vec<u8>) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kexpr"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    finish(out, started)
}

/// `kexpr parse -- EXPR` succeeds and prints `canonical`.
fn assert_parses(expr: &str, canonical: &str) {
    let run = kexpr(&["parse", "--", expr]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{expr}");
    assert_eq!(run.stdout, format!("{canonical}\n"), "{expr}");
}

/// `kexpr eval -- ARGS…` succeeds and prints `value`.
fn assert_evals(args: &[&str], value: &str) {
    let run = kexpr(&[&["eval", "--"], args].concat());
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{args:?}");
    assert_eq!(run.stdout, format!("{value}\n"), "{args:?}");
}

/// The run failed with `code`, printed nothing on stdout, and located the error at `at`.
fn assert_fails_at(run: &Run, code: i32, at: &str) {
    assert_eq!(run.code, code, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains(&format!(" --> {at}\n")), "expected {at} in:\n{}", run.stderr);
}

// ---- parse ----

#[test]
fn parse_shows_unary_minus_binding_tighter_than_power() {
    assert_parses("-2^2", "((-2) ^ 2)");
    assert_parses("2^-1^2", "(2 ^ ((-1) ^ 2))");
}

#[test]
fn parse_shows_relational_binding_tighter_than_equality() {
    assert_parses("0 == 1 < 2", "(0 == (1 < 2))");
    assert_parses("1 < 2 < 3", "((1 < 2) < 3)");
}

#[test]
fn parse_keeps_dotted_names_and_offsets() {
    assert_parses("data.climate_csv.by_index.1", "data.climate_csv.by_index.1");
    assert_parses("x[-1, nan]", "x[-1, nan]");
}

#[test]
fn functions_lists_every_builtin_of_the_table_and_nothing_else() {
    let run = kexpr(&["functions", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = listed.iter().map(|l| l["name"].as_str().unwrap()).collect();
    let table: Vec<&str> = kalix_expr::builtins::BUILTINS.iter().map(|b| b.name).collect();
    assert_eq!(names, table);
    let run = kexpr(&["functions", "clamp"]);
    assert_eq!(run.stdout, "clamp(x, lo, hi)  = min(max(x, lo), hi)\n");
    let run = kexpr(&["functions", "moving_avg"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (1, "error: no function `moving_avg`\nhelp: did you mean `moving_mean`?\n")
    );
}

#[test]
fn a_common_misnaming_of_a_window_gets_a_hint() {
    let run = kexpr(&["parse", "moving_avg(x, 3, 0)"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("did you mean `moving_mean`?"), "{}", run.stderr);
}

#[test]
fn parse_accepts_this_as_in_a_model() {
    // Real node expressions (`this.` is the node being defined) and a `[var.*]` key's own past.
    assert_parses("max(0, this.usflow - 21)", "max(0, (this.usflow - 21))");
    assert_parses("this.dsflow[-1, 0] * 0.5", "(this.dsflow[-1, 0] * 0.5)");
    assert_parses("this[-1, 0] + 1", "(this[-1, 0] + 1)");
}

#[test]
fn parse_takes_a_leading_hyphen_with_or_without_double_dash() {
    for args in [&["parse", "--", "-2^2"][..], &["parse", "-2^2"]] {
        let run = kexpr(args);
        assert_eq!((run.code, run.stdout.as_str()), (0, "((-2) ^ 2)\n"), "{args:?}");
    }
}

#[test]
fn parse_rejects_unknown_functions_and_wrong_arity() {
    let run = kexpr(&["parse", "max(0, lg10(x))"]);
    assert_fails_at(&run, 1, "1:8");
    assert!(run.stderr.contains("did you mean `log10`?"), "{}", run.stderr);
    assert_fails_at(&kexpr(&["parse", "sin(1, 2)"]), 1, "1:1");
}

#[test]
fn parse_reports_malformed_input_at_its_line_and_column() {
    for (expr, at) in [
        ("1 +", "1:4"),
        ("max(1,", "1:4"),
        ("2x", "1:2"),
        ("1e", "1:1"),
        ("a..b", "1:1"),
        ("((((", "1:4"),
        ("{ a = 1;\n  a + }", "2:7"),
    ] {
        assert_fails_at(&kexpr(&["parse", "--", expr]), 1, at);
    }
}

#[test]
fn parse_survives_100000_nested_parentheses() {
    // Opening parentheses alone fit in one argument; the balanced form goes through stdin.
    assert_fails_at(&kexpr(&["parse", &"(".repeat(100_000)]), 1, "1:65537");
    let balanced = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_fails_at(&kexpr_stdin(&["parse", "-"], balanced.into_bytes()), 1, "1:65537");
}

#[test]
fn parse_stops_at_the_nesting_limit_within_the_length_limit() {
    let deep = format!("{}1{}", "(".repeat(1_000), ")".repeat(1_000));
    let run = kexpr(&["parse", &deep]);
    assert_fails_at(&run, 1, "1:257");
    assert!(run.stderr.contains("nesting deeper than the limit of 256"), "{}", run.stderr);
}

#[test]
fn parse_survives_a_ten_megabyte_expression() {
    let run = kexpr_stdin(&["parse", "-"], "1+".repeat(5_000_000).into_bytes());
    assert_fails_at(&run, 1, "1:65537");
    assert!(run.stderr.contains("expression of 10000000 bytes is longer than the limit"), "{}", run.stderr);
    // The snippet of the long line is cut to a window, not echoed whole.
    assert!(run.stderr.len() < 1_000, "{} bytes of stderr", run.stderr.len());
}

#[test]
fn parse_reports_a_nul_byte() {
    let run = kexpr_stdin(&["parse", "-"], b"1 + \0 2".to_vec());
    assert_fails_at(&run, 1, "1:5");
    assert!(run.stderr.contains("unexpected character '\\0'"), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn parse_reports_invalid_utf8_in_the_argument() {
    use std::os::unix::ffi::OsStrExt;
    let run = kexpr(&[OsStr::new("parse"), OsStr::from_bytes(b"max(1, \xff)")]);
    assert_fails_at(&run, 1, "1:8");
    assert!(run.stderr.contains("not valid UTF-8"), "{}", run.stderr);
}

#[test]
fn parse_reads_a_multiline_block_from_stdin() {
    let run = kexpr_stdin(&["parse", "-"], b"{\n  loss = 2;\n  max(0, rain - loss)\n}\n".to_vec());
    assert_eq!((run.code, run.stdout.as_str()), (0, "{ loss = 2; max(0, (rain - loss)) }\n"), "{}", run.stderr);
}

// ---- eval ----

#[test]
fn eval_prints_the_shortest_exact_value() {
    assert_evals(&["0.1+0.2"], "0.30000000000000004");
    assert_evals(&["1e300 * 10"], "1e301");
    assert_evals(&["7 / 2"], "3.5");
}

#[test]
fn eval_follows_ieee_division_and_nan() {
    assert_evals(&["1/-0"], "-inf");
    assert_evals(&["1/0"], "inf");
    assert_evals(&["0/0"], "NaN");
    assert_evals(&["-0"], "-0");
    assert_evals(&["sqrt(-1)"], "NaN");
}

#[test]
fn eval_binds_unary_minus_tighter_than_power() {
    assert_evals(&["2^-1^2"], "2");
    assert_evals(&["-2^2"], "4");
}

#[test]
fn eval_compares_with_an_absolute_tolerance() {
    assert_evals(&["0.1 + 0.2 == 0.3"], "1");
}

#[test]
fn eval_matches_names_case_insensitively_as_model_files_do() {
    assert_evals(&["DATA.Evap * 2", "data.evap=3"], "6");
    assert_evals(&["max(0, rain - loss)", "rain=5", "loss=2"], "3");
}

#[test]
fn eval_accepts_special_values() {
    assert_evals(&["x + 1", "x=-inf"], "-inf");
    assert_evals(&["x + 1", "x=+INF"], "inf");
    assert_evals(&["x == x", "x=NaN"], "0");
    assert_evals(&["if(x, 1, 2)", "x=nan"], "1");
}

#[test]
fn eval_gives_an_offset_outside_the_run_its_default_when_asked_for_a_single_step() {
    for (args, value) in [(["x[-1, 5]", "x=1"], "5"), (["moving_mean(x, 4, 1) + x[-2, 0]", "x=5"], "2")] {
        let run = kexpr(&[&["eval", "--single-step"], &args[..]].concat());
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{args:?}");
        assert_eq!(run.stdout, format!("{value}\n"), "{args:?}");
    }
}

#[test]
fn eval_refuses_an_offset_or_window_without_a_single_step_and_says_where_to_go() {
    for (src, at, what) in
        [("1 + x[-1, 5]", "1:5", "x[-1, 5]"), ("moving_mean(x, 4, 1)", "1:1", "moving_mean(x, 4, 1)")]
    {
        let run = kexpr(&["eval", src, "x=1"]);
        assert_fails_at(&run, 1, at);
        assert!(run.stderr.contains(&format!("`{what}` reads earlier steps of a run")), "{}", run.stderr);
        assert!(run.stderr.contains("kexpr eval --single-step"), "{}", run.stderr);
    }
    // An offset of 0 is this step's value: allowed.
    assert_evals(&["x[0, 5] + 1", "x=1"], "2");
}

#[test]
fn eval_rejects_an_offset_on_a_constant() {
    let run = kexpr(&["eval", "const.k[-1,0]", "const.k=1"]);
    assert_fails_at(&run, 1, "1:1");
    assert!(run.stderr.contains("`const.k` cannot take an offset"), "{}", run.stderr);
}

#[test]
fn eval_suggests_the_nearest_name_for_an_unknown_variable() {
    let run = kexpr(&["eval", "rain - lss", "rain=5", "loss=2"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: unknown variable `lss`\n --> 1:8\n  |\n1 | rain - lss\n  |        ^^^\n  |\n  = help: did you mean `loss`?\n"
    );
}

#[test]
fn eval_needs_every_variable() {
    assert_fails_at(&kexpr(&["eval", "rain * 2"]), 1, "1:1");
}

#[test]
fn eval_reports_a_syntax_error_with_exit_1() {
    assert_fails_at(&kexpr(&["eval", "1 +"]), 1, "1:4");
}

#[test]
fn eval_reports_a_failed_assert_with_exit_2() {
    let run = kexpr(&["eval", "{ assert(x > 0); sqrt(x) }", "x=-4"]);
    assert_fails_at(&run, 2, "1:3");
    assert!(run.stderr.contains("assertion failed: `assert(x > 0)` is 0"), "{}", run.stderr);
}

#[test]
fn eval_usage_errors_name_the_argument_and_exit_2() {
    for (args, says) in [
        (&["eval", "x", "x"][..], "'[NAME=VALUE]...'"),
        (&["eval", "x", "x=abc"], "`abc` is not a number"),
        (&["eval", "x", "2x=1"], "`2x` is not a variable name"),
        (&["eval", "x", "x=1", "X=2"], "variable `X` is given twice"),
        (&["eval"], "<EXPR>"),
    ] {
        let run = kexpr(args);
        assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{args:?}");
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

// ---- the command as a whole ----

#[test]
fn help_prints_on_stdout_and_documents_the_exit_status() {
    let run = kexpr(&["--help"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert!(run.stdout.contains("Exit status:"), "{}", run.stdout);
    let run = kexpr(&["eval", "--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Giving the same name twice (in any case) is an error"), "{}", run.stdout);
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let run = kexpr(&["frobnicate"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unrecognized subcommand 'frobnicate'"), "{}", run.stderr);
}
