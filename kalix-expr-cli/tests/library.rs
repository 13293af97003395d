//! `kexpr fn` on a function library in a temporary directory, and `eval`, `check` and `run`
//! calling its functions, as a user runs them.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use kalix_expr::library::{fnv1a64, normalised_definition};
use kalix_expr::FnDef;
use tempfile::TempDir;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().expect("kexpr was killed by a signal"),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }
}

/// `kexpr` with no library from the environment unless `env` sets one, and with the per-user
/// data directory pointed into `home` (so the real one is never read or written).
fn command<S: AsRef<OsStr>>(home: &Path, args: &[S], env: &[(&str, &OsStr)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kexpr"));
    cmd.args(args)
        .env_remove("KALIX_FUNCTIONS")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A library directory and a home directory, both temporary.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture { dir: tempfile::tempdir().unwrap() }
    }

    fn library(&self) -> PathBuf {
        self.dir.path().join("fns")
    }

    fn file(&self) -> PathBuf {
        self.library().join("functions.ini")
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(self.file()).unwrap()
    }

    /// `kexpr ARGS… --library <the library>`.
    fn kexpr(&self, args: &[&str]) -> Run {
        self.kexpr_stdin(args, "")
    }

    fn kexpr_stdin(&self, args: &[&str], input: &str) -> Run {
        let library = self.library();
        let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        all.push(OsStr::new("--library"));
        all.push(library.as_os_str());
        let mut child = command(self.dir.path(), &all, &[]).stdin(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap().into()
    }

    /// `kexpr ARGS…` with no `--library` and the given environment.
    fn kexpr_env(&self, args: &[&str], env: &[(&str, &OsStr)]) -> Run {
        command(self.dir.path(), args, env).stdin(Stdio::null()).output().unwrap().into()
    }

    /// `kexpr fn ARGS… --library …`, which must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let mut all = vec!["fn"];
        all.extend_from_slice(args);
        let run = self.kexpr(&all);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "kexpr {all:?}\n{}", run.stdout);
        run.stdout
    }

    /// `kexpr fn ARGS… --library …`, which must be refused (exit 1) without changing a byte of
    /// the library file; gives stderr.
    fn refused(&self, args: &[&str]) -> String {
        let before = self.bytes();
        let mut all = vec!["fn"];
        all.extend_from_slice(args);
        let run = self.kexpr(&all);
        assert_eq!((run.code, run.stdout.as_str()), (1, ""), "kexpr {all:?}\n{}", run.stderr);
        let after = self.bytes();
        assert_eq!(fnv1a64(&after), fnv1a64(&before), "kexpr {all:?} changed the file");
        assert_eq!(after, before);
        run.stderr
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }
}

fn hash_of(signature: &str, body: &str) -> String {
    format!("{:016x}", fnv1a64(normalised_definition(&FnDef::parse(signature, body).unwrap()).as_bytes()))
}

#[test]
fn add_list_show_update_rename_and_rm_round_trip() {
    let f = Fixture::new();
    let out = f.ok(&[
        "add",
        "frac(v, cap) = clamp(v / cap, 0, 1)",
        "--description",
        "Fill fraction of a storage, between 0 and 1.",
        "--tag",
        "storage",
        "--tag",
        "ratio",
    ]);
    assert_eq!(out, "added fn.frac\nlibrary version 1\n");
    assert_eq!(
        f.ok(&["add", "spill(v, cap) = max(0, v - cap) * fn.frac(v, cap)"]),
        "added fn.spill\nlibrary version 2\n"
    );
    assert_eq!(
        f.ok(&["list"]),
        "\
NAME      ARITY  KIND  PURITY  TAGS            DESCRIPTION
fn.frac   2      user  pure    storage, ratio  Fill fraction of a storage, between 0 and 1.
fn.spill  2      user  pure
"
    );
    assert_eq!(
        f.ok(&["show", "fn.frac"]),
        format!(
            "\
# description: Fill fraction of a storage, between 0 and 1.
# tags: storage, ratio
frac(v, cap) = clamp(v / cap, 0, 1)

hash:      {}
state:     valid, pure
called by: fn.spill
",
            hash_of("frac(v, cap)", "clamp(v / cap, 0, 1)")
        )
    );

    // An update keeps the description and tags it does not give.
    assert_eq!(f.ok(&["update", "frac(v, cap) = v / cap"]), "updated fn.frac\nlibrary version 3\n");
    let shown = f.ok(&["show", "frac"]);
    let kept = "# description: Fill fraction of a storage, between 0 and 1.\n# tags: storage, ratio\n";
    assert!(shown.starts_with(&format!("{kept}frac(v, cap) = v / cap\n")), "{shown}");
    assert!(shown.contains(&format!("hash:      {}\n", hash_of("frac(v, cap)", "v / cap"))), "{shown}");
    f.ok(&["update", "frac(v, cap) = v / cap", "--description", "", "--tag", "fraction"]);
    assert!(f.ok(&["show", "frac"]).starts_with("# tags: fraction\nfrac(v, cap) = v / cap\n\n"));
    f.ok(&["update", "frac(v, cap) = v / cap", "--no-tags"]);
    assert!(f.ok(&["show", "frac"]).starts_with("frac(v, cap) = v / cap\n\n"));

    // A rename carried through rewrites the callers.
    assert_eq!(
        f.ok(&["rename", "frac", "fraction", "--cascade"]),
        "renamed fn.frac to fn.fraction\nupdated fn.spill\nlibrary version 6\n"
    );
    assert!(f.ok(&["show", "spill"]).starts_with("spill(v, cap) = max(0, v - cap) * fn.fraction(v, cap)\n"));

    assert_eq!(f.ok(&["rm", "spill"]), "removed fn.spill\nlibrary version 7\n");
    assert_eq!(f.ok(&["rm", "fn.fraction"]), "removed fn.fraction\nlibrary version 8\n");
    assert_eq!(f.ok(&["list"]), "");
    assert!(String::from_utf8(f.bytes()).unwrap().contains("version = 8\n"));
}

#[test]
fn a_definition_may_come_from_stdin_with_its_comments_and_continuation_lines() {
    let f = Fixture::new();
    let text = "# description: Spill over the crest.\n# tags: storage\n\
                spill(v, cap) = { over = max(0, v - cap);\n    over * 0.5 }\n";
    let run = f.kexpr_stdin(&["fn", "add", "-"], text);
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (0, "added fn.spill\nlibrary version 1\n", ""));
    // Kept with its comments; the continuation is joined to the body.
    let kept = "# description: Spill over the crest.\n# tags: storage\n\
                spill(v, cap) = { over = max(0, v - cap); over * 0.5 }\n";
    assert!(String::from_utf8(f.bytes()).unwrap().ends_with(kept), "{}", String::from_utf8(f.bytes()).unwrap());
    // Options win over the comment lines.
    let run = f.kexpr_stdin(&["fn", "update", "-", "--tag", "crest"], text);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(f.ok(&["show", "spill"]).starts_with("# description: Spill over the crest.\n# tags: crest\n"));
}

#[test]
fn refused_changes_say_why_and_leave_the_file_byte_for_byte_unchanged() {
    let f = Fixture::new();
    f.ok(&["add", "frac(v, cap) = v / cap"]);
    f.ok(&["add", "spill(v, cap) = max(0, v - cap) * fn.frac(v, cap)"]);

    let err = f.refused(&["update", "frac(v, cap) = lg10(v) + w(1)"]);
    assert!(err.starts_with("error: the change was refused:\n"), "{err}");
    // Every problem, not only the first.
    assert!(err.contains("unknown function `lg10`") && err.contains("unknown function `w`"), "{err}");
    let err = f.refused(&["update", "frac(v, cap) = v /"]);
    assert!(err.contains("expected an expression, found end of input"), "{err}");
    let err = f.refused(&["add", "frac(x) = x"]);
    assert!(err.contains("error: `fn.frac` already exists"), "{err}");
    let err = f.refused(&["update", "frac(v) = v"]);
    assert!(err.contains("`fn.frac` is called by `fn.spill`") && err.contains("--force"), "{err}");
    let err = f.refused(&["rm", "nope"]);
    assert!(err.contains("unknown function `fn.nope`"), "{err}");
    let err = f.refused(&["rename", "spill", "max"]);
    assert!(err.contains("error: `max` cannot be defined: it is a built-in function"), "{err}");
    let err = f.refused(&["add", "recur(x) = fn.recur(x)"]);
    assert!(err.contains("error: recursive functions: fn.recur -> fn.recur"), "{err}");
    let err = f.refused(&["add", "bad(x) = x", "--tag", "a,b"]);
    assert!(err.contains("a tag may not hold `,`"), "{err}");
    assert_eq!(f.ok(&["show", "frac"]).lines().next(), Some("frac(v, cap) = v / cap"));
}

#[test]
fn removing_a_function_others_call_is_refused_naming_them_and_cascade_removes_them() {
    let f = Fixture::new();
    f.ok(&["add", "c(x) = x * 2"]);
    f.ok(&["add", "b(x) = fn.c(x) + 1"]);
    f.ok(&["add", "a(x) = fn.b(x) - 1"]);
    f.ok(&["add", "other(x) = x"]);
    let err = f.refused(&["rm", "c"]);
    assert!(err.starts_with("error: the change was refused: it breaks 2 other function(s)\n"), "{err}");
    assert!(err.contains("\nerror: `fn.c` is called by `fn.b` and `fn.a`\n"), "{err}");
    assert!(
        err.contains(
            "help: change the callers first, or pass --cascade to remove them too, or --force to leave them invalid"
        ),
        "{err}"
    );
    assert!(!err.contains("Dependents::"), "the help names the command's options, not the Rust API:\n{err}");
    assert_eq!(f.ok(&["rm", "c", "--cascade"]), "removed fn.c\nremoved fn.b\nremoved fn.a\nlibrary version 5\n");
    assert_eq!(f.ok(&["list"]).lines().skip(1).collect::<Vec<_>>(), ["fn.other  1      user  pure"]);
}

#[test]
fn force_keeps_the_callers_shown_as_broken() {
    let f = Fixture::new();
    f.ok(&["add", "c(x) = x * 2"]);
    f.ok(&["add", "b(x) = fn.c(x) + 1"]);
    let run = f.kexpr(&["fn", "rm", "c", "--force"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "removed fn.c\nlibrary version 3\n"));
    assert!(run.stderr.contains("warning: `fn.b` left invalid"), "{}", run.stderr);
    // Listing warns about the broken entry and shows it as such.
    let run = f.kexpr(&["fn", "list"]);
    assert_eq!(run.stdout, "NAME  ARITY  KIND  PURITY  TAGS  DESCRIPTION\nfn.b  1      user  broken\n");
    assert!(run.stderr.starts_with("warning: `") && run.stderr.contains("unknown function `fn.c`"), "{}", run.stderr);
    let run = f.kexpr(&["fn", "list", "--format", "json"]);
    let items: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        items,
        serde_json::json!([{
            "name": "b", "call": "fn.b", "arity": 1, "kind": "user",
            "valid": false, "pure": null, "tags": [], "description": null
        }])
    );
    // Showing it tells why, once.
    let run = f.kexpr(&["fn", "show", "b"]);
    assert_eq!(run.stderr, "");
    assert!(
        run.stdout.contains("state:     invalid") && run.stdout.matches("unknown function `fn.c`").count() == 1,
        "{}",
        run.stdout
    );
    // Calling it says it is invalid.
    let run = f.kexpr(&["eval", "fn.b(1)"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("note: the function library's `fn.b` is invalid: see `kexpr fn show b`"),
        "{}",
        run.stderr
    );
}

#[test]
fn list_filters_by_tag_and_prints_json() {
    let f = Fixture::new();
    f.ok(&["add", "a(x) = x", "--tag", "storage", "--tag", "ratio"]);
    f.ok(&["add", "b(x) = x * data.k", "--tag", "storage", "--description", "Scaled."]);
    f.ok(&["add", "c() = 1"]);
    let names = |out: String| out.lines().skip(1).map(|l| l.split(' ').next().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(names(f.ok(&["list", "--tag", "storage"])), ["fn.a", "fn.b"]);
    assert_eq!(names(f.ok(&["list", "--tag", "storage", "--tag", "RATIO"])), ["fn.a"]);
    assert_eq!(f.ok(&["list", "--tag", "none"]), "");
    let items: serde_json::Value =
        serde_json::from_str(&f.ok(&["list", "--format", "json", "--tag", "storage"])).unwrap();
    assert_eq!(
        items[1],
        serde_json::json!({
            "name": "b", "call": "fn.b", "arity": 1, "kind": "user",
            "valid": true, "pure": false, "tags": ["storage"], "description": "Scaled."
        })
    );
}

#[test]
fn show_and_rm_of_an_unknown_name_suggest_the_closest() {
    let f = Fixture::new();
    f.ok(&["add", "fraction(v) = v"]);
    let run = f.kexpr(&["fn", "show", "fracton"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: the function library has no function `fn.fracton`\nhelp: did you mean `fn.fraction`?\n"
    );
    let err = f.refused(&["rm", "fracton"]);
    assert!(err.contains("did you mean `fn.fraction`?"), "{err}");
}

#[test]
fn two_processes_adding_at_once_lose_nothing() {
    let f = Fixture::new();
    let library = f.library();
    let rounds = 8;
    for round in 0..rounds {
        let children: Vec<(String, Child)> = ["a", "b"]
            .iter()
            .map(|who| {
                let def = format!("f{round}_{who}(x) = x + {round}");
                let args = ["fn".as_ref(), "add".as_ref(), OsStr::new(&def), "--library".as_ref(), library.as_os_str()];
                let child = command(f.dir.path(), &args, &[]).stdin(Stdio::null()).spawn().unwrap();
                (def, child)
            })
            .collect();
        for (def, child) in children {
            let run: Run = child.wait_with_output().unwrap().into();
            assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{def}");
        }
    }
    let listed = f.ok(&["list"]);
    let mut expected: Vec<String> = (0..rounds).flat_map(|r| ["a", "b"].map(|w| format!("fn.f{r}_{w}"))).collect();
    expected.sort();
    let names: Vec<&str> = listed.lines().skip(1).map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(names, expected);
    assert!(String::from_utf8(f.bytes()).unwrap().contains(&format!("\nversion = {}\n", 2 * rounds)));
}

#[test]
fn eval_and_parse_call_library_functions() {
    let f = Fixture::new();
    f.ok(&["add", "f(x) = x * 10 + 1"]);
    f.ok(&["add", "g(x) = fn.f(x) / 2"]);
    let run = f.kexpr(&["eval", "fn.f(2)"]);
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (0, "21\n", ""));
    let run = f.kexpr(&["eval", "fn.g(rain) + 1", "rain=1"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "6.5\n"), "{}", run.stderr);
    // The option may come first too, as for every command.
    let library = f.library();
    let run = f.kexpr_env(&["--library", library.to_str().unwrap(), "eval", "fn.g(4)"], &[]);
    assert_eq!(run.stdout, "20.5\n");
    let run = f.kexpr(&["parse", "fn.f(1, 2)"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("`fn.f` takes 1 argument, found 2"), "{}", run.stderr);
    assert_eq!(f.kexpr(&["parse", "fn.g(x)*2"]).stdout, "(fn.g(x) * 2)\n");
}

#[test]
fn without_a_library_nothing_changes_and_the_default_one_is_not_read() {
    let f = Fixture::new();
    // A library in the per-user directory: `fn` uses it, the other commands do not.
    let home_library = f.dir.path().join("data").join("kalix").join("functions");
    let run = f.kexpr_env(&["fn", "add", "f(x) = x"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(home_library.join("functions.ini").exists());
    let run = f.kexpr_env(&["eval", "fn.f(2)"], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.ends_with("note: to call the functions of a function library, pass --library DIR\n"),
        "{}",
        run.stderr
    );
    let model = f.write("m.ini", "[var.b]\nk = fn.f(1)\n");
    assert_eq!(f.kexpr_env(&["check", &model], &[]).code, 1);
    // KALIX_FUNCTIONS is asked for explicitly: it is read.
    let env = [("KALIX_FUNCTIONS", home_library.as_os_str())];
    assert_eq!(f.kexpr_env(&["eval", "fn.f(2)"], &env).stdout, "2\n");
    assert_eq!(f.kexpr_env(&["check", &model], &env).code, 0);
    // A KALIX_FUNCTIONS naming no directory is an empty library, and is not created.
    let missing = f.dir.path().join("missing");
    assert_eq!(f.kexpr_env(&["eval", "1 + 1"], &[("KALIX_FUNCTIONS", missing.as_os_str())]).stdout, "2\n");
    assert!(!missing.exists());
    // An explicit --library naming no directory is an error: it is probably a typo.
    let run = f.kexpr_env(&["eval", "1", "--library", missing.to_str().unwrap()], &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("error: the function library `"), "{}", run.stderr);
    assert!(!missing.exists());
}

#[test]
fn a_model_calling_a_library_function_checks_and_runs() {
    let f = Fixture::new();
    f.ok(&["add", "frac(v, cap) = clamp(v / cap, 0, 1)"]);
    f.ok(&["add", "spill(v, cap) = max(0, v - cap) * fn.frac(v, cap)"]);
    let model = f.write(
        "m.ini",
        "[kalix]\nstart = 2000-01-01\nend = 2000-01-03\n\n[fn]\ntwice(x) = 2 * x\n\n[var.dam]\n\
         volume = 90 + fn.twice(10 * sim.step)\nspill = fn.spill(var.dam.volume, 100)\n",
    );
    let run = f.kexpr(&["check", &model]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{}", run.stdout);
    assert!(run.stdout.ends_with(": 0 errors, 0 warnings (3 expressions checked)\n"), "{}", run.stdout);
    let run = f.kexpr(&["run", &model]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(
        run.stdout,
        "date,var.dam.volume,var.dam.spill\n2000-01-01,90,0\n2000-01-02,110,10\n2000-01-03,130,30\n"
    );
    // Without the library, the model does not check.
    let run = f.kexpr_env(&["check", &model], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("unknown function `fn.spill`"), "{}", run.stdout);
}

#[test]
fn a_model_definition_wins_over_the_library_with_a_warning() {
    let f = Fixture::new();
    f.ok(&["add", "k() = 1"]);
    let model = f.write("m.ini", "[fn]\nk() = 2\n[var.b]\nx = fn.k()\n");
    let run = f.kexpr(&["check", &model]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("warning: function `fn.k` is also defined in the function library"), "{}", run.stdout);
    let run = f.kexpr(&["run", &model, "--steps", "1", "--quiet"]);
    assert_eq!(run.stdout, "date,var.b.x\n2000-01-01,2\n");
}

#[test]
fn a_library_with_problems_is_reported_and_its_other_functions_load() {
    let f = Fixture::new();
    f.ok(&["add", "good(x) = x"]);
    let mut text = String::from_utf8(f.bytes()).unwrap();
    text.push_str("\nbad(x) = x +\n\ngarbage\n");
    std::fs::write(f.file(), &text).unwrap();
    let run = f.kexpr(&["eval", "fn.good(3)"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "3\n"));
    assert!(
        run.stderr.starts_with("warning: `") && run.stderr.contains("has 2 problems; its other functions load"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("in `fn.bad`"), "{}", run.stderr);
    // A change leaves the broken entries as they are.
    assert_eq!(f.kexpr(&["fn", "add", "other() = 1"]).code, 0);
    let after = String::from_utf8(f.bytes()).unwrap();
    assert!(after.contains("\nbad(x) = x +\n") && after.contains("\ngarbage\n"), "{after}");
}
