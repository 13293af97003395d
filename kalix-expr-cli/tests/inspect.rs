//! `kexpr why`, `kexpr graph`, `kexpr run --profile` and `kexpr run --plot`, as a user runs them:
//! the values, edges and series in what they print and draw.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn kexpr<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_kexpr")).args(args).stdin(Stdio::null()).output().unwrap();
    Run {
        code: out.status.code().expect("kexpr was killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn creek() -> (String, String) {
    let r = root();
    (
        r.join("examples/model/creek.ini").to_str().unwrap().to_string(),
        r.join("examples/model/creek.csv").to_str().unwrap().to_string(),
    )
}

/// The value of `series` on `date` in `kexpr run`'s CSV.
fn run_value(csv: &str, series: &str, date: &str) -> String {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == series).unwrap();
    let row = lines.find(|l| l.starts_with(date)).unwrap();
    row.split(',').nth(col).unwrap().to_string()
}

#[test]
fn why_shows_the_runs_value_and_each_part_with_its_source() {
    let (model, data) = creek();
    let run = kexpr(&["run", &model, "--data", &data]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (series, date) in [("var.catchment.dam", "2024-01-09"), ("var.catchment.demand", "2024-02-03")] {
        let why = kexpr(&["why", &model, series, "--at", date, "--data", &data]);
        assert_eq!(why.code, 0, "{}", why.stderr);
        let first = why.stdout.lines().next().unwrap();
        let want = run_value(&run.stdout, series, date);
        assert!(first.starts_with(&format!("{series} = {want} on {date}")), "{first} vs {want}");
    }
    let why = kexpr(&["why", &model, "var.catchment.demand", "--at", "2024-01-09", "--data", &data]);
    assert!(why.stdout.contains("data.evap = 6.7   (input, column `data.evap` of"), "{}", why.stdout);
    assert!(why.stdout.contains("table.crop_factor(sim.month) = 1.1   (row 1 → 1.1)"), "{}", why.stdout);
    assert!(why.stdout.contains("sim.month = 1   (calendar)"), "{}", why.stdout);
    let why = kexpr(&["why", &model, "var.catchment.rain_7day", "--at", "2024-01-03", "--data", &data]);
    assert!(why.stdout.contains("(window of 7, oldest first: [0, 0, 0, 0, "), "{}", why.stdout);
}

#[test]
fn why_as_json_carries_the_same_values_and_follows_reads_to_the_depth_asked() {
    let (model, data) = creek();
    let why = kexpr(&["why", &model, "var.catchment.dam", "--at", "2024-01-20", "--data", &data, "--depth", "1"]);
    let human: Vec<&str> = why.stdout.lines().filter(|l| l.contains(" on 2024-01-20 (step 19)")).collect();
    assert_eq!(human.len(), 3, "the dam, the runoff and the demand it reads: {}", why.stdout);
    let json = kexpr(&[
        "why",
        &model,
        "var.catchment.dam",
        "--at",
        "2024-01-20",
        "--data",
        &data,
        "--depth",
        "1",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["series"], "var.catchment.dam");
    assert_eq!(v["tree"]["kind"], "block");
    let reads: BTreeSet<&str> = v["reads"].as_array().unwrap().iter().map(|r| r["series"].as_str().unwrap()).collect();
    assert_eq!(reads, BTreeSet::from(["var.catchment.demand", "var.catchment.runoff"]));
}

#[test]
fn why_refuses_an_unknown_series_with_the_closest() {
    let (model, data) = creek();
    let why = kexpr(&["why", &model, "var.catchment.dma", "--at", "2024-01-09", "--data", &data]);
    assert_eq!(why.code, 2);
    assert!(why.stderr.contains("did you mean `var.catchment.dam`?"), "{}", why.stderr);
}

/// The edges of a DOT graph as `from -> to` lines, attributes dropped.
fn edges(dot: &str) -> BTreeSet<String> {
    dot.lines()
        .filter(|l| l.contains(" -> "))
        .map(|l| l.trim().split(" [").next().unwrap().trim_end_matches(';').replace('"', ""))
        .collect()
}

#[test]
fn graph_has_exactly_the_edges_the_expressions_imply() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.ini");
    std::fs::write(
        &model,
        "[const]\nconst.k = 2\n[table.t]\nvalues = 0, 0, 1, 1\n[fn]\nf(x) = table.t(x) * const.k\n\
         [var.b]\na = fn.f(data.rain) + sim.month\nb = { s = var.b.a; s + this[-1, 0] }\nc = var.b.d\nd = var.b.c[-1, 0]\n",
    )
    .unwrap();
    let g = kexpr(&["graph", model.to_str().unwrap()]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    let want: BTreeSet<String> = [
        "fn.f -> var.b.a",
        "data.rain -> var.b.a",
        "sim.month -> var.b.a",
        "var.b.a -> var.b.b",
        "var.b.b -> var.b.b",
        "var.b.d -> var.b.c",
        "var.b.c -> var.b.d",
        "table.t -> fn.f",
        "const.k -> fn.f",
    ]
    .map(String::from)
    .into();
    assert_eq!(edges(&g.stdout), want);
    // The self-read through an offset is a loop; `c` reads `d` before it is computed.
    assert!(g.stdout.contains("\"var.b.b\" -> \"var.b.b\" [label=\"[-1]\", style=dashed, color=\"darkorange\"]"));
    assert!(g.stdout.contains("\"var.b.d\" -> \"var.b.c\" [color=\"red\", penwidth=2]"), "{}", g.stdout);
    assert!(g.stdout.contains("\"var.b.c\" -> \"var.b.d\" [label=\"[-1]\", style=dashed, color=\"darkorange\"]"));
    let json = kexpr(&["graph", model.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["edges"].as_array().unwrap().len(), want.len());
}

#[test]
fn graph_draws_every_vertex_into_an_svg() {
    let (model, _) = creek();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("g.svg");
    let g = kexpr(&["graph", &model, "--svg", svg.to_str().unwrap()]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<?xml") && text.trim_end().ends_with("</svg>"));
    for name in ["var.catchment.dam", "data.rain", "table.crop_factor", "fn.megalitres", "const.area_km2"] {
        assert!(text.contains(&format!(">{name}<")), "{name} is not drawn");
    }
}

#[test]
fn plot_draws_the_chosen_series_with_dates_and_a_legend() {
    let (model, data) = creek();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("p.svg");
    let run = kexpr(&[
        "run",
        &model,
        "--data",
        &data,
        "-o",
        dir.path().join("out.csv").to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
        "--series",
        "var.catchment.dam,node.pump_station.pump",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&svg).unwrap();
    let labels: Vec<&str> = text
        .split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>').and_then(|(_, rest)| rest.split("</text>").next()))
        .map(str::trim)
        .collect();
    for want in ["var.catchment.dam", "node.pump_station.pump", "2024-01-01", "2024-02-20", "date", "value"] {
        assert!(labels.contains(&want), "{want} is not in the chart: {labels:?}");
    }
    assert!(!text.contains("var.catchment.runoff"), "a series not chosen is drawn");
    // Each series is a thick line of its own colour (neither has a NaN), and a legend mark.
    for colour in ["#0072B2", "#D55E00"] {
        let lines = text.matches(&format!("stroke=\"{colour}\" stroke-width=\"2\"")).count();
        assert_eq!(lines, 2, "{colour}");
    }
    assert!(!text.contains("stroke=\"#009E73\""), "a third series is drawn");
    let bad = kexpr(&["run", &model, "--data", &data, "--plot", svg.to_str().unwrap(), "--series", "var.nope"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stdout.is_empty(), "nothing is run");
}

#[test]
fn profile_lists_every_series_slowest_first_after_the_run() {
    let (model, data) = creek();
    let run = kexpr(&["run", &model, "--data", &data, "--profile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("date,"), "the CSV is unchanged");
    let table = &run.stderr[run.stderr.find("profile:").unwrap()..];
    assert!(table.starts_with("profile: 60 steps of 9 series"), "{table}");
    for phase in ["load the model", "read the data", "check and compile", "run"] {
        assert!(table.contains(phase), "{phase}: {table}");
    }
    let header: Vec<&str> = run.stdout.lines().next().unwrap().split(',').skip(1).collect();
    let rows: Vec<&str> = table.lines().filter(|l| header.iter().any(|h| l.trim_start().starts_with(h))).collect();
    assert_eq!(rows.len(), 9, "{table}");
    let shares: Vec<f64> =
        rows.iter().map(|l| l.trim_end().trim_end_matches('%').rsplit(' ').next().unwrap().parse().unwrap()).collect();
    assert!(shares.windows(2).all(|w| w[0] >= w[1]), "{shares:?}");
    assert!((shares.iter().sum::<f64>() - 100.0).abs() < 0.5, "{shares:?}");
}

#[test]
fn graph_refuses_to_lay_out_a_graph_too_dense_to_draw_and_points_to_graphviz() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("dense.ini");
    let mut text = String::from("[const]\n");
    for k in 0..20 {
        text.push_str(&format!("const.c{k} = {k}\n"));
    }
    text.push_str("[var.b]\n");
    for i in 0..20 {
        let reads: Vec<String> = (0..20).map(|k| format!("const.c{k}")).collect();
        text.push_str(&format!("s{i} = {}\n", reads.join(" + ")));
    }
    std::fs::write(&model, text).unwrap();
    let svg = dir.path().join("g.svg");
    let g = kexpr(&["graph", model.to_str().unwrap(), "--svg", svg.to_str().unwrap()]);
    assert_eq!(g.code, 2);
    assert!(g.stderr.contains("400 edges, more than this drawing lays out"), "{}", g.stderr);
    assert!(g.stderr.contains("| dot -Tsvg -o"), "{}", g.stderr);
    assert!(!svg.exists(), "nothing is written");
    // DOT is always available.
    assert_eq!(kexpr(&["graph", model.to_str().unwrap()]).code, 0);
}
