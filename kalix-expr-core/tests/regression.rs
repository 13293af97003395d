//! Findings of the fuzz targets (`fuzz/`), each kept as a named test. Every entry gives the
//! symptom, the cause and the artifact that found it.

use kalix_expr_core::{ErrorKind, Expr};

/// Symptom: `parse` panicked with "byte index is not a char boundary" on `sqrtÅ(\u{85}abs(cononrn`.
/// Cause: the help line of an unclosed call sliced the source one byte after the last non-name
/// char before `(`, inside a multi-byte char (U+0085 is whitespace, so the call went on).
/// Found by: `fuzz/` target `parse`, artifacts crash-eff6ea3021f45586040cc6a8caf7dda0c5d9d850,
/// crash-7598ed5f3265405e9a924dc2c8978b16e1df30c3 and crash-87bed4cbf0a221a0b5708bd96e4d3c3e3acfa4f4
/// (`\u{a0}a\u{a0}\u{a0}\u{a0}(cf`: no-break spaces before the call's name).
#[test]
fn unclosed_call_after_a_multibyte_char_is_an_error_not_a_panic() {
    for src in
        ["sqrt\u{c5}(\u{85}abs(cononrn", "if(\u{85}tanAif(\u{85}imAAmAA", "é(x", "xé(1", "\u{a0}a\u{a0}\u{a0}\u{a0}(cf"]
    {
        let err = Expr::parse(src).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::ParenUnclosed, "{src:?}");
        let _ = err.to_string();
    }
    assert_eq!(Expr::parse("é(x").unwrap_err().help(), Some("add `)` to close the call to `é`"));
}
