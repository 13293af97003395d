//! Build and run a small model from arbitrary expression text (a series reading an input, its
//! own past, a table and a user function): never a panic, and every run error names a step.
#![no_main]

use kalix_expr_core::{Calendar, Date, Expr, FnDef, Functions, Model, Table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let mut parts = src.splitn(2, '\n');
    let (series, body) = (parts.next().unwrap_or(""), parts.next().unwrap_or("x"));
    let Ok(expr) = Expr::parse(series) else { return };
    let Some(start) = Date::new(2000, 1, 1) else { return };
    let mut model = Model::new(Calendar::daily(start));
    model.input("data.x").constant("const.k", 2.0);
    if let Ok(t) = Table::from_cells("t", &["0", "0", "10", "100"], 2) {
        model.table(t);
    }
    if let Ok(f) = FnDef::parse("f(x)", body) {
        if let Ok(functions) = Functions::new(vec![f]) {
            model.functions(functions);
        }
    }
    model.series("var.b.a", expr);
    let Ok(program) = model.compile() else { return };
    let xs = [1.0, f64::NAN, -0.0, 1e300, -3.5, 0.0, 7.0, f64::INFINITY];
    if let Err(e) = program.run(&[&xs], xs.len()) {
        assert!(e.step < xs.len());
        let _ = e.to_string();
    }
});
