//! Printing values so that they read back exactly.

/// The shortest text that [`str::parse::<f64>`] reads back to exactly `value`: the shorter of
/// Rust's `{}` and `{:e}` forms, preferring `{}` on a tie. Both are shortest round-trip forms, so
/// either would do; the choice is only about length (`1e300` rather than 301 digits).
///
/// ```
/// use kalix_expr_cli::format_value;
/// assert_eq!(format_value(0.1 + 0.2), "0.30000000000000004");
/// assert_eq!(format_value(1e300), "1e300");
/// assert_eq!(format_value(-0.0), "-0");
/// ```
pub fn format_value(value: f64) -> String {
    let plain = value.to_string();
    let exponent = format!("{value:e}");
    if exponent.len() < plain.len() {
        exponent
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::format_value;

    #[test]
    fn whole_numbers_print_without_a_fraction() {
        assert_eq!(format_value(5.0), "5");
        assert_eq!(format_value(-3.0), "-3");
        assert_eq!(format_value(123456.0), "123456");
    }

    #[test]
    fn special_values_print_as_rust_reads_them() {
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_value(-0.0), "-0");
        assert_eq!(format_value(0.0), "0");
    }

    #[test]
    fn the_exponent_form_is_used_only_when_shorter() {
        assert_eq!(format_value(1e16), "1e16");
        assert_eq!(format_value(1e-7), "1e-7");
        assert_eq!(format_value(1.5e-300), "1.5e-300");
        assert_eq!(format_value(f64::MAX), "1.7976931348623157e308");
        assert_eq!(format_value(5e-324), "5e-324");
        assert_eq!(format_value(100.0), "100");
        assert_eq!(format_value(1000.0), "1e3");
        assert_eq!(format_value(1500.0), "1500");
        assert_eq!(format_value(0.01), "0.01");
        assert_eq!(format_value(0.001), "1e-3");
        assert_eq!(format_value(0.0015), "0.0015");
    }

    #[test]
    fn every_printed_value_reads_back_bit_for_bit() {
        let mut bits: u64 = 0x9E37_79B9_7F4A_7C15;
        let samples = [0.1, 1.0 / 3.0, 2f64.sqrt(), 1e22, 1e23, 9007199254740993.0, f64::MIN_POSITIVE, -1e-310];
        let random = (0..10_000).map(|_| {
            // xorshift: any bit pattern, subnormals and huge exponents included.
            bits ^= bits << 13;
            bits ^= bits >> 7;
            bits ^= bits << 17;
            f64::from_bits(bits)
        });
        for v in samples.into_iter().chain(random).filter(|v| !v.is_nan()) {
            let text = format_value(v);
            assert_eq!(text.parse::<f64>().map(f64::to_bits), Ok(v.to_bits()), "{v:?} printed as {text}");
            assert!(text.len() <= v.to_string().len() && text.len() <= format!("{v:e}").len());
        }
    }
}
