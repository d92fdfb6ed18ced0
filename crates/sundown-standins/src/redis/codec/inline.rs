//! Inline commands: a request typed as one line (`PING` into `nc`), split
//! into arguments as Redis's `sdssplitargs` does. The `redis-protocol`
//! crate knows only multibulk requests.

use bytes::Bytes;

/// Splits an inline request into arguments, as Redis's `sdssplitargs`:
/// whitespace separates, `"…"` understands `\n \r \t \b \a \\ \" \xHH`,
/// `'…'` only `\'`, and a closing quote must be followed by a space.
pub(super) fn split_inline(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut i = 0;
    let at = |i: usize| line.get(i).copied();
    loop {
        while at(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = at(i);
            if in_dq {
                match c? {
                    b'\\'
                        if at(i + 1) == Some(b'x')
                            && at(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
                            && at(i + 3).is_some_and(|c| c.is_ascii_hexdigit()) =>
                    {
                        let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                        cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                        i += 3;
                    }
                    b'\\' if at(i + 1).is_some() => {
                        i += 1;
                        cur.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                    }
                    b'"' => {
                        if at(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => cur.push(other),
                }
            } else if in_sq {
                match c? {
                    b'\\' if at(i + 1) == Some(b'\'') => {
                        i += 1;
                        cur.push(b'\'');
                    }
                    b'\'' => {
                        if at(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => cur.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(other) => cur.push(other),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(cur));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_quoting_follows_sdssplitargs() {
        assert_eq!(
            split_inline(br#"a "b\x41\n" 'c\'d'"#),
            Some(vec![
                Bytes::from("a"),
                Bytes::from("bA\n"),
                Bytes::from("c'd")
            ])
        );
        assert_eq!(split_inline(br#""a"b"#), None);
        assert_eq!(split_inline(b"'a"), None);
        assert_eq!(split_inline(b"   "), Some(vec![]));
    }
}
