//! The VS Code extension in `editors/vscode` highlights every built-in the engine has, and
//! nothing else, and its files are valid JSON.

use kalix_expr::builtins::BUILTINS;

fn read(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format!("{}/editors/vscode/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_grammar_lists_every_builtin_and_nothing_else() {
    let grammar = read("syntaxes/kalix.tmLanguage.json");
    let patterns = grammar["repository"]["expression"]["patterns"].as_array().unwrap();
    let builtin = patterns.iter().find(|p| p["name"] == "support.function.builtin.kalix").unwrap();
    let regex = builtin["match"].as_str().unwrap();
    let inner = regex.split("(?:").nth(1).unwrap().split(')').next().unwrap();
    let mut listed: Vec<&str> = inner.split('|').collect();
    listed.sort_unstable();
    let mut engine: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
    engine.sort_unstable();
    assert_eq!(listed, engine);
}

#[test]
fn the_extension_starts_kexpr_lsp_for_its_language() {
    let package = read("package.json");
    assert_eq!(package["contributes"]["languages"][0]["id"], "kalix");
    assert_eq!(package["contributes"]["grammars"][0]["scopeName"], "source.kalix");
    let _ = read("language-configuration.json");
    let js = std::fs::read_to_string(format!("{}/editors/vscode/extension.js", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert!(js.contains("args.push(\"lsp\")"), "the extension runs `kexpr lsp`");
}
