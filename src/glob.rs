//! `*` wildcard matching for namespace and tag patterns.
//!
//! Patterns are short (namespace names, tags), so a greedy matcher that backtracks to the
//! last `*` is enough and allocates nothing on the request path.

/// True when `text` matches `pattern`, where `*` stands for any run of characters
/// (including none) and every other character stands for itself.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if t.get(ti) == Some(&c) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// True when any pattern of `patterns` matches `text`.
pub fn any_matches<S: AsRef<str>>(patterns: &[S], text: &str) -> bool {
    patterns.iter().any(|p| matches(p.as_ref(), text))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards_match_runs_of_any_length() {
        let cases = [
            ("latest", "latest", true),
            ("latest", "latest2", false),
            ("latest", "xlatest", false),
            ("*", "", true),
            ("*", "anything", true),
            ("prod-*", "prod-eu", true),
            ("prod-*", "prod-", true),
            ("prod-*", "preprod-eu", false),
            ("*-dev", "team-dev", true),
            ("*-dev", "team-dev-x", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a**", "a", true),
            ("*stable*", "1.2-stable-3", true),
            ("", "", true),
            ("", "x", false),
            ("x", "", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(matches(p, t), want, "{p:?} vs {t:?}");
        }
    }
}
