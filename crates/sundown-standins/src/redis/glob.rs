//! Redis's glob patterns for `KEYS`: `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
//!
//! Redis matches recursively, which is exponential on patterns like
//! `a*a*a*a*b`; this matcher keeps only the last `*` as a backtrack point,
//! which is enough because every other token matches exactly one byte.

/// Whether the token at `p` (not a `*`) matches byte `c`, and where the next
/// token starts.
fn token(pat: &[u8], p: usize, c: u8) -> (bool, usize) {
    match pat[p] {
        b'?' => (true, p + 1),
        b'[' => {
            let mut i = p + 1;
            let negate = pat.get(i) == Some(&b'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            loop {
                match pat.get(i) {
                    // An unclosed class ends with the pattern, as in Redis.
                    None => break,
                    Some(b'\\') if i + 1 < pat.len() => {
                        i += 1;
                        matched |= pat[i] == c;
                    }
                    Some(b']') => {
                        i += 1;
                        break;
                    }
                    Some(&start) if i + 2 < pat.len() && pat[i + 1] == b'-' => {
                        let end = pat[i + 2];
                        let (lo, hi) = if start <= end {
                            (start, end)
                        } else {
                            (end, start)
                        };
                        matched |= (lo..=hi).contains(&c);
                        i += 2;
                    }
                    Some(&other) => matched |= other == c,
                }
                i += 1;
            }
            (matched != negate, i.min(pat.len()))
        }
        b'\\' if p + 1 < pat.len() => (pat[p + 1] == c, p + 2),
        other => (other == c, p + 1),
    }
}

/// Whether `s` matches the glob pattern `pat`.
pub(super) fn matches(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // After the last `*`: where the pattern resumes and the input position it
    // is being tried at.
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if pat.get(p) == Some(&b'*') {
            while pat.get(p) == Some(&b'*') {
                p += 1;
            }
            if p == pat.len() {
                return true;
            }
            star = Some((p, i));
            continue;
        }
        if p < pat.len() {
            let (ok, next) = token(pat, p, s[i]);
            if ok {
                p = next;
                i += 1;
                continue;
            }
        }
        match star {
            Some((sp, si)) => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            None => return false,
        }
    }
    while pat.get(p) == Some(&b'*') {
        p += 1;
    }
    p == pat.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_cases() {
        let yes: &[(&str, &str)] = &[
            ("*", ""),
            ("*", "anything"),
            ("h?llo", "hello"),
            ("h*llo", "heeeello"),
            ("h*llo", "hllo"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h[b-a]llo", "hallo"),
            ("jobs:processing:p:*", "jobs:processing:p:3"),
            ("a\\*b", "a*b"),
            ("a[\\]]b", "a]b"),
            ("*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaab"),
            ("a[bc", "ab"),
            ("**x", "x"),
        ];
        for (p, s) in yes {
            assert!(matches(p.as_bytes(), s.as_bytes()), "{p} should match {s}");
        }
        let no: &[(&str, &str)] = &[
            ("h?llo", "hllo"),
            ("h[^e]llo", "hello"),
            ("h[a-b]llo", "hcllo"),
            ("a\\*b", "axb"),
            ("abc", "ab"),
            ("ab", "abc"),
            ("*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaa"),
            ("jobs:processing:p:*", "jobs:processing:q:3"),
        ];
        for (p, s) in no {
            assert!(
                !matches(p.as_bytes(), s.as_bytes()),
                "{p} should not match {s}"
            );
        }
    }
}
