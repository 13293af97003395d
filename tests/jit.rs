//! The JIT engine (`Options { engine: Engine::Jit, .. }`) against the interpreter, bit for bit:
//! every case of the language's table, and random expressions over awkward values (NaN, ±0,
//! ±∞, huge and tiny numbers). Also: what it compiles and what it leaves to the interpreter, and
//! that dropping compiled expressions frees their code.

#[allow(unused_imports, unused_macros)]
mod common;

use common::*;
use kalix_expr::{DivByZero, Engine, Expr, Options};
use proptest::prelude::*;

fn jit() -> Options {
    Options { engine: Engine::Jit, ..Options::default() }
}

/// The JIT's and the interpreter's results for one case and row; panics unless they have the
/// same bits.
fn both(src: &str, names: &[&str], inputs: &[f64]) -> f64 {
    let expr = Expr::parse(src).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    let interp = expr.compile_with(names, &Options::default()).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    let native = expr.compile_with(names, &jit()).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    let (a, b) = (interp.eval(inputs), native.eval(inputs));
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "`{src}` {inputs:?}: {a} vs JIT {b}");
            b
        }
        (Err(a), Err(b)) => panic!("`{src}` fails in both: {a} / {b}"),
        (a, b) => panic!("`{src}` {inputs:?}: {a:?} vs JIT {b:?}"),
    }
}

macro_rules! jit_cases {
    ($( $src:tt [$($names:tt)*] { $( [$($v:expr),* $(,)?] $(=> $want:expr)? );* $(;)? } )*) => {{
        let mut compiled = 0;
        $(
            let names: &[&str] = &names!($($names)*);
            if Expr::parse($src).and_then(|e| e.compile_with(names, &jit())).map(|c| c.engine()) == Ok(Engine::Jit) {
                compiled += 1;
            }
            $(
                let inputs: &[f64] = &[$($v),*];
                let got = both($src, names, inputs);
                $( expect("the JIT", $src, inputs, got, $want); )?
                let _ = got;
            )*
        )*
        compiled
    }};
}

#[test]
fn every_case_of_the_language_table_gives_the_interpreters_bits() {
    let compiled = cases!(jit_cases);
    // Most cases are pure expressions the JIT compiles; blocks, asserts and `interp` stay
    // with the interpreter.
    assert!(compiled >= 200, "the JIT compiled {compiled} cases");
}

#[test]
fn it_compiles_pure_expressions_and_leaves_the_rest_to_the_interpreter() {
    let engine =
        |src: &str, opts: &Options| Expr::parse(src).unwrap().compile_with(&["x", "y"], opts).unwrap().engine();
    for src in [
        "x + y * 2",
        "max(x, y, 3) - min(x, 1)",
        "if(x > y, sqrt(x), -y) % 3",
        "mean(x, y, 1) ^ 0.5",
        "!x && y || x == y",
    ] {
        assert_eq!(engine(src, &jit()), Engine::Jit, "{src}");
        assert_eq!(engine(src, &Options::default()), Engine::Interpreter, "{src}");
    }
    // Errors to report, statements, slices: the interpreter.
    let strict = Options { div_by_zero: DivByZero::Error, ..jit() };
    assert_eq!(engine("x / y", &strict), Engine::Interpreter);
    assert_eq!(engine("{ a = x; assert(a > 0); a }", &jit()), Engine::Interpreter);
    assert_eq!(engine("interp(x, 0, 0, y, 1)", &jit()), Engine::Interpreter);
    // Too few values: an error, never a read past the end.
    let c = Expr::parse("x + y").unwrap().compile_with(&["x", "y"], &jit()).unwrap();
    assert!(c.eval(&[1.0]).is_err());
}

#[test]
fn a_set_runs_its_jit_members_as_one_native_module_with_the_interpreters_bits() {
    use kalix_expr::ExprSet;
    let sources: Vec<String> = (0..300)
        .map(|i| match i % 5 {
            0 => format!("max(0, min(37.5, x - {i}))"),
            1 => format!("x * 0.35 + y * {i}.5"),
            2 => "if(x > y, sqrt(x), ln(y))".to_string(),
            3 => "{ a = x * 2; assert(1); a }".to_string(),
            _ => format!("mean(x, y, {i}) % 7 ^ 1.5"),
        })
        .collect();
    let (mut interp, mut native) = (ExprSet::new(), ExprSet::new());
    for src in &sources {
        let e = Expr::parse(src).unwrap();
        interp.push(e.compile_with(&["x", "y"], &Options::default()).unwrap());
        native.push(e.compile_with(&["x", "y"], &jit()).unwrap());
    }
    let (mut a, mut b) = (vec![0.0; 300], vec![7.0; 300]);
    for (x, y) in [(1.0, 2.0), (50.0, -3.0), (f64::NAN, 0.0), (-0.0, f64::INFINITY), (1e300, 1e-300)] {
        interp.eval_all(&[x, y], &mut a).unwrap();
        native.eval_all(&[x, y], &mut b).unwrap();
        for (i, (p, q)) in a.iter().zip(&b).enumerate() {
            assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "{}: {p} vs {q}", sources[i]);
        }
    }
    // A member added later joins the module.
    native.push(Expr::parse("x - y").unwrap().compile_with(&["x", "y"], &jit()).unwrap());
    let mut c = vec![0.0; 301];
    native.eval_all(&[5.0, 2.0], &mut c).unwrap();
    assert_eq!(c[300], 3.0);
    assert!(native.eval_all(&[5.0], &mut c).is_err());
}

/// Resident memory in bytes (Linux).
#[cfg(target_os = "linux")]
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 4096
}

#[cfg(target_os = "linux")]
#[test]
fn dropping_compiled_expressions_frees_their_code() {
    let round = |n: usize| {
        for i in 0..n {
            let c = Expr::parse(&format!("x * {i} + sin(y)")).unwrap().compile_with(&["x", "y"], &jit()).unwrap();
            assert_eq!(c.engine(), Engine::Jit);
            assert_eq!(c.eval(&[1.0, 0.0]).unwrap(), i as f64);
        }
    };
    round(2_000);
    let before = resident();
    round(20_000);
    let after = resident();
    // Each module maps at least a page of code: kept, 20,000 would hold over 80 MB.
    assert!(after < before + 16 * 1024 * 1024, "{} MB grew to {} MB", before >> 20, after >> 20);
}

/// Awkward values: NaN, ±0, ±∞, huge, tiny, integers and halves.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(0.0),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(1e308),
        Just(5e-324),
        Just(0.5),
        Just(-2.5),
        (-1000i32..1000).prop_map(f64::from),
        -1e6f64..1e6,
    ]
}

/// Random expressions over x, y, z from every operator and the pure built-ins.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("y".to_string()),
        Just("z".to_string()),
        value().prop_filter("finite literal", |v| v.is_finite()).prop_map(|v| format!("({v:?})")),
    ];
    leaf.prop_recursive(5, 48, 3, |inner| {
        let ops = ["+", "-", "*", "/", "%", "^", "==", "!=", "<", "<=", ">", ">=", "&&", "||"];
        let f1 = ["abs", "sqrt", "ln", "exp", "sin", "cos", "floor", "ceil", "round", "sign", "log10", "atan"];
        let f2 = ["max", "min", "pow", "atan2", "sum", "mean"];
        prop_oneof![
            (inner.clone(), 0..ops.len(), inner.clone()).prop_map(move |(a, o, b)| format!("({a} {} {b})", ops[o])),
            (0..f1.len(), inner.clone()).prop_map(move |(f, a)| format!("{}({a})", f1[f])),
            (0..f2.len(), inner.clone(), inner.clone()).prop_map(move |(f, a, b)| format!("{}({a}, {b})", f2[f])),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| format!("if({c}, {a}, {b})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("clamp({a}, {b}, {c})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("max({a}, {b}, {c})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.prop_map(|a| format!("!{a}")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Random expressions and inputs: the JIT never gives another bit than the interpreter.
    #[test]
    fn random_expressions_give_the_interpreters_bits(src in expression(), x in value(), y in value(), z in value()) {
        let expr = Expr::parse(&src).unwrap();
        let (Ok(interp), Ok(native)) = (expr.compile_with(&["x", "y", "z"], &Options::default()), expr.compile_with(&["x", "y", "z"], &jit())) else {
            return Ok(());
        };
        let (a, b) = (interp.eval(&[x, y, z]).unwrap(), native.eval(&[x, y, z]).unwrap());
        prop_assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "`{}` at {:?}: {} vs JIT {}", src, (x, y, z), a, b);
    }
}
