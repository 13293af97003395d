//! Property tests: the print → parse round trip on generated trees, arbitrary text never panics
//! and every error span lies inside the input on `char` boundaries, and the interpreter agrees
//! bit for bit with a deliberately plain reference tree-walker.

use kalix_expr_core::ast::{Ast, BinaryOp, Block, Name, Node, NodeKind, Stmt, UnaryOp};
use kalix_expr_core::{parse, Expr, ExprSet, ParseOptions, Span};
use proptest::prelude::*;

fn name(text: &str) -> Name {
    Name { text: text.to_string(), span: Span::default(), trailing_dot: false }
}

fn node(kind: NodeKind) -> Node {
    Node { kind, span: Span::default() }
}

const NAMES: &[&str] = &["x", "rain", "data.climate_csv.by_index.1", "node.0001_gauge.dsflow", "_t", "e1", "nan_days"];
const FUNCS: &[&str] = &["max", "MIN", "f", "sin", "if", "fn.g", "table.t"];
const BINARY: &[BinaryOp] = &[
    BinaryOp::Or,
    BinaryOp::And,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Lt,
    BinaryOp::Le,
    BinaryOp::Gt,
    BinaryOp::Ge,
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Rem,
    BinaryOp::Pow,
];

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..1000).prop_map(f64::from),
        any::<f64>().prop_filter("no NaN literal", |x| !x.is_nan()),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.1),
        Just(1e-300),
    ]
}

fn leaf() -> impl Strategy<Value = Node> {
    prop_oneof![
        number().prop_map(|x| node(NodeKind::Number(x))),
        prop::sample::select(NAMES).prop_map(|n| node(NodeKind::Var(name(n)))),
        (prop::sample::select(NAMES), -5i64..5, prop_oneof![number(), Just(f64::NAN)])
            .prop_map(|(n, step, default)| node(NodeKind::Offset { name: name(n), step, default })),
    ]
}

fn tree() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            (prop::sample::select(&[UnaryOp::Neg, UnaryOp::Plus, UnaryOp::Not][..]), inner.clone())
                .prop_map(|(op, x)| node(NodeKind::Unary { op, operand: Box::new(x) })),
            (prop::sample::select(BINARY), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| node(NodeKind::Binary { op, lhs: Box::new(a), rhs: Box::new(b) })),
            (prop::sample::select(FUNCS), prop::collection::vec(inner, 0..4))
                .prop_map(|(f, args)| node(NodeKind::Call { name: name(f), args })),
        ]
    })
}

fn ast() -> impl Strategy<Value = Ast> {
    let stmt = prop_oneof![
        (prop::sample::select(&["a", "b", "total"][..]), tree()).prop_map(|(n, value)| Stmt::Assign {
            name: name(n),
            value,
            span: Span::default()
        }),
        tree().prop_map(|cond| Stmt::Assert { cond, span: Span::default() }),
    ];
    prop_oneof![
        tree().prop_map(Ast::Expr),
        (prop::collection::vec(stmt, 0..4), tree()).prop_map(|(stmts, result)| Ast::Block(Block {
            stmts,
            result,
            span: Span::default()
        })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn printed_trees_parse_back_to_the_same_tree(tree in ast()) {
        let printed = tree.to_string();
        let parsed = parse(&printed, &ParseOptions { max_len: usize::MAX, ..ParseOptions::default() })
            .map_err(|e| TestCaseError::fail(format!("{printed}\n{e}")))?;
        prop_assert_eq!(parsed.to_sexpr(), tree.to_sexpr(), "printed as {}", printed);
    }

    #[test]
    fn arbitrary_text_never_panics_and_spans_stay_in_bounds(src in ".{0,80}") {
        check_spans(&src);
    }

    #[test]
    fn expression_like_text_never_panics(src in "[-+*/%^!<>=&|(),;{}\\[\\] .0-9a-eE_xn]{0,60}") {
        check_spans(&src);
    }
}

fn check_spans(src: &str) {
    let result = Expr::parse(src).and_then(|e| {
        let names = e.variables().iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        e.compile(&names).map(|c| c.eval(&vec![1.5; names.len()]).map(|_| ()))
    });
    let err = match result {
        Ok(Ok(())) => return,
        Ok(Err(e)) | Err(e) => e,
    };
    for d in err.diagnostics() {
        let s = d.span();
        assert!(s.start <= s.end && s.end <= src.len(), "{s:?} outside {src:?}");
        assert!(src.is_char_boundary(s.start) && src.is_char_boundary(s.end), "{s:?} splits a char in {src:?}");
        assert!(d.line() >= 1 && d.column() >= 1);
    }
    let _ = err.to_string();
}

// ---- the interpreter against a plain reference walker ----

/// Evaluates the operator and function subset that `arith()` generates, one node at a time,
/// written as plainly as possible from docs/language.md.
fn reference(n: &Node, x: f64, y: f64) -> f64 {
    let truth = |v: f64| v != 0.0;
    let b = |c: bool| if c { 1.0 } else { 0.0 };
    match &n.kind {
        NodeKind::Number(v) => *v,
        NodeKind::Var(v) if v.text == "x" => x,
        NodeKind::Var(_) => y,
        NodeKind::Unary { op: UnaryOp::Neg, operand } => -reference(operand, x, y),
        NodeKind::Unary { op: UnaryOp::Plus, operand } => reference(operand, x, y),
        NodeKind::Unary { op: UnaryOp::Not, operand } => b(reference(operand, x, y) == 0.0),
        NodeKind::Binary { op, lhs, rhs } => {
            let l = reference(lhs, x, y);
            match op {
                BinaryOp::And => b(truth(l) && truth(reference(rhs, x, y))),
                BinaryOp::Or => b(truth(l) || truth(reference(rhs, x, y))),
                _ => {
                    let r = reference(rhs, x, y);
                    match op {
                        BinaryOp::Add => l + r,
                        BinaryOp::Sub => l - r,
                        BinaryOp::Mul => l * r,
                        BinaryOp::Div => l / r,
                        BinaryOp::Rem => l % r,
                        BinaryOp::Pow => l.powf(r),
                        BinaryOp::Eq => b((l - r).abs() < f64::EPSILON),
                        BinaryOp::Ne => b((l - r).abs() >= f64::EPSILON),
                        BinaryOp::Lt => b(l < r),
                        BinaryOp::Le => b(l <= r),
                        BinaryOp::Gt => b(l > r),
                        BinaryOp::Ge => b(l >= r),
                        BinaryOp::And | BinaryOp::Or => unreachable!(),
                    }
                }
            }
        }
        NodeKind::Call { name, args } => {
            let v: Vec<f64> = args.iter().map(|a| reference(a, x, y)).collect();
            match name.text.as_str() {
                "if" => {
                    if truth(v[0]) {
                        v[1]
                    } else {
                        v[2]
                    }
                }
                "max" => v[1..].iter().fold(v[0], |a, &c| a.max(c)),
                "min" => v[1..].iter().fold(v[0], |a, &c| a.min(c)),
                "sum" => v[1..].iter().fold(v[0], |a, &c| a + c),
                "abs" => v[0].abs(),
                "sqrt" => v[0].sqrt(),
                "round" => v[0].round(),
                "sign" => {
                    if v[0] == 0.0 || v[0].is_nan() {
                        v[0]
                    } else {
                        v[0].signum()
                    }
                }
                "floor" => v[0].floor(),
                "sin" => v[0].sin(),
                "exp" => v[0].exp(),
                "ln" => v[0].ln(),
                "clamp" => v[0].max(v[1]).min(v[2]),
                other => panic!("no reference for {other}"),
            }
        }
        NodeKind::Offset { .. } => unreachable!("not generated"),
    }
}

fn special() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -1e3f64..1e3,
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.5),
        1 => Just(-2.5),
    ]
}

fn arith() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        special().prop_filter("literal", |v| !v.is_nan()).prop_map(|v| node(NodeKind::Number(v))),
        prop::sample::select(&["x", "y"][..]).prop_map(|n| node(NodeKind::Var(name(n)))),
    ];
    leaf.prop_recursive(5, 48, 3, |inner| {
        prop_oneof![
            (prop::sample::select(&[UnaryOp::Neg, UnaryOp::Plus, UnaryOp::Not][..]), inner.clone())
                .prop_map(|(op, x)| node(NodeKind::Unary { op, operand: Box::new(x) })),
            (prop::sample::select(BINARY), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| node(NodeKind::Binary { op, lhs: Box::new(a), rhs: Box::new(b) })),
            (prop::sample::select(&["abs", "sqrt", "round", "sign", "floor", "sin", "exp", "ln"][..]), inner.clone())
                .prop_map(|(f, a)| node(NodeKind::Call { name: name(f), args: vec![a] })),
            (prop::sample::select(&["max", "min", "sum"][..]), prop::collection::vec(inner.clone(), 2..5))
                .prop_map(|(f, args)| node(NodeKind::Call { name: name(f), args })),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| node(NodeKind::Call { name: name("if"), args: vec![c, a, b] })),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c)| node(NodeKind::Call { name: name("clamp"), args: vec![a, b, c] })),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn interpreter_agrees_with_the_reference_walker(tree in arith(), x in special(), y in special()) {
        let src = Ast::Expr(tree.clone()).to_string();
        let compiled = Expr::parse(&src).unwrap().compile(&["x", "y"]).unwrap();
        let got = compiled.eval(&[x, y]).unwrap();
        let want = reference(&tree, x, y);
        prop_assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "{} at x={}, y={}: interpreter {} vs reference {}", src, x, y, got, want
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn batch_evaluation_agrees_with_single_evaluation(tree in arith(), xs in prop::collection::vec(special(), 1..150), y in special()) {
        let src = Ast::Expr(tree).to_string();
        let compiled = Expr::parse(&src).unwrap().compile(&["x", "y"]).unwrap();
        let ys = vec![y; xs.len()];
        let mut out = vec![0.0; xs.len()];
        compiled.eval_batch(&[&xs, &ys], &mut out).unwrap();
        let mut par = vec![0.0; xs.len()];
        compiled.eval_batch_par(&[&xs, &ys], &mut par).unwrap();
        for (r, x) in xs.iter().enumerate() {
            let single = compiled.eval(&[*x, y]).unwrap();
            for got in [out[r], par[r]] {
                prop_assert!(
                    got.to_bits() == single.to_bits() || (got.is_nan() && single.is_nan()),
                    "{} at row {}: batch {} vs single {}", src, r, got, single
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A set of generated expressions gives each member's own `Compiled::eval` bits, from one
    /// shared node array, by `eval_all` and by `eval(i)`.
    #[test]
    fn a_set_agrees_with_its_members_evaluated_alone(trees in prop::collection::vec(arith(), 1..12), x in special(), y in special()) {
        let compiled: Vec<_> = trees
            .iter()
            .map(|t| Expr::parse(&Ast::Expr(t.clone()).to_string()).unwrap().compile(&["x", "y"]).unwrap())
            .collect();
        let singles: Vec<f64> = compiled.iter().map(|c| c.eval(&[x, y]).unwrap()).collect();
        let set: ExprSet = compiled.into_iter().collect();
        let mut out = vec![0.0; set.len()];
        set.eval_all(&[x, y], &mut out).unwrap();
        for (i, single) in singles.iter().enumerate() {
            for got in [out[i], set.eval(i, &[x, y]).unwrap()] {
                prop_assert!(
                    got.to_bits() == single.to_bits() || (got.is_nan() && single.is_nan()),
                    "{:?} at x={}, y={}: set {} vs alone {}", set.source(i), x, y, got, single
                );
            }
        }
    }
}
