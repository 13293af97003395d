//! The simulation calendar: proleptic Gregorian dates from a start date and a fixed timestep,
//! in UTC, with no time zones or leap seconds (docs/language.md, `sim.*`).

use std::fmt;

/// A calendar date.
///
/// ```
/// use kalix_expr_core::Date;
/// let d: Date = "2000-02-28".parse()?;
/// assert_eq!(d.add_days(1).to_string(), "2000-02-29");
/// assert_eq!(d.add_days(2).to_string(), "2000-03-01");
/// # Ok::<(), kalix_expr_core::DateError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// The year (1 for `0001`).
    pub year: i64,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, 1 to 31.
    pub day: u32,
}

/// A text that is not a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date `{text}`: expected YYYY-MM-DD")]
pub struct DateError {
    /// The text.
    pub text: String,
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` of `year`.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

impl Date {
    /// The earliest year a date may have: far beyond any hydrological record, and near enough
    /// that every step of a run (in seconds since 1970) stays within `i64`.
    pub const MIN_YEAR: i64 = -1_000_000;
    /// The latest year a date may have.
    pub const MAX_YEAR: i64 = 1_000_000;

    /// A date, if it exists and its year is within [`Date::MIN_YEAR`]..=[`Date::MAX_YEAR`].
    ///
    /// ```
    /// use kalix_expr_core::Date;
    /// assert!(Date::new(2024, 2, 29).is_some());
    /// assert!(Date::new(2023, 2, 29).is_none());
    /// assert!(Date::new(1 << 40, 12, 30).is_none());
    /// ```
    pub fn new(year: i64, month: u32, day: u32) -> Option<Date> {
        let year_ok = (Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year);
        (year_ok && (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// Days since 1970-01-01 (negative before), by Howard Hinnant's `days_from_civil`.
    pub fn to_days(self) -> i64 {
        // A date built field by field may hold any year: it counts as the nearest one allowed.
        let year = self.year.clamp(Self::MIN_YEAR, Self::MAX_YEAR);
        let y = if self.month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01, by Howard Hinnant's `civil_from_days`; days beyond the
    /// years a date may have give the first or last day of those years.
    pub fn from_days(days: i64) -> Date {
        // The clamp keeps the arithmetic below in range.
        let first = Date { year: Self::MIN_YEAR, month: 1, day: 1 }.to_days();
        let last = Date { year: Self::MAX_YEAR, month: 12, day: 31 }.to_days();
        let z = days.clamp(first, last) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }

    /// The date `n` days later (earlier for negative `n`).
    pub fn add_days(self, n: i64) -> Date {
        Date::from_days(self.to_days().saturating_add(n))
    }

    /// Day of the year, 1 to 366.
    pub fn day_of_year(self) -> u32 {
        const BEFORE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let before = BEFORE.get(self.month.wrapping_sub(1) as usize).copied().unwrap_or(0);
        before.saturating_add(self.day) + u32::from(self.month > 2 && is_leap(self.year))
    }
}

impl std::str::FromStr for Date {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Date, DateError> {
        let bad = || DateError { text: s.chars().take(40).collect() };
        let mut parts = s.trim().splitn(3, '-');
        let (y, m, d) = (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
        let digits =
            |t: &str, n: std::ops::RangeInclusive<usize>| n.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4..=4) || !digits(m, 1..=2) || !digits(d, 1..=2) {
            return Err(bad());
        }
        let (y, m, d) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
        Date::new(y, m, d).ok_or_else(bad)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The `sim.*` fields, in slot order.
pub const SIM_FIELDS: &[&str] = &[
    "sim.step",
    "sim.year",
    "sim.month",
    "sim.day",
    "sim.day_of_year",
    "sim.days_in_month",
    "sim.days_in_year",
    "sim.is_leap",
    "sim.new_day",
    "sim.new_month",
    "sim.new_year",
];

/// What a `sim.*` field is, in one line (for an editor's hover).
///
/// ```
/// assert_eq!(kalix_expr_core::sim_field_doc("sim.MONTH"), Some("the month of the step's date, 1 to 12"));
/// ```
pub fn sim_field_doc(name: &str) -> Option<&'static str> {
    let doc = match name.to_lowercase().as_str() {
        "sim.step" => "the 0-based step of the run",
        "sim.year" => "the year of the step's date",
        "sim.month" => "the month of the step's date, 1 to 12",
        "sim.day" => "the day of the month of the step's date, 1 to 31",
        "sim.day_of_year" => "the day of the year of the step's date, 1 to 366",
        "sim.days_in_month" => "the number of days in the step's month",
        "sim.days_in_year" => "the number of days in the step's year, 365 or 366",
        "sim.is_leap" => "1 if the step's year is a leap year, else 0",
        "sim.new_day" => "1 on every step (a new day begins each daily step)",
        "sim.new_month" => "1 on the first step of a month (and on step 0), else 0",
        "sim.new_year" => "1 on the first step of a year (and on step 0), else 0",
        _ => return None,
    };
    Some(doc)
}

/// A run's calendar: the date of every step from a start date and a fixed timestep.
///
/// ```
/// use kalix_expr_core::{Calendar, Date};
/// let cal = Calendar::daily(Date::new(2000, 12, 31).unwrap());
/// assert_eq!(cal.date(1).to_string(), "2001-01-01");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    /// The date of step 0 (at midnight).
    pub start: Date,
    /// Seconds per step (86,400 for daily).
    pub step_seconds: u64,
}

impl Calendar {
    /// A daily calendar from `start`.
    pub fn daily(start: Date) -> Calendar {
        Calendar { start, step_seconds: 86_400 }
    }

    /// Seconds since 1970-01-01 of `step`'s start.
    pub fn seconds(&self, step: usize) -> i64 {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        self.start
            .to_days()
            .saturating_mul(86_400)
            .saturating_add(step.saturating_mul(i64::try_from(self.step_seconds).unwrap_or(i64::MAX)))
    }

    /// The date of `step`.
    pub fn date(&self, step: usize) -> Date {
        Date::from_days(self.seconds(step).div_euclid(86_400))
    }

    /// The date `round(n)` days after the date of `step` (**compat**: NaN is 0 days).
    pub fn date_in_days(&self, step: usize, n: f64) -> Date {
        let days = n.round() as i64;
        let secs = self.seconds(step).saturating_add(days.saturating_mul(86_400));
        Date::from_days(secs.div_euclid(86_400))
    }

    /// The `sim.*` field `field` (an index into [`SIM_FIELDS`]) at `step`; NaN past the end.
    pub fn field(&self, field: usize, step: usize) -> f64 {
        self.fields(step).get(field).copied().unwrap_or(f64::NAN)
    }

    /// Every `sim.*` field at `step`, in [`SIM_FIELDS`] order.
    pub fn fields(&self, step: usize) -> [f64; 11] {
        let d = self.date(step);
        let prev = (step > 0).then(|| self.date(step - 1));
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        [
            step as f64,
            d.year as f64,
            f64::from(d.month),
            f64::from(d.day),
            f64::from(d.day_of_year()),
            f64::from(days_in_month(d.year, d.month)),
            if is_leap(d.year) { 366.0 } else { 365.0 },
            flag(is_leap(d.year)),
            flag(prev.is_none_or(|p| p != d)),
            flag(prev.is_none_or(|p| (p.year, p.month) != (d.year, d.month))),
            flag(prev.is_none_or(|p| p.year != d.year)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_across_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            assert_eq!(Date::from_days(days).to_days(), days);
        }
        assert_eq!(Date::new(1970, 1, 1).unwrap().to_days(), 0);
        assert_eq!(Date::new(1, 1, 1).unwrap().add_days(365).to_string(), "0002-01-01");
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!("2000-02-29".parse::<Date>().unwrap(), Date { year: 2000, month: 2, day: 29 });
        for bad in ["1900-02-29", "2000-13-01", "2000-1-", "20000-01-01", "x", ""] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sim_fields_follow_the_date() {
        let cal = Calendar::daily(Date::new(2000, 12, 31).unwrap());
        let f = |name: &str, step| cal.field(SIM_FIELDS.iter().position(|n| *n == name).unwrap(), step);
        assert_eq!(f("sim.day_of_year", 0), 366.0);
        assert_eq!(f("sim.is_leap", 0), 1.0);
        assert_eq!(f("sim.year", 1), 2001.0);
        assert_eq!(f("sim.new_year", 0), 1.0);
        assert_eq!(f("sim.new_year", 1), 1.0);
        assert_eq!(f("sim.new_year", 2), 0.0);
        assert_eq!(f("sim.new_month", 2), 0.0);
        assert_eq!(f("sim.new_day", 2), 1.0);
        assert_eq!(f("sim.days_in_month", 59), 28.0);
        assert_eq!(f("sim.days_in_month", 60), 31.0);
        assert_eq!(cal.date_in_days(0, 59.6).to_string(), "2001-03-01");
        assert_eq!(cal.date_in_days(0, f64::NAN), cal.date(0));
    }

    #[test]
    fn every_sim_field_is_documented() {
        for f in SIM_FIELDS {
            assert!(sim_field_doc(f).is_some(), "{f}");
        }
        assert_eq!(sim_field_doc("sim.nope"), None);
    }
}
