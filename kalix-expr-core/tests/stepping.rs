//! The stepping API: a host drives a run one step at a time, setting the inputs it computes
//! during the step, and gets the bits of a whole run over the same inputs.

use kalix_expr_core::{Calendar, Date, Expr, Model, Program, Run};

fn model(series: &[(&str, &str)], inputs: &[&str]) -> Program {
    let mut model = Model::new(Calendar::daily(Date::new(2023, 12, 25).unwrap()));
    for i in inputs {
        model.input(*i);
    }
    model.constant("const.k", 0.75);
    for (name, src) in series {
        model.series(*name, Expr::parse(src).unwrap());
    }
    model.compile().unwrap()
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Offsets into inputs and series, every window and `*_since`, the calendar, a block and `if`.
const SERIES: &[(&str, &str)] = &[
    ("var.b.flow", "max(0, node.dam.dsflow * const.k - data.loss[-1, 2])"),
    ("var.b.store", "this[-1, 100] + var.b.flow - node.dam.dsflow[-3, 0] / 4"),
    ("var.b.avg", "moving_mean(var.b.flow, 5, 1) + moving_max(data.loss, 3, -1) - moving_min(data.loss, 4, 0)"),
    ("var.b.sum", "moving_sum(if(sim.month == 1, var.b.flow, 0), 30, 0)"),
    ("var.b.since", "sum_since(var.b.flow, sim.new_month) + steps_since(var.b.flow > 10) * count_since(data.loss > 1, sim.new_year)"),
    ("var.b.cal", "{ d = sim.day_of_year; m = month_at(3); d * 100 + m + var.b.store[-2, -7] }"),
    ("var.b.last", "min_since(var.b.avg, sim.day == 1) + max_since(var.b.cal[-1, 0], sim.new_day)"),
];

fn inputs(steps: usize) -> (Vec<f64>, Vec<f64>) {
    let dsflow =
        (0..steps).map(|t| if t % 17 == 5 { f64::NAN } else { ((t as f64) * 0.37).sin() * 40.0 + 30.0 }).collect();
    let loss = (0..steps).map(|t| ((t * 7919) % 13) as f64 * 0.3).collect();
    (dsflow, loss)
}

#[test]
fn a_stepped_run_gives_the_bits_of_a_whole_run() {
    let program = model(SERIES, &["node.dam.dsflow", "data.loss"]);
    let steps = 400;
    let (dsflow, loss) = inputs(steps);
    let whole = program.run(&[&dsflow, &loss], steps).unwrap();

    let (flow_in, loss_in) =
        (program.input_index("NODE.dam.dsflow").unwrap(), program.input_index("data.loss").unwrap());
    let mut run = program.start(Date::new(2023, 12, 25).unwrap()).unwrap();
    for t in 0..steps {
        assert_eq!(run.step(), t);
        run.set_input(flow_in, dsflow[t]);
        run.set_input(loss_in, loss[t]);
        run.eval_all().unwrap();
        for (k, v) in run.series_values().enumerate() {
            let w = whole.column_at(k)[t];
            assert!(same(v, w), "{} at step {t}: stepped {v}, whole {w}", SERIES[k].0);
        }
        run.next_step().unwrap();
    }
}

#[test]
fn a_host_interleaves_its_own_computation_between_groups() {
    // The simulation computes the dam's outflow from the first group's result, during the step.
    let program = model(
        &[("var.b.demand", "10 + sim.step"), ("var.b.release", "min(node.dam.dsflow, var.b.demand) + this[-1, 0]")],
        &["node.dam.dsflow"],
    );
    let (dsflow, release) =
        (program.input_index("node.dam.dsflow").unwrap(), program.series_index("var.b.release").unwrap());
    let mut run = program.start(Date::new(2000, 1, 1).unwrap()).unwrap();
    let mut released = Vec::new();
    for _ in 0..3 {
        run.eval_until(release).unwrap();
        let demand = run.value(0);
        run.set_input(dsflow, demand * 0.5); // the host's own routing
        run.eval_all().unwrap();
        released.push(run.value(release));
        run.next_step().unwrap();
    }
    assert_eq!(released, [5.0, 5.0 + 5.5, 5.0 + 5.5 + 6.0]);
}

#[test]
fn each_series_is_evaluated_once_a_step_so_windows_advance_once() {
    let program = model(&[("var.b.n", "steps_since(0)")], &[]);
    let mut run = program.start(Date::new(2000, 1, 1).unwrap()).unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        run.eval_all().unwrap();
        run.eval_all().unwrap(); // already evaluated: nothing more happens
        seen.push(run.value(0));
        run.next_step().unwrap();
    }
    assert_eq!(seen, [0.0, 1.0, 2.0]);
}

#[test]
fn the_calendar_follows_the_start_date() {
    let program = model(&[("var.b.m", "sim.month * 100 + sim.day")], &[]);
    let mut run = program.start(Date::new(2024, 2, 28).unwrap()).unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        run.eval_all().unwrap();
        seen.push((run.date().to_string(), run.value(0)));
        run.next_step().unwrap();
    }
    assert_eq!(seen, [("2024-02-28".into(), 228.0), ("2024-02-29".into(), 229.0), ("2024-03-01".into(), 301.0)]);
}

#[test]
fn an_input_s_future_cannot_be_stepped() {
    let program = model(&[("var.b.next", "data.x[1, 0]")], &["data.x"]);
    let err = program.start(Date::new(2000, 1, 1).unwrap()).unwrap_err();
    assert!(err.error.to_string().contains("future"), "{err}");
    // A whole run still reads it.
    assert_eq!(program.run(&[&[1.0, 2.0]], 2).unwrap().column_at(0), [2.0, 0.0]);
}

#[test]
fn a_run_is_send_so_independent_runs_go_on_threads() {
    fn send<T: Send>(_: &T) {}
    let program = model(SERIES, &["node.dam.dsflow", "data.loss"]);
    let run: Run<'_> = program.start(Date::new(2000, 1, 1).unwrap()).unwrap();
    send(&run);
    let results: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|k| {
                let program = &program;
                s.spawn(move || {
                    let mut run = program.start(Date::new(2000, 1, 1).unwrap()).unwrap();
                    for _ in 0..50 {
                        run.set_input(0, k as f64);
                        run.set_input(1, 1.0);
                        run.next_step().unwrap();
                    }
                    run.eval_all().unwrap();
                    run.value(1)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results[0] < results[3], "{results:?}");
}
