//! An expression serialises as its source text, with its description when it has one, and
//! deserialising validates it.

use kalix_expr::Expr;

#[test]
fn an_expression_serialises_as_its_source_text() {
    let e = Expr::parse("max(0, rain - loss)").unwrap();
    assert_eq!(serde_json::to_string(&e).unwrap(), r#""max(0, rain - loss)""#);
    let back: Expr = serde_json::from_str(r#""max(0, rain - loss)""#).unwrap();
    assert_eq!(back, e);
    assert_eq!(back.source(), "max(0, rain - loss)");
}

#[test]
fn a_description_travels_with_the_expression() {
    let e = Expr::parse("rain * 0.8").unwrap().with_description("effective rain");
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(json, r#"{"expr":"rain * 0.8","description":"effective rain"}"#);
    let back: Expr = serde_json::from_str(&json).unwrap();
    assert_eq!(back.description(), Some("effective rain"));
    assert_eq!(back, e);
}

#[test]
fn deserialising_reports_syntax_and_name_errors() {
    let err = serde_json::from_str::<Expr>(r#""max(1,""#).unwrap_err().to_string();
    assert!(err.contains("unclosed `(`"), "{err}");
    let err = serde_json::from_str::<Expr>(r#"{"expr": "lg10(x)"}"#).unwrap_err().to_string();
    assert!(err.contains("unknown function `lg10`") && err.contains("did you mean `log10`?"), "{err}");
    assert!(serde_json::from_str::<Expr>("42").is_err());
}
