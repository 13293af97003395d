//! Building a validated set of user functions (docs/language.md): signature rules, reserved
//! names, duplicates, every body's calls and arity, and recursion cycles (named in full). It
//! resolves each body, so it sits above the resolver; the set itself ([`Functions`]) is in
//! [`crate::host`], below it, where the resolver reads it.

use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::host::{FnDef, Functions, NativeFn};
use crate::options::Options;
use crate::span::Span;
use crate::table::Table;

impl Functions {
    /// Validates `defs` as a whole. Every problem is reported: duplicates (at any arity),
    /// bodies that call unknown functions or with the wrong arity, and recursion cycles, even in
    /// functions nobody calls.
    pub fn new(defs: Vec<FnDef>) -> Result<Functions, Vec<Error>> {
        Functions::with_natives(defs, &[])
    }

    /// [`Functions::new`] where bodies may also call `natives` by their bare names.
    ///
    /// ```
    /// use kalix_expr_core::{FnDef, Functions, NativeFn};
    /// use std::sync::Arc;
    /// let g = Arc::new(NativeFn::pure("g", 1, |a| a[0] * 10.0)?);
    /// let defs = vec![FnDef::parse("f(x)", "g(x) + 1")?];
    /// assert!(Functions::new(defs.clone()).is_err());
    /// assert!(Functions::with_natives(defs, &[g]).is_ok());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn with_natives(defs: Vec<FnDef>, natives: &[Arc<NativeFn>]) -> Result<Functions, Vec<Error>> {
        Functions::with_host(defs, natives, &[])
    }

    /// [`Functions::with_natives`] where bodies may also call `tables` as `table.<name>(…)`, as
    /// the `[fn]` functions of a model call its tables.
    ///
    /// ```
    /// use kalix_expr_core::{FnDef, Functions, Table};
    /// use std::sync::Arc;
    /// let curve = Arc::new(Table::from_cells("curve", &["0", "0", "10", "100"], 2).unwrap());
    /// let defs = vec![FnDef::parse("look(x)", "table.curve(x) * 2")?];
    /// assert!(Functions::new(defs.clone()).is_err());
    /// assert!(Functions::with_host(defs, &[], &[curve]).is_ok());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn with_host(
        defs: Vec<FnDef>,
        natives: &[Arc<NativeFn>],
        tables: &[Arc<Table>],
    ) -> Result<Functions, Vec<Error>> {
        let (set, errors) = Functions::validate(defs, natives, tables);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors.into_iter().map(|(_, e)| e).collect())
        }
    }

    /// Validates `defs` as a whole, each problem with the index in `defs` of the definition it
    /// belongs to (`usize::MAX` for the set as a whole). The set holds every definition but
    /// the duplicates, and is valid only when there are no problems.
    pub(crate) fn validate(
        defs: Vec<FnDef>,
        natives: &[Arc<NativeFn>],
        tables: &[Arc<Table>],
    ) -> (Functions, Vec<(usize, Error)>) {
        let mut errors = Vec::new();
        let mut set = Functions::default();
        if defs.len() > Self::MAX_DEFINITIONS {
            let src: Arc<str> = Arc::from("");
            let what = "a function library may hold at most 10,000 definitions";
            errors.push((usize::MAX, Error::new(&src, Span::default(), ErrorKind::LimitExceeded { what }, None)));
            return (set, errors);
        }
        // The index in `defs` of each definition kept.
        let mut origin = Vec::with_capacity(defs.len());
        for (i, def) in defs.into_iter().enumerate() {
            if set.index.contains_key(&def.name) {
                let span = Span::new(0, def.signature.find('(').unwrap_or(0));
                errors.push((
                    i,
                    Error::new(
                        &def.signature,
                        span,
                        ErrorKind::FunctionDuplicate { name: def.name.clone() },
                        Some("one definition per name: there are no overloads".into()),
                    ),
                ));
                continue;
            }
            set.index.insert(def.name.clone(), set.defs.len());
            set.defs.push(Arc::new(def));
            origin.push(i);
        }
        errors.extend(set.cycles().into_iter().map(|(k, e)| (origin[k], e)));
        if errors.is_empty() {
            // A chain deeper than expansion allows is reported once, at its head; its members'
            // bodies are not expanded (each would fail the same way).
            let depths = set.depths();
            let too_deep = |k: usize| depths[k] > crate::sema::EXPANSION_LIMIT;
            if let Some(head) = (0..set.defs.len()).filter(|k| too_deep(*k)).max_by_key(|k| depths[*k]) {
                let def = &set.defs[head];
                let span = Span::new(0, def.signature.find('(').unwrap_or(0));
                let what = "user functions call each other more than 64 deep";
                let help = format!(
                    "`fn.{}` starts a chain of {} calls: each is expanded in place, so flatten it",
                    def.name, depths[head]
                );
                errors.push((
                    origin[head],
                    Error::new(&def.signature, span, ErrorKind::LimitExceeded { what }, Some(help)),
                ));
            }
            // Resolve every body on its own (parameters as locals, every other name free), which
            // checks built-in calls, arity, blocks, offsets, and `fn.*` calls with expansion.
            for (k, def) in set.defs.iter().enumerate() {
                if too_deep(k) {
                    set.pure.push(false);
                    continue;
                }
                match set.check_body(def, natives, tables) {
                    Ok(pure) => set.pure.push(pure),
                    Err(e) => {
                        set.pure.push(false);
                        errors.push((origin[k], e));
                    }
                }
            }
        }
        (set, errors)
    }

    /// Resolves a body on its own; whether its value depends on its arguments alone.
    fn check_body(&self, def: &FnDef, natives: &[Arc<NativeFn>], tables: &[Arc<Table>]) -> Result<bool, Error> {
        // `this` is bound at each call site; alone, a body may use it freely.
        let host = crate::host::Host {
            functions: Some(self),
            natives,
            tables,
            this_node: Some("this"),
            this_series: Some("this"),
        };
        let params: Vec<&str> = def.params.iter().map(String::as_str).collect();
        let (ir, free) =
            crate::sema::resolve_body(def.body.ast(), def.body.shared_source(), &params, &host, &Options::model())?;
        Ok(free.is_empty() && crate::ir::is_pure(&ir))
    }

    /// The length of the longest call chain from each definition (1 for one that calls no
    /// user function). The call graph must have no cycle.
    fn depths(&self) -> Vec<usize> {
        let calls: Vec<Vec<usize>> =
            self.defs.iter().map(|d| d.calls().iter().filter_map(|c| self.index.get(c).copied()).collect()).collect();
        let mut depth = vec![0usize; self.defs.len()];
        for root in 0..self.defs.len() {
            // Post-order with an explicit stack: a definition's depth once its callees have one.
            let mut stack = vec![root];
            while let Some(&f) = stack.last() {
                if depth[f] > 0 {
                    stack.pop();
                    continue;
                }
                let pending: Vec<usize> = calls[f].iter().copied().filter(|g| depth[*g] == 0).collect();
                if pending.is_empty() {
                    depth[f] = 1 + calls[f].iter().map(|g| depth[*g]).max().unwrap_or(0);
                    stack.pop();
                } else {
                    stack.extend(pending);
                }
            }
        }
        depth
    }

    /// Every call cycle, each reported once, named in full (`fn.a -> fn.b -> fn.a`), with the
    /// index of the definition that closes it.
    fn cycles(&self) -> Vec<(usize, Error)> {
        let mut errors = Vec::new();
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut mark = vec![0u8; self.defs.len()];
        let calls: Vec<Vec<usize>> =
            self.defs.iter().map(|d| d.calls().iter().filter_map(|c| self.index.get(c).copied()).collect()).collect();
        for root in 0..self.defs.len() {
            if mark[root] != 0 {
                continue;
            }
            // Depth-first with an explicit stack of (function, next callee index).
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            mark[root] = 1;
            while let Some(&mut (f, ref mut next)) = path.last_mut() {
                if let Some(&g) = calls[f].get(*next) {
                    *next += 1;
                    match mark[g] {
                        0 => {
                            mark[g] = 1;
                            path.push((g, 0));
                        }
                        1 => {
                            let start = path.iter().position(|(p, _)| *p == g).unwrap_or(0);
                            let mut names: Vec<String> =
                                path[start..].iter().map(|(p, _)| format!("fn.{}", self.defs[*p].name)).collect();
                            names.push(format!("fn.{}", self.defs[g].name));
                            let def = &self.defs[g];
                            let span = Span::new(0, def.signature.find('(').unwrap_or(0));
                            errors.push((
                                g,
                                Error::new(
                                    &def.signature,
                                    span,
                                    ErrorKind::RecursionCycle { cycle: names.join(" -> ") },
                                    Some(
                                        "functions may call others but never, directly or through others, \
                                         themselves"
                                            .into(),
                                    ),
                                ),
                            ));
                        }
                        _ => {}
                    }
                } else {
                    mark[f] = 2;
                    path.pop();
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(sig: &str, body: &str) -> FnDef {
        FnDef::parse(sig, body).unwrap_or_else(|e| panic!("{sig} = {body}: {e}"))
    }

    #[test]
    fn signatures_follow_the_rules() {
        assert_eq!(def("Storage_Frac(V, cap)", "v / cap").name(), "storage_frac");
        for (sig, kind) in [
            ("f", "SignatureInvalid"),
            ("f(a", "SignatureInvalid"),
            ("f(a,)", "SignatureInvalid"),
            ("1f(a)", "SignatureInvalid"),
            ("f(a.b)", "SignatureInvalid"),
            ("f(a, a)", "ParameterDuplicate"),
            ("sin(a)", "NameReserved"),
            ("f(this)", "NameReserved"),
            ("f(max)", "NameReserved"),
        ] {
            let e = FnDef::parse(sig, "1").unwrap_err();
            assert!(format!("{:?}", e.kind()).starts_with(kind), "{sig}: {e}");
        }
    }

    #[test]
    fn duplicates_and_cycles_are_reported_together() {
        let errs = Functions::new(vec![
            def("a(x)", "fn.b(x)"),
            def("b(x)", "fn.c(x) + fn.a(x)"),
            def("c(x)", "x"),
            def("c(x, y)", "x"),
            def("d()", "fn.d()"),
        ])
        .unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 3, "{text:#?}");
        assert!(text[0].contains("duplicate function `c`"));
        assert!(text[1].contains("fn.a -> fn.b -> fn.a"));
        assert!(text[2].contains("fn.d -> fn.d"));
    }

    #[test]
    fn bodies_are_checked() {
        let errs = Functions::new(vec![def("f(x)", "lg10(x) + fn.g(x, 1)"), def("g(x)", "x")]).unwrap_err();
        let text = errs[0].to_string();
        assert!(text.contains("unknown function `lg10`"), "{text}");
        assert!(text.contains("`fn.g` takes 1 argument, found 2"), "{text}");
        assert!(Functions::new(vec![def("f(x)", "{ y = x * 2; assert(y > 0); fn.g(y) }"), def("g(x)", "x + data.a")])
            .is_ok());
    }
}
