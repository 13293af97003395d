//! The full rendered text of every error kind (STYLE.md: `tests/errors.rs`). A change to a
//! message or to the layout shows up here as a readable diff.

use kalix_expr_core::{DivByZero, DomainErrors, Expr, Options};

/// Parses and compiles `src` against `names`, and returns the rendered error.
fn rendered(src: &str, names: &[&str]) -> String {
    match Expr::parse(src).and_then(|e| e.compile(names)) {
        Ok(_) => panic!("{src:?} compiled"),
        Err(e) => e.to_string(),
    }
}

/// Compiles `src` against `x` with strict options, evaluates it at `x`, and returns the rendered
/// error.
fn rendered_eval(src: &str, x: f64) -> String {
    let opts = Options { div_by_zero: DivByZero::Error, domain_errors: DomainErrors::Error, ..Options::default() };
    let c = Expr::parse(src).unwrap().compile_with(&["x"], &opts).unwrap();
    c.eval(&[x]).unwrap_err().to_string()
}

#[test]
fn number_invalid() {
    assert_eq!(
        rendered("1.2.3", &[]),
        r#"error: invalid number `1.2.3`
 --> 1:1
  |
1 | 1.2.3
  | ^^^^^
  |
  = help: a number is digits with an optional `.fraction` and exponent, as in `1.5e-3`"#
    );
}

#[test]
fn operator_missing() {
    assert_eq!(
        rendered("2x", &[]),
        r#"error: expected an operator, found `x`
 --> 1:2
  |
1 | 2x
  |  ^
  |
  = help: there is no implicit multiplication: write `2 * x`"#
    );
}

#[test]
fn operator_unknown() {
    assert_eq!(
        rendered("a = 1", &[]),
        r#"error: unknown operator `=`
 --> 1:3
  |
1 | a = 1
  |   ^
  |
  = help: use `==` to compare; `name = expr;` assigns only inside a block `{ …; result }`"#
    );
}

#[test]
fn token_unexpected() {
    assert_eq!(
        rendered("1 + * 2", &[]),
        r#"error: expected an expression, found `*`
 --> 1:5
  |
1 | 1 + * 2
  |     ^"#
    );
}

#[test]
fn end_unexpected() {
    assert_eq!(
        rendered("1 +", &[]),
        r#"error: expected an expression, found end of input
 --> 1:4
  |
1 | 1 +
  |    ^"#
    );
}

#[test]
fn char_invalid() {
    assert_eq!(
        rendered("a $ b", &[]),
        r#"error: unexpected character '$'
 --> 1:3
  |
1 | a $ b
  |   ^"#
    );
}

#[test]
fn expression_empty() {
    assert_eq!(
        rendered("", &[]),
        r#"error: empty expression
 --> 1:1
  |
1 | 
  | ^"#
    );
}

#[test]
fn paren_unclosed() {
    assert_eq!(
        rendered("max(0, avg(x)", &[]),
        r#"error: unclosed `(`
 --> 1:4
  |
1 | max(0, avg(x)
  |    ^
  |
  = help: add `)` to close the call to `max`"#
    );
}

#[test]
fn bracket_unclosed() {
    assert_eq!(
        rendered("x[-1, 0", &[]),
        r#"error: unclosed `[`
 --> 1:2
  |
1 | x[-1, 0
  |  ^
  |
  = help: add `]` to close the offset"#
    );
}

#[test]
fn brace_unclosed() {
    assert_eq!(
        rendered("{ a = 1; a", &[]),
        r#"error: unclosed `{`
 --> 1:1
  |
1 | { a = 1; a
  | ^
  |
  = help: add `}` to close the block"#
    );
}

#[test]
fn delimiter_unmatched() {
    assert_eq!(
        rendered("1 + 2)", &[]),
        r#"error: unmatched `)`
 --> 1:6
  |
1 | 1 + 2)
  |      ^"#
    );
}

#[test]
fn name_invalid() {
    assert_eq!(
        rendered("a..b", &[]),
        r#"error: invalid name `a..b`
 --> 1:1
  |
1 | a..b
  | ^^^^
  |
  = help: a name's segments are separated by a single `.`"#
    );
}

#[test]
fn argument_missing() {
    assert_eq!(
        rendered("f(1,,2)", &[]),
        r#"error: missing argument
 --> 1:5
  |
1 | f(1,,2)
  |     ^
  |
  = help: remove the extra `,` or add the missing argument"#
    );
}

#[test]
fn offset_invalid() {
    assert_eq!(
        rendered("x[+1, 0]", &[]),
        r#"error: invalid offset: the step takes no `+`
 --> 1:3
  |
1 | x[+1, 0]
  |   ^
  |
  = help: write `[1, default]` for one step ahead"#
    );
}

#[test]
fn offset_target() {
    assert_eq!(
        rendered("(x)[-1, 0]", &[]),
        r#"error: an offset applies to a name only
 --> 1:2
  |
1 | (x)[-1, 0]
  |  ^^^
  |
  = help: write the offset on the series name, as in `x[-1, 0]`"#
    );
}

#[test]
fn block_misplaced() {
    assert_eq!(
        rendered("1 + { 2 }", &[]),
        r#"error: a block is only allowed as the whole value
 --> 1:5
  |
1 | 1 + { 2 }
  |     ^
  |
  = help: a block `{ …; result }` must be the whole value and cannot nest"#
    );
}

#[test]
fn program_no_result() {
    assert_eq!(
        rendered("{ a = 1; }", &[]),
        r#"error: program has no result value
 --> 1:10
  |
1 | { a = 1; }
  |          ^
  |
  = help: end the block with an expression, with no `;` after it"#
    );
}

#[test]
fn statement_invalid() {
    assert_eq!(
        rendered("{ 1; 2 }", &[]),
        r#"error: expected a statement (`name = expr;` or `assert(cond);`)
 --> 1:3
  |
1 | { 1; 2 }
  |   ^
  |
  = help: only the last item of a block may be a bare expression"#
    );
}

#[test]
fn function_unknown() {
    assert_eq!(
        rendered("max(0, lg10(x))", &["x"]),
        r#"error: unknown function `lg10`
 --> 1:8
  |
1 | max(0, lg10(x))
  |        ^^^^
  |
  = help: did you mean `log10`?"#
    );
}

#[test]
fn function_unknown_synonym() {
    assert_eq!(
        rendered("log(x)", &["x"]),
        r#"error: unknown function `log`
 --> 1:1
  |
1 | log(x)
  | ^^^
  |
  = help: did you mean `ln` or `log10`?"#
    );
}

#[test]
fn arity_mismatch() {
    assert_eq!(
        rendered("sin(1, 2)", &[]),
        r#"error: `sin` takes 1 argument, found 2
 --> 1:1
  |
1 | sin(1, 2)
  | ^^^
  |
  = help: sin: sine (radians)"#
    );
}

#[test]
fn variable_unknown() {
    assert_eq!(
        rendered("rain + lss", &["rain", "loss"]),
        r#"error: unknown variable `lss`
 --> 1:8
  |
1 | rain + lss
  |        ^^^
  |
  = help: did you mean `loss`?"#
    );
}

#[test]
fn local_unassigned() {
    assert_eq!(
        rendered("{ b = a + 1; a = 2; b }", &[]),
        r#"error: local `a` is used before it is assigned
 --> 1:7
  |
1 | { b = a + 1; a = 2; b }
  |       ^
  |
  = help: assign a local above its first use; model references need a namespace such as `data.` or `node.`"#
    );
}

#[test]
fn local_name_invalid() {
    assert_eq!(
        rendered("{ max = 1; max }", &[]),
        r#"error: `max` cannot be a local name: it is a built-in function
 --> 1:3
  |
1 | { max = 1; max }
  |   ^^^"#
    );
}

#[test]
fn offset_forbidden() {
    assert_eq!(
        rendered("const.k[-1, 0]", &["const.k"]),
        r#"error: `const.k` cannot take an offset of -1: a constant has no past or future
 --> 1:1
  |
1 | const.k[-1, 0]
  | ^^^^^^^"#
    );
}

#[test]
fn assert_misplaced() {
    assert_eq!(
        rendered("1 + assert(x)", &["x"]),
        r#"error: `assert` is a statement, not a function
 --> 1:5
  |
1 | 1 + assert(x)
  |     ^^^^^^
  |
  = help: write `assert(cond);` as a statement of a block `{ …; result }`"#
    );
}

#[test]
fn argument_not_literal() {
    assert_eq!(
        rendered("moving_mean(x, n, 0)", &["x", "n"]),
        r#"error: argument 2 of `moving_mean` must be a positive whole number literal (the window length)
 --> 1:16
  |
1 | moving_mean(x, n, 0)
  |                ^
  |
  = help: the window is sized when the model loads, so write a number such as `30`"#
    );
}

#[test]
fn calendar_required() {
    assert_eq!(
        rendered("month_at(3)", &[]),
        r#"error: `month_at` needs a simulation calendar, which a single expression does not have
 --> 1:1
  |
1 | month_at(3)
  | ^^^^^^^^
  |
  = help: run it in a model, where the calendar is known"#
    );
}

#[test]
fn several_at_once() {
    assert_eq!(
        rendered("max(0, avg(rain) - loss) + lg10(x) + y", &["rain", "loss", "x"]),
        r#"error: unknown function `lg10`
 --> 1:28
  |
1 | max(0, avg(rain) - loss) + lg10(x) + y
  |                            ^^^^
  |
  = help: did you mean `log10`?

error: unknown variable `y`
 --> 1:38
  |
1 | max(0, avg(rain) - loss) + lg10(x) + y
  |                                      ^"#
    );
}

#[test]
fn second_line() {
    assert_eq!(
        rendered("max(1,\n    2 +)", &[]),
        r#"error: expected an expression, found `)`
 --> 2:8
  |
2 |     2 +)
  |        ^"#
    );
}

#[test]
fn nest_limit_exceeded() {
    assert_eq!(
        rendered(&("(".repeat(300) + "1"), &[]),
        r#"error: nesting deeper than the limit of 256
 --> 1:257
  |
1 | ...((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((...
  |                                            ^
  |
  = help: simplify the expression: split it into locals of a block, or user functions"#
    );
}

#[test]
fn division_by_zero() {
    assert_eq!(
        rendered_eval("1 + x / 0", 1.0),
        r#"error: division by zero
 --> 1:5
  |
1 | 1 + x / 0
  |     ^^^^^"#
    );
}

#[test]
fn domain_error() {
    assert_eq!(
        rendered_eval("sqrt(x)", -4.0),
        r#"error: `sqrt` is not defined for -4
 --> 1:1
  |
1 | sqrt(x)
  | ^^^^^^^"#
    );
}

#[test]
fn assert_failed() {
    assert_eq!(
        rendered_eval("{ assert(x > 0); x }", -1.0),
        r#"error: assertion failed: `assert(x > 0)` is 0
 --> 1:3
  |
1 | { assert(x > 0); x }
  |   ^^^^^^^^^^^^^"#
    );
}
