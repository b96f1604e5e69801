//! How numbers are printed: exactly for logs, briefly for people.

/// A JSON number for an f64 (§10): the shortest decimal that round-trips, and
/// `null` for a value that is not finite.
///
/// Rust's `Display` is shortest-round-trip but never uses an exponent (1e-300 would
/// print 300 zeros), so very small and very large magnitudes use the (equally
/// shortest) exponent form, e.g. `1e-7`, `2.5e20`: valid JSON either way.
pub fn json_number(x: f64) -> String {
    if !x.is_finite() {
        return "null".to_string();
    }
    shortest(x, 1e-5..1e16)
}

/// The shortest decimal that round-trips: plain for 0 and for magnitudes in
/// `plain`, else in exponent form (`1e-7`, `2.5e20`).
pub fn shortest(x: f64, plain: std::ops::Range<f64>) -> String {
    let a = x.abs();
    if a == 0.0 || plain.contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// A number for people: at most `digits` significant digits, no trailing zeros,
/// exponent form for very small or large magnitudes.
pub fn human(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let digits = digits.max(1);
    let a = x.abs();
    if !(1e-4..1e9).contains(&a) {
        let s = format!("{:.*e}", digits - 1, x);
        // Trim the mantissa's trailing zeros: 1.000e-5 -> 1e-5.
        return match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim_zeros(m)),
            None => s,
        };
    }
    let magnitude = a.log10().floor() as i64;
    let decimals = (digits as i64 - 1 - magnitude).max(0) as usize;
    trim_zeros(&format!("{x:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A Python float literal that is exactly `v` (Rust's shortest round-trip form;
/// `float('nan')`, `float('inf')`), for the exported PyTorch program (§17).
pub fn python(v: f64) -> String {
    if v.is_nan() {
        "float('nan')".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "float('inf')".into()
        } else {
            "float('-inf')".into()
        }
    } else {
        format!("{v:?}")
    }
}

/// A Python bool literal.
pub fn python_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_round_trip_and_are_valid_json() {
        for x in [
            0.0,
            -0.0,
            1.0,
            0.01,
            0.1 + 0.2,
            1e-7,
            1e300,
            -2.5e-320,
            123456.789,
            f64::MAX,
        ] {
            let s = json_number(x);
            let back: f64 = serde_json::from_str(&s).unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x} -> {s}");
        }
        assert_eq!(json_number(0.01), "0.01");
        assert_eq!(json_number(1.0), "1");
        assert_eq!(json_number(1e-7), "1e-7");
        assert_eq!(json_number(f64::NAN), "null");
        assert_eq!(json_number(f64::NEG_INFINITY), "null");
    }

    #[test]
    fn human_numbers_are_short() {
        assert_eq!(human(0.01, 4), "0.01");
        assert_eq!(human(1.0986123, 4), "1.099");
        assert_eq!(human(0.000123456, 4), "0.0001235");
        assert_eq!(human(1e-5, 4), "1e-5");
        assert_eq!(human(12345.6, 4), "12346");
        assert_eq!(human(0.0, 4), "0");
        assert_eq!(human(f64::NAN, 4), "nan");
    }
}
