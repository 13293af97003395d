//! `KALIX_FUNCTIONS` names the library directory. (Its own test binary: it sets the
//! environment of the process.)

use std::path::Path;

use kalix_expr_core::library::Library;

#[test]
fn the_environment_variable_names_the_directory_and_an_option_wins() {
    let dir = std::env::temp_dir().join(format!("kalix-library-env-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::env::set_var(Library::ENV_VAR, &dir);
    assert_eq!(Library::default_dir(), Some(dir.clone()));
    assert_eq!(Library::resolve_dir(Some(Path::new("/elsewhere"))), Some("/elsewhere".into()));
    let (lib, report) = Library::open_default(None).unwrap();
    assert!(report.is_clean());
    assert_eq!(lib.dir(), Some(dir.as_path()));
    assert!(dir.is_dir(), "created on open");
    // Empty means unset.
    std::env::set_var(Library::ENV_VAR, "");
    assert!(Library::default_dir().is_none_or(|d| d.ends_with("kalix/functions")));
    std::env::remove_var(Library::ENV_VAR);
    std::fs::remove_dir_all(&dir).unwrap();
}
