//! Redis's glob-style pattern matching (`stringmatchlen`), for KEYS and PSUBSCRIBE:
//! `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\` to escape.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    matches_with(pattern, text, false)
}

/// As [`matches`], ignoring ASCII case (CONFIG GET).
pub fn matches_nocase(pattern: &[u8], text: &[u8]) -> bool {
    matches_with(pattern, text, true)
}

/// Greedy matching with one backtrack point (the last `*`): every other token matches
/// exactly one byte, so retrying only the last star is complete, and the time is
/// O(pattern x text) where naive recursion is exponential on `a*a*a*...b`.
fn matches_with(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match token(&pattern[p..], text[t], nocase) {
            Token::Star => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Token::Matched(len) => {
                p += len;
                t += 1;
                continue;
            }
            Token::Failed => {}
        }
        match star {
            Some((after_star, from)) => {
                p = after_star;
                t = from + 1;
                star = Some((after_star, from + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

enum Token {
    Star,
    /// Matched one byte; the token was this long.
    Matched(usize),
    Failed,
}

fn token(pattern: &[u8], c: u8, nocase: bool) -> Token {
    let same = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    match pattern {
        [] => Token::Failed,
        [b'*', ..] => Token::Star,
        [b'?', ..] => Token::Matched(1),
        [b'[', rest @ ..] => match class(rest, c) {
            Some((true, after)) => Token::Matched(pattern.len() - after.len()),
            _ => Token::Failed,
        },
        [b'\\', e, ..] if same(*e, c) => Token::Matched(2),
        [b'\\', _, ..] => Token::Failed,
        [p, ..] if same(*p, c) => Token::Matched(1),
        _ => Token::Failed,
    }
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
