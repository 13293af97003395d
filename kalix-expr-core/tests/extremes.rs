//! Public entry points driven with extreme arguments: an error, never a panic, an abort or a
//! hang (these run in debug builds, where arithmetic overflow panics).

use kalix_expr_core::library::{Library, LibraryError, FILE_NAME};
use kalix_expr_core::{Calendar, Date, ErrorKind, Expr, FnDef, Model};

fn model() -> Model {
    let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    model.series("var.b.k", Expr::parse("sim.step * 2").unwrap());
    model
}

#[test]
fn a_run_too_large_to_hold_is_an_error_before_anything_is_allocated() {
    let program = model().compile().unwrap();
    for steps in [usize::MAX, 1 << 40, kalix_expr_core::Program::MAX_RUN_VALUES + 1] {
        let err = program.run(&[], steps).unwrap_err();
        assert!(matches!(err.error.kind(), ErrorKind::LimitExceeded { .. }), "{err}");
        assert!(err.error.help().unwrap().contains("steps of 1 series"), "{err}");
    }
    assert_eq!(program.run(&[], 3).unwrap().column_at(0), [0.0, 2.0, 4.0]);
}

#[test]
fn a_model_with_no_series_runs_any_number_of_steps_at_once() {
    let mut empty = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    empty.input("data.x");
    let out = empty.compile().unwrap().run(&[], usize::MAX).unwrap();
    assert_eq!((out.steps(), out.names().len()), (usize::MAX, 0));
}

#[test]
fn dates_stay_within_their_years() {
    assert_eq!(Date::new(1 << 40, 12, 30), None);
    assert_eq!(Date::new(-(1 << 40), 1, 1), None);
    assert!(Date::new(Date::MAX_YEAR, 12, 31).is_some());
    for days in [i64::MAX, i64::MIN, 0, -1] {
        let d = Date::from_days(days);
        assert!((Date::MIN_YEAR - 1..=Date::MAX_YEAR + 1).contains(&d.year), "{d}");
    }
    let far = Date::new(1970, 1, 1).unwrap().add_days(i64::MAX);
    assert!(far.year <= Date::MAX_YEAR + 1);
    let calendar = Calendar::daily(Date::new(Date::MAX_YEAR, 12, 31).unwrap());
    let _ = calendar.fields(usize::MAX);
    let _ = calendar.date_in_days(usize::MAX, f64::INFINITY);
    let calendar = Calendar { start: Date { year: i64::MAX, month: 12, day: 31 }, step_seconds: u64::MAX };
    let _ = calendar.seconds(usize::MAX);
    assert!("1099511627776-12-30".parse::<Date>().is_err());
}

#[test]
fn a_library_at_the_largest_version_refuses_a_change_without_overflowing() {
    let dir = std::env::temp_dir().join(format!("kalix-extremes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!("[library]\nformat = 1\nversion = {}\n\n[fn]\n", u64::MAX);
    std::fs::write(dir.join(FILE_NAME), text).unwrap();
    let (library, _) = Library::open(&dir).unwrap();
    assert_eq!(library.version(), u64::MAX);
    let err = library.add(FnDef::parse("f(x)", "x").unwrap()).unwrap_err();
    assert!(matches!(err, LibraryError::FileUnusable { .. }), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
