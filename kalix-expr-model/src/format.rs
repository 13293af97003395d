//! Printing values so that they read back exactly.

/// The shortest text that [`str::parse::<f64>`] reads back to exactly `value`, in plain
/// decimal unless the decimal exponent is 21 or more or -7 or less (JavaScript's rule), where
/// the exponent form is used: `1000`, `0.000001`, `1e21`, `1e-7`. `NaN`, `inf` and `-inf` as
/// Rust writes and reads them.
///
/// ```
/// use kalix_expr_model::format_value;
/// assert_eq!(format_value(0.1 + 0.2), "0.30000000000000004");
/// assert_eq!(format_value(1000.0), "1000");
/// assert_eq!(format_value(1e300), "1e300");
/// assert_eq!(format_value(-0.0), "-0");
/// ```
pub fn format_value(value: f64) -> String {
    if !value.is_finite() || value == 0.0 {
        return value.to_string();
    }
    // Rust's `{:e}` is the shortest round-trip digits with the exponent after `e`.
    let exponent_form = format!("{value:e}");
    let exponent: i32 = exponent_form.rsplit('e').next().and_then(|e| e.parse().ok()).unwrap_or(0);
    if (-6..=20).contains(&exponent) {
        // `{}` is the same shortest digits in plain decimal.
        value.to_string()
    } else {
        exponent_form
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
    fn plain_decimal_is_used_for_exponents_from_minus_6_to_20() {
        assert_eq!(format_value(1000.0), "1000");
        assert_eq!(format_value(1e16), "10000000000000000");
        assert_eq!(format_value(1e20), "100000000000000000000");
        assert_eq!(format_value(-1.5e20), "-150000000000000000000");
        assert_eq!(format_value(0.001), "0.001");
        assert_eq!(format_value(0.000001), "0.000001");
        assert_eq!(format_value(1.25e-6), "0.00000125");
        assert_eq!(format_value(0.0015), "0.0015");
    }

    #[test]
    fn the_exponent_form_is_used_from_21_and_from_minus_7() {
        assert_eq!(format_value(1e21), "1e21");
        assert_eq!(format_value(1.5e21), "1.5e21");
        assert_eq!(format_value(1e-7), "1e-7");
        assert_eq!(format_value(-9.99e-7), "-9.99e-7");
        assert_eq!(format_value(1.5e-300), "1.5e-300");
        assert_eq!(format_value(f64::MAX), "1.7976931348623157e308");
        assert_eq!(format_value(5e-324), "5e-324");
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
            // Either of Rust's two shortest forms, never anything longer.
            assert!(text == v.to_string() || text == format!("{v:e}"), "{v:?} printed as {text}");
        }
    }
}
