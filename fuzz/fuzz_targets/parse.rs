//! Parse arbitrary text: never a panic, a hang or a stack overflow; every error span lies inside
//! the input on char boundaries; a successful parse prints to text that parses to the same tree.
#![no_main]

use kalix_expr_core::{parse, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let opts = ParseOptions::default();
    match parse(src, &opts) {
        Ok(ast) => {
            let printed = ast.to_string();
            let big = ParseOptions { max_len: usize::MAX, depth_limit: usize::MAX / 2, nest_limit: 100_000 };
            let again = parse(&printed, &big).expect("the canonical form parses");
            assert!(ast.same_shape(&again), "{src:?} printed as {printed:?}");
        }
        Err(e) => {
            for d in e.diagnostics() {
                let s = d.span();
                assert!(s.start <= s.end && s.end <= src.len());
                assert!(src.is_char_boundary(s.start) && src.is_char_boundary(s.end));
            }
            let _ = e.to_string();
        }
    }
});
