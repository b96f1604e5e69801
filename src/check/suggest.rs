//! Closest-name suggestions for unknown names (`adamm` -> `adam`).

pub use crate::similar::distance;

/// The known name closest to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for &k in known {
        // Names of very different lengths are never close; skip the full distance.
        if lower.len().abs_diff(k.len()) > (lower.len().max(k.len()) / 3).max(1) {
            continue;
        }
        let d = distance(&lower, k);
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    let (d, k) = best?;
    let limit = (name.len().max(k.len()) / 3).max(1);
    (d <= limit).then_some(k)
}

/// Help text for an unknown name: the suggestion, else the list of known names.
pub fn help(name: &str, known: &[&str]) -> Option<String> {
    if known.is_empty() {
        return None;
    }
    match closest(name, known) {
        Some(k) => Some(format!("did you mean `{k}`?")),
        None => Some(format!("expected one of: {}", known.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos() {
        assert_eq!(closest("adamm", &["sgd", "adam", "adamw"]), Some("adam"));
        assert_eq!(closest("Relu", &["relu", "tanh"]), Some("relu"));
        assert_eq!(closest("zzzzzz", &["relu", "tanh"]), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(closest("rleu", &["relu", "tanh"]), Some("relu"));
    }
}
