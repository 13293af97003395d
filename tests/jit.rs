//! The JIT engine (`Options { engine: Engine::Jit, .. }`) against the interpreter, bit for bit:
//! every case of the language's table, and random expressions over awkward values (NaN, ±0,
//! ±∞, huge and tiny numbers). Also: what it compiles and what it leaves to the interpreter, and
//! that dropping compiled expressions frees their code.

#[allow(unused_imports, unused_macros)]
mod common;

use common::*;
use kalix_expr::{DivByZero, DomainErrors, Engine, Expr, Options};
use proptest::prelude::*;

fn jit() -> Options {
    Options { engine: Engine::Jit, ..Options::default() }
}

fn interp() -> Options {
    Options { engine: Engine::Interpreter, ..Options::default() }
}

/// The JIT's and the interpreter's results for one case and row; panics unless they have the
/// same bits.
fn both(src: &str, names: &[&str], inputs: &[f64]) -> f64 {
    let expr = Expr::parse(src).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    let interp = expr
        .compile_with(names, &Options { single_step: true, ..interp() })
        .unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    let native =
        expr.compile_with(names, &Options { single_step: true, ..jit() }).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    // Native code at once, not after the warm-up.
    let _ = native.jit_now();
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
            let single_step = Options { single_step: true, ..jit() };
            if Expr::parse($src).and_then(|e| e.compile_with(names, &single_step)).map(|c| c.jit_now()) == Ok(Engine::Jit) {
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
        |src: &str, opts: &Options| Expr::parse(src).unwrap().compile_with(&["x", "y"], opts).unwrap().jit_now();
    for src in [
        "x + y * 2",
        "max(x, y, 3) - min(x, 1)",
        "if(x > y, sqrt(x), -y) % 3",
        "mean(x, y, 1) ^ 0.5",
        "!x && y || x == y",
    ] {
        assert_eq!(engine(src, &jit()), Engine::Jit, "{src}");
        assert_eq!(engine(src, &interp()), Engine::Interpreter, "{src}");
        // The facade builds the JIT in, and then it is the default engine.
        assert_eq!(engine(src, &Options::default()), Engine::Jit, "{src}");
    }
    // Blocks, asserts and slices are native too (see below), and so are expressions under
    // strict options (their errors make the call bail, see below).
    assert_eq!(engine("{ a = x; assert(a > 0); a }", &jit()), Engine::Jit);
    assert_eq!(engine("interp(x, 0, 0, y, 1)", &jit()), Engine::Jit);
    let strict = Options { div_by_zero: DivByZero::Error, domain_errors: DomainErrors::Error, ..jit() };
    assert_eq!(engine("x / y + ln(x)", &strict), Engine::Jit);
    assert_eq!(engine("x / y + ln(x)", &Options { engine: Engine::Interpreter, ..strict }), Engine::Interpreter);
    // Too few values: an error, never a read past the end.
    let c = Expr::parse("x + y").unwrap().compile_with(&["x", "y"], &jit()).unwrap();
    assert!(c.eval(&[1.0]).is_err());
}

/// Tables (a Kalix 2D one, whose column keys must match; one whose lookups outside its keys
/// are errors), pure natives (one that panics on a negative argument) and user functions with
/// statements and asserts, for the tests below.
fn host_parts(
) -> (Vec<std::sync::Arc<kalix_expr::Table>>, Vec<std::sync::Arc<kalix_expr::NativeFn>>, kalix_expr::Functions) {
    use kalix_expr::{FnDef, Functions, NativeFn, Table};
    use kalix_expr_core::table::Extrapolation;
    use std::sync::Arc;
    let pump =
        Table::from_cells("pump", &["head", "10", "20", "0", "0", "0", "5", "50", "80", "10", "60", "100"], 3).unwrap();
    let curve =
        Table::from_cells("curve", &["0", "0", "10", "100"], 2).unwrap().with_extrapolation(Extrapolation::Error, true);
    let natives = vec![
        Arc::new(NativeFn::pure("cube", 1, |a| a[0] * a[0] * a[0]).unwrap()),
        Arc::new(
            NativeFn::pure("fussy", 2, |a| if a[0] < -1e6 { panic!("fussy: {}", a[0]) } else { a[0] - a[1] }).unwrap(),
        ),
    ];
    let functions = Functions::new(vec![
        FnDef::parse("excess(v, cap)", "{ over = v - cap; assert(over < 1e9); max(0, over) }").unwrap(),
        FnDef::parse("half(v)", "v / 2").unwrap(),
    ])
    .unwrap();
    (vec![Arc::new(pump), Arc::new(curve)], natives, functions)
}

#[test]
fn blocks_asserts_tables_natives_and_user_functions_run_natively_and_fail_as_the_interpreter_does() {
    use kalix_expr::Host;
    let (tables, natives, functions) = host_parts();
    let host = Host { tables: &tables, natives: &natives, functions: Some(&functions), ..Host::default() };
    let sources = [
        "table.pump(if(x > 5, 10, 20), y * 4) + table.curve(clamp(x, 0, 10))",
        "if(x > 100, table.pump(15, y), fn.half(x))",
        "if(x >= 0 && x <= 10, table.curve(x), -1) * cube(y)",
        "table.curve(x)",
        "table.pump(x, y)",
        "{ a = x * 2; b = a + fn.excess(y, 3); assert(b != 7); b - fussy(a, 1) }",
        "fn.excess(x, y) + fn.excess(y, x) + interp(x, 0, 0, y, 1, 20, 5)",
        "if(y > 1e300, fussy(x, 0), cube(fn.half(x)))",
        "{ assert(x > -5); table.pump(10, x) }",
    ];
    let inputs = [
        [1.0, 2.0],
        [7.0, 0.5],
        [10.0, 10.0],
        [20.0, 1.0],
        [-6.0, 3.0],
        [f64::NAN, 1.0],
        [0.0, f64::NAN],
        [5.0, 1e9],
        [-2e6, 1.0],
        [-0.0, f64::INFINITY],
    ];
    let (mut native_results, mut errors, mut panics) = (0, 0, 0);
    for src in sources {
        let expr = Expr::parse(src).unwrap();
        let interp = expr.compile_with_host(&["x", "y"], &host, &interp()).unwrap();
        let native = expr.compile_with_host(&["x", "y"], &host, &jit()).unwrap();
        assert_eq!(native.jit_now(), Engine::Jit, "{src}");
        for xy in inputs {
            let run = |c: &kalix_expr::Compiled| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.eval(&xy).map_err(|e| e.to_string())))
                    .map_err(|p| p.downcast_ref::<String>().cloned().unwrap_or_default())
            };
            match (run(&interp), run(&native)) {
                (Ok(Ok(a)), Ok(Ok(b))) => {
                    assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "`{src}` {xy:?}: {a} vs JIT {b}");
                    native_results += 1;
                }
                (a, b) => {
                    assert_eq!(a, b, "`{src}` {xy:?}");
                    if a.is_err() {
                        panics += 1;
                    } else {
                        errors += 1;
                    }
                }
            }
        }
    }
    // Most evaluations give a value; failed lookups and asserts give errors; `fussy` panics.
    assert!(native_results > 50 && errors >= 10 && panics >= 1, "{native_results} {errors} {panics}");
    // A set of the same: a pass in which a member fails is done again on the interpreter,
    // which gives the first failing member's error.
    let (mut a, mut b) = (kalix_expr::ExprSet::new(), kalix_expr::ExprSet::new());
    for src in &sources[..4] {
        let expr = Expr::parse(src).unwrap();
        a.push(expr.compile_with_host(&["x", "y"], &host, &interp()).unwrap());
        b.push(expr.compile_with_host(&["x", "y"], &host, &jit()).unwrap());
    }
    assert_eq!(b.jit_now(), Engine::Jit);
    let (mut out_a, mut out_b) = (vec![0.0; 4], vec![0.0; 4]);
    for xy in inputs {
        match (a.eval_all(&xy, &mut out_a), b.eval_all(&xy, &mut out_b)) {
            (Ok(()), Ok(())) => {
                for (p, q) in out_a.iter().zip(&out_b) {
                    assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "{xy:?}: {p} vs JIT {q}");
                }
            }
            (p, q) => assert_eq!(p.map_err(|e| e.to_string()), q.map_err(|e| e.to_string()), "{xy:?}"),
        }
    }
}

#[test]
fn a_set_runs_its_jit_members_as_one_native_module_with_the_interpreters_bits() {
    use kalix_expr::ExprSet;
    // Shapes that recur (one native loop each), with their slots and constants varying.
    let sources: Vec<String> = (0..300)
        .map(|i| (i, ["x", "y"][i / 5 % 2], ["y", "x"][i / 10 % 2]))
        .map(|(i, a, b)| match i % 5 {
            0 => format!("max(0, min(37.5, {a} - {i}))"),
            1 => format!("{a} * 0.35 + {b} * {i}.5"),
            2 => "if(x > y, sqrt(x), ln(y))".to_string(),
            3 => "{ a = x * 2; assert(1); a }".to_string(),
            _ => format!("mean(x, y, {i}) % 7 ^ 1.5"),
        })
        .collect();
    let interp_opts = interp();
    let (mut interp, mut native) = (ExprSet::new(), ExprSet::new());
    for src in &sources {
        let e = Expr::parse(src).unwrap();
        interp.push(e.compile_with(&["x", "y"], &interp_opts).unwrap());
        native.push(e.compile_with(&["x", "y"], &jit()).unwrap());
    }
    assert_eq!(native.jit_now(), Engine::Jit); // its native module at once
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
            assert_eq!(c.jit_now(), Engine::Jit);
            assert_eq!(c.eval(&[1.0, 0.0]).unwrap(), i as f64);
        }
    };
    round(2_000);
    let before = resident();
    round(100_000);
    let after = resident();
    // Each module maps at least a page of code: kept, 100,000 would hold over 400 MB.
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
        let (Ok(interp), Ok(native)) = (expr.compile_with(&["x", "y", "z"], &interp()), expr.compile_with(&["x", "y", "z"], &jit())) else {
            return Ok(());
        };
        let _ = native.jit_now(); // native code at once, not after the warm-up
        let (a, b) = (interp.eval(&[x, y, z]).unwrap(), native.eval(&[x, y, z]).unwrap());
        prop_assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "`{}` at {:?}: {} vs JIT {}", src, (x, y, z), a, b);
    }

    /// Random expressions in a set, each with its variables renamed so that members share a
    /// shape and read other slots (one native loop): the interpreter's bits, member by member.
    #[test]
    fn random_sets_of_one_shape_give_the_interpreters_bits(src in expression(), x in value(), y in value(), z in value()) {
        use kalix_expr::ExprSet;
        // The variables are the lone letters x, y, z (function names are longer words).
        let renamed = |to: [&str; 3]| {
            let chars: Vec<char> = src.chars().collect();
            let word = |i: usize| chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_');
            (0..chars.len())
                .map(|i| match chars[i] {
                    c @ ('x' | 'y' | 'z') if !word(i.wrapping_sub(1)) && !word(i + 1) => to[(c as usize) - ('x' as usize)].to_string(),
                    c => c.to_string(),
                })
                .collect::<String>()
        };
        let (mut a, mut b) = (ExprSet::new(), ExprSet::new());
        for names in [["x", "y", "z"], ["y", "z", "x"], ["z", "x", "y"], ["y", "x", "z"], ["x", "z", "y"], ["z", "y", "x"]] {
            let Ok(e) = Expr::parse(&renamed(names)) else { return Ok(()) };
            let (Ok(p), Ok(q)) = (e.compile_with(&["x", "y", "z"], &interp()), e.compile_with(&["x", "y", "z"], &jit())) else {
                return Ok(());
            };
            a.push(p);
            b.push(q);
        }
        b.jit_now();
        let (mut p, mut q) = (vec![0.0; a.len()], vec![1.0; b.len()]);
        a.eval_all(&[x, y, z], &mut p).unwrap();
        b.eval_all(&[x, y, z], &mut q).unwrap();
        for (i, (p, q)) in p.iter().zip(&q).enumerate() {
            prop_assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "`{}` member {}: {} vs JIT {}", src, i, p, q);
        }
    }
}

/// The interpreter's and the JIT's results for `src` at `inputs` under `opts`, native code at
/// once; panics unless the JIT compiled it.
fn strict_pair(src: &str, opts: &Options, inputs: &[f64]) -> (Result<f64, String>, Result<f64, String>) {
    let expr = Expr::parse(src).unwrap();
    let interp = expr.compile_with(&["x", "y"], &Options { engine: Engine::Interpreter, ..opts.clone() }).unwrap();
    let native = expr.compile_with(&["x", "y"], &Options { engine: Engine::Jit, ..opts.clone() }).unwrap();
    assert_eq!(native.jit_now(), Engine::Jit, "{src}");
    let text = |r: Result<f64, kalix_expr::Error>| r.map_err(|e| e.to_string());
    (text(interp.eval(inputs)), text(native.eval(inputs)))
}

#[test]
fn strict_options_run_natively_and_report_the_interpreters_errors() {
    let div_error = Options { div_by_zero: DivByZero::Error, ..Options::default() };
    let div_nan = Options { div_by_zero: DivByZero::Nan, ..Options::default() };
    let domain = Options { domain_errors: DomainErrors::Error, ..Options::default() };
    let cases: &[(&str, &Options, [f64; 2], Option<&str>)] = &[
        // A division or remainder by zero, reported where it is written.
        ("x / y + 1", &div_error, [1.0, 0.0], Some("division by zero")),
        ("x % y", &div_error, [1.0, -0.0], Some("division by zero")),
        ("x / y", &div_error, [1.0, 4.0], None),
        // In a branch not taken: no error, the taken branch's value.
        ("if(y != 0, x / y, -1)", &div_error, [1.0, 0.0], None),
        // Division by zero is NaN, remainder by zero as IEEE.
        ("x / y", &div_nan, [1.0, 0.0], None),
        ("x % y", &div_nan, [1.0, 0.0], None),
        // Domain errors of built-ins and `^`, but not from a NaN argument.
        ("ln(x) + y", &domain, [-1.0, 0.0], Some("ln")),
        ("sqrt(x - y)", &domain, [1.0, 2.0], Some("sqrt")),
        ("x ^ y", &domain, [-8.0, 0.5], Some("^")),
        ("atan2(x, y) + ln(x)", &domain, [2.0, 1.0], None),
        ("ln(x)", &domain, [f64::NAN, 0.0], None),
        ("if(x > 0, ln(x), 0)", &domain, [-1.0, 0.0], None),
        ("max(ln(x), y)", &domain, [-1.0, f64::NAN], Some("ln")),
    ];
    for &(src, opts, inputs, error) in cases {
        let (a, b) = strict_pair(src, opts, &inputs);
        match (&a, &b, error) {
            (Ok(a), Ok(b), None) => {
                assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "`{src}`: {a} vs JIT {b}")
            }
            (Err(a), Err(b), Some(what)) => {
                assert_eq!(a, b, "`{src}`");
                assert!(b.contains(what), "`{src}`: {b}");
            }
            _ => panic!("`{src}` {inputs:?}: {a:?} vs JIT {b:?}, expected error {error:?}"),
        }
    }
}

/// The strict options: division by zero an error, NaN or IEEE, domain errors reported or not.
fn strict() -> impl Strategy<Value = Options> {
    (0..3usize, any::<bool>()).prop_map(|(div, domain)| Options {
        div_by_zero: [DivByZero::Error, DivByZero::Nan, DivByZero::Ieee][div],
        domain_errors: if domain { DomainErrors::Error } else { DomainErrors::Nan },
        ..Options::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Random expressions and inputs under strict options: the JIT gives the interpreter's
    /// bits, or its error, word for word.
    #[test]
    fn random_expressions_under_strict_options_give_the_interpreters_bits_and_errors(
        src in expression(), opts in strict(), x in value(), y in value(),
    ) {
        let src = src.replace('z', "x");
        if Expr::parse(&src).and_then(|e| e.compile_with(&["x", "y"], &opts)).is_err() {
            return Ok(()); // refused when compiled (a constant division by zero): both engines
        }
        match strict_pair(&src, &opts, &[x, y]) {
            (Ok(a), Ok(b)) => prop_assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "`{}`: {} vs JIT {}", src, a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a, b, "`{}`", src),
            (a, b) => prop_assert!(false, "`{}` at {:?}: {:?} vs JIT {:?}", src, (x, y), a, b),
        }
    }

    /// The same in a set: members under strict options, the set's error or values alike.
    #[test]
    fn random_sets_under_strict_options_give_the_interpreters_bits_and_errors(
        a in expression(), b in expression(), opts in strict(), x in value(), y in value(), z in value(),
    ) {
        use kalix_expr::ExprSet;
        let (mut p, mut q) = (ExprSet::new(), ExprSet::new());
        for src in [&a, &b, &a] {
            let Ok(e) = Expr::parse(src) else { return Ok(()) };
            let (Ok(i), Ok(j)) = (
                e.compile_with(&["x", "y", "z"], &Options { engine: Engine::Interpreter, ..opts.clone() }),
                e.compile_with(&["x", "y", "z"], &Options { engine: Engine::Jit, ..opts.clone() }),
            ) else {
                return Ok(());
            };
            p.push(i);
            q.push(j);
        }
        q.jit_now();
        let (mut u, mut v) = (vec![0.0; 3], vec![1.0; 3]);
        match (p.eval_all(&[x, y, z], &mut u), q.eval_all(&[x, y, z], &mut v)) {
            (Ok(()), Ok(())) => {
                for (i, (u, v)) in u.iter().zip(&v).enumerate() {
                    prop_assert!(u.to_bits() == v.to_bits() || (u.is_nan() && v.is_nan()), "member {}: {} vs JIT {}", i, u, v);
                }
            }
            (Err(e), Err(f)) => prop_assert_eq!(e.to_string(), f.to_string()),
            (e, f) => prop_assert!(false, "{:?} vs JIT {:?}", e, f),
        }
    }
}

/// A model whose series mix what the JIT compiles (pure, reading inputs, constants, the
/// calendar's fields and series computed before them in the step) with what it leaves to the
/// interpreter (offsets, windows, `*_since`, calendar calls, blocks).
fn mixed_model(engine: Engine) -> kalix_expr::Program {
    use kalix_expr::{Calendar, Date, Model};
    let mut model = Model::new(Calendar::daily(Date::new(2023, 12, 25).unwrap()));
    model.options(Options { engine, ..Options::model() });
    model.input("node.dam.dsflow").input("data.loss").constant("const.k", 0.75);
    let mut series = vec![
        ("var.b.flow", "max(0, node.dam.dsflow * const.k - data.loss)".to_string()),
        ("var.b.store", "this[-1, 100] + var.b.flow - node.dam.dsflow[-3, 0] / 4".to_string()),
        ("var.b.half", "var.b.store / 2 + if(sim.month > 6, var.b.flow, -var.b.flow)".to_string()),
        ("var.b.avg", "moving_mean(var.b.flow, 5, 1) + moving_max(data.loss, 3, -1)".to_string()),
    ];
    // A long run of pure series, each reading the one before: more than one native block.
    let chain: Vec<(String, String)> = (0..150)
        .map(|i| {
            let before = if i == 0 { "var.b.half".to_string() } else { format!("var.c.s{}", i - 1) };
            (format!("var.c.s{i}"), format!("{before} * 0.5 + sqrt(abs(var.b.avg)) % 7 + {i} - min(data.loss, {i})"))
        })
        .collect();
    for (name, src) in &chain {
        series.push((name.as_str(), src.clone()));
    }
    series.push(("var.b.since", "sum_since(var.b.flow, sim.new_month) + var.c.s149".to_string()));
    series.push(("var.b.cal", "{ d = sim.day_of_year; d * 100 + month_at(3) + var.b.since }".to_string()));
    series.push(("var.b.last", "var.b.cal - var.b.flow ^ 2 + mean(var.c.s3, var.c.s140, 2)".to_string()));
    for (name, src) in &series {
        model.series(*name, Expr::parse(src).unwrap());
    }
    model.compile().unwrap()
}

#[test]
fn a_models_step_runs_its_pure_series_as_native_code_with_the_interpreters_bits() {
    let (interp, native) = (mixed_model(Engine::Interpreter), mixed_model(Engine::Jit));
    assert_eq!(interp.jit_now(), Engine::Interpreter);
    assert_eq!(interp.native_series(), 0);
    assert_eq!(native.engine(), Engine::Interpreter, "not before a run's warm-up or `jit_now`");
    assert_eq!(native.jit_now(), Engine::Jit);
    // All but cal (a block, a calendar call): store's offsets are read when the step starts,
    // and the windows and accumulators of avg and since advance first, their outputs in slots.
    assert_eq!(native.native_series(), 156);
    let steps = 400;
    let dsflow: Vec<f64> =
        (0..steps).map(|t| if t % 17 == 5 { f64::NAN } else { ((t as f64) * 0.37).sin() * 40.0 + 30.0 }).collect();
    let loss: Vec<f64> = (0..steps).map(|t| ((t * 7919) % 13) as f64 * 0.3).collect();
    let a = interp.run(&[&dsflow, &loss], steps).unwrap();
    let b = native.run(&[&dsflow, &loss], steps).unwrap();
    let n = interp.series_names().count();
    for k in 0..n {
        for (t, (p, q)) in a.column_at(k).iter().zip(b.column_at(k)).enumerate() {
            assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "series {k} step {t}: {p} vs JIT {q}");
        }
    }
    // Stepped by a host in groups that end anywhere, inside native blocks too: the same bits.
    let mut run = native.start(kalix_expr::Date::new(2023, 12, 25).unwrap()).unwrap();
    for t in 0..60 {
        run.set_input(0, dsflow[t]);
        run.set_input(1, loss[t]);
        let mut end = 0;
        while end < n {
            end = (end + 1 + (t * 7 + end) % 23).min(n);
            run.eval_until(end).unwrap();
        }
        for k in 0..n {
            let (p, q) = (a.column_at(k)[t], run.value(k));
            assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "series {k} step {t}: {p} vs {q}");
        }
        run.next_step().unwrap();
    }
}

#[test]
fn the_jit_waits_until_an_expression_has_been_evaluated_often_enough_to_pay_for_it() {
    use kalix_expr::{ExprSet, JIT_AFTER};
    // Evaluated once (`kexpr eval`, a hover, a check): no native code is ever generated.
    let c = Expr::parse("x * 2 + 1").unwrap().compile_with(&["x"], &jit()).unwrap();
    let mut set = ExprSet::new();
    set.push(Expr::parse("x - 1").unwrap().compile_with(&["x"], &jit()).unwrap());
    let mut out = [0.0];
    for i in 0..JIT_AFTER + 5 {
        let warm = i <= JIT_AFTER;
        assert_eq!(c.engine() == Engine::Interpreter, warm, "after {i} evaluations");
        assert_eq!(set.engine() == Engine::Interpreter, warm, "after {i} calls");
        assert_eq!(c.eval(&[f64::from(i)]).unwrap(), f64::from(i) * 2.0 + 1.0);
        set.eval_all(&[f64::from(i)], &mut out).unwrap();
        assert_eq!(out[0], f64::from(i) - 1.0);
    }
    // Past the warm-up both are native; the values never changed on the way.
    assert_eq!(c.engine(), Engine::Jit);
    assert_eq!(set.engine(), Engine::Jit);
}

#[test]
fn a_models_run_turns_native_after_its_warm_up_steps_with_the_same_bits() {
    use kalix_expr::{Date, JIT_AFTER};
    let (interp, native) = (mixed_model(Engine::Interpreter), mixed_model(Engine::Jit));
    let start = Date::new(2023, 12, 25).unwrap();
    let (mut a, mut b) = (interp.start(start).unwrap(), native.start(start).unwrap());
    let steps = JIT_AFTER as usize + 50;
    for t in 0..steps {
        assert_eq!(native.native_series() == 0, t < JIT_AFTER as usize, "step {t}");
        for run in [&mut a, &mut b] {
            run.set_input(0, ((t as f64) * 0.37).sin() * 40.0 + 30.0);
            run.set_input(1, ((t * 7919) % 13) as f64 * 0.3);
            run.eval_all().unwrap();
        }
        for (p, q) in a.series_values().zip(b.series_values()) {
            assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "step {t}: {p} vs JIT {q}");
        }
        a.next_step().unwrap();
        b.next_step().unwrap();
    }
}

#[test]
fn a_model_under_strict_options_runs_natively_and_fails_at_the_interpreters_step() {
    use kalix_expr::{Calendar, Date, Model};
    let build = |engine| {
        let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
        let strict = Options { div_by_zero: DivByZero::Error, domain_errors: DomainErrors::Error, ..Options::model() };
        model.options(Options { engine, ..strict });
        model.input("data.a").input("data.b");
        for (name, src) in [
            ("var.q", "data.a / data.b"),
            ("var.r", "if(data.b > 0, sqrt(data.a - data.b), 0) + var.q"),
            ("var.s", "var.r + this[-1, 0]"),
            ("var.m", "moving_mean(var.q, 3, 0) / var.s"),
        ] {
            model.series(name, Expr::parse(src).unwrap());
        }
        model.compile().unwrap()
    };
    let (interp, native) = (build(Engine::Interpreter), build(Engine::Jit));
    assert_eq!(native.jit_now(), Engine::Jit);
    // q, r and s (its offset read when the step starts); m's window stays with the
    // interpreter under strict options.
    assert_eq!(native.native_series(), 3);
    let steps = 400;
    let a: Vec<f64> =
        (0..steps).map(|t| if t % 19 == 4 { f64::NAN } else { ((t as f64) * 0.3).sin() * 4.0 + 10.0 }).collect();
    let b: Vec<f64> = (0..steps).map(|t| ((t * 13) % 5) as f64 + 1.0).collect();
    // No error: the same bits (NaN inputs give NaN, not a domain error).
    let (p, q) = (interp.run(&[&a, &b], steps).unwrap(), native.run(&[&a, &b], steps).unwrap());
    for k in 0..4 {
        for (t, (p, q)) in p.column_at(k).iter().zip(q.column_at(k)).enumerate() {
            assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "series {k} step {t}: {p} vs JIT {q}");
        }
    }
    // A zero divisor at step 300 (in `q`; `r`'s branch is not taken), then a square root of
    // a negative number at step 250: the same error, step and place.
    for (step, divisor, what) in [(300, 0.0, "division by zero"), (250, 20.0, "sqrt")] {
        let mut b = b.clone();
        b[step] = divisor;
        let (e, f) = (interp.run(&[&a, &b], steps).unwrap_err(), native.run(&[&a, &b], steps).unwrap_err());
        assert_eq!(e.to_string(), f.to_string());
        assert!(f.to_string().contains(what) && f.to_string().contains(&step.to_string()), "{f}");
    }
}

/// Runs `src` as the one series of a model over `rows` (one step each) on `engine`, its native
/// code built at once; its values and how many series were native, or `None` where a model
/// does not take the case (a name a model reserves, an input's future).
fn model_run(src: &str, names: &[&str], rows: &[Vec<f64>], engine: Engine) -> Option<(Vec<f64>, usize)> {
    use kalix_expr::{Calendar, Date, Model};
    let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    model.options(Options { engine, ..Options::default() });
    for name in names {
        model.input(*name);
    }
    model.series("var.case.value", Expr::parse(src).ok()?);
    let program = model.compile().ok()?;
    program.jit_now();
    let columns: Vec<Vec<f64>> = (0..names.len()).map(|i| rows.iter().map(|row| row[i]).collect()).collect();
    let columns: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let out = program.run(&columns, rows.len()).ok()?;
    Some((out.column_at(0).to_vec(), program.native_series()))
}

macro_rules! model_cases {
    ($( $src:tt [$($names:tt)*] { $( [$($v:expr),* $(,)?] $(=> $want:expr)? );* $(;)? } )*) => {{
        let mut native = 0;
        $(
            let names: &[&str] = &names!($($names)*);
            let rows: Vec<Vec<f64>> = vec![$(vec![$($v),*]),*];
            if !rows.is_empty() {
                let a = model_run($src, names, &rows, Engine::Interpreter);
                let b = model_run($src, names, &rows, Engine::Jit);
                assert_eq!(a.is_some(), b.is_some(), "`{}`: one engine ran it, the other did not", $src);
                if let (Some((a, _)), Some((b, n))) = (a, b) {
                    native += n;
                    for (t, (p, q)) in a.iter().zip(&b).enumerate() {
                        assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "`{}` step {t}: {p} vs JIT {q}", $src);
                    }
                }
            }
        )*
        native
    }};
}

#[test]
fn the_case_tables_run_as_model_series_give_the_same_bits_on_both_engines() {
    // The language table, each case a series stepped over its rows: its pure cases are native.
    let native = cases!(model_cases);
    assert!(native >= 150, "the JIT compiled {native} cases as model series");
    // The stepped table of windows and accumulators: interpreted series beside native ones.
    let _ = step_cases!(model_cases);
}
