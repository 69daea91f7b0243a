//! Redis's glob-style pattern matching (`stringmatchlen`), for KEYS and PSUBSCRIBE:
//! `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\` to escape.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            let rest = strip_stars(rest);
            rest.is_empty() || (0..=text.len()).any(|i| matches(rest, &text[i..]))
        }
        Some((b'?', rest)) => !text.is_empty() && matches(rest, &text[1..]),
        Some((b'[', rest)) => match text.split_first() {
            Some((c, text_rest)) => match class(rest, *c) {
                Some((true, after)) => matches(after, text_rest),
                _ => false,
            },
            None => false,
        },
        Some((b'\\', rest)) if !rest.is_empty() => text.first() == Some(&rest[0]) && matches(&rest[1..], &text[1..]),
        Some((p, rest)) => text.first() == Some(p) && matches(rest, &text[1..]),
    }
}

fn strip_stars(mut pattern: &[u8]) -> &[u8] {
    while let Some((b'*', rest)) = pattern.split_first() {
        pattern = rest;
    }
    pattern
}

/// Matches `c` against a class whose body starts at `pattern` (after `[`); returns whether
/// it matched and the pattern after the closing `]` (an unclosed class runs to the end).
fn class(pattern: &[u8], c: u8) -> Option<(bool, &[u8])> {
    let (negate, mut p) = match pattern.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, pattern),
    };
    let mut hit = false;
    loop {
        match p {
            [] => return Some((hit != negate, p)),
            [b']', rest @ ..] => return Some((hit != negate, rest)),
            [b'\\', e, rest @ ..] => {
                hit |= *e == c;
                p = rest;
            }
            [a, b'-', b, rest @ ..] if *b != b']' => {
                let (lo, hi) = if a <= b { (*a, *b) } else { (*b, *a) };
                hit |= (lo..=hi).contains(&c);
                p = rest;
            }
            [a, rest @ ..] => {
                hit |= *a == c;
                p = rest;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs_match_as_in_redis() {
        let yes = [
            ("*", ""),
            ("*", "abc"),
            ("a*", "abc"),
            ("*c", "abc"),
            ("a?c", "abc"),
            ("[ab]c", "bc"),
            ("[^a]c", "bc"),
            ("[a-c]x", "bx"),
            ("[c-a]x", "bx"),
            ("a\\*", "a*"),
            ("k:*:v", "k:1:v"),
            ("a**b", "ab"),
        ];
        let no = [("a", "ab"), ("?", ""), ("[ab]c", "cc"), ("[^a]c", "ac"), ("a\\*", "ab"), ("k:*:v", "k:1:w")];
        for (p, t) in yes {
            assert!(matches(p.as_bytes(), t.as_bytes()), "{p} ~ {t}");
        }
        for (p, t) in no {
            assert!(!matches(p.as_bytes(), t.as_bytes()), "{p} !~ {t}");
        }
    }
}
