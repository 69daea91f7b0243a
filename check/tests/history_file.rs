//! The history file format as docs/history.md specifies it: its hand-written example is
//! judged (every property holds; moved by a second, a violation), and files that are not
//! histories are refused in one line naming the line.

use check::{suite, History, Outcome, Property};

/// The example in docs/history.md, as written there.
fn example() -> String {
    let doc = include_str!("../../docs/history.md");
    let start = doc.find("```jsonl\n").expect("docs/history.md has a jsonl example") + "```jsonl\n".len();
    let end = start + doc[start..].find("```").expect("the example ends");
    doc[start..end].to_owned()
}

fn read(text: &str) -> Result<History, String> {
    History::read(text.as_bytes(), "example.jsonl").map_err(|e| e.to_string())
}

#[test]
fn the_documented_example_passes_every_property() {
    let history = read(&example()).expect("the example is a history");
    assert_eq!(history.events.len(), 27);
    let verdicts = suite(&history);
    for verdict in &verdicts.verdicts {
        assert!(verdict.passed(), "{:?}: {}", verdict.property, verdict.explanation);
    }
    let judged: Vec<Property> = verdicts.verdicts.iter().map(|v| v.property).collect();
    assert!(judged.contains(&Property::Linearizability) && judged.contains(&Property::Liveness), "{judged:?}");
}

#[test]
fn the_documented_example_taken_over_early_is_not_linearizable() {
    // node-2's second SET, and what follows it, 1.1 s earlier: while node-1's lease lives.
    let moved: Vec<String> = example()
        .lines()
        .map(|line| {
            ["4600000", "4601000", "4602000"].iter().fold(line.to_owned(), |l, t| {
                let earlier = (t.parse::<u64>().unwrap() - 1_100_000).to_string();
                l.replace(&format!("\"at_us\":{t},"), &format!("\"at_us\":{earlier},"))
            })
        })
        .collect();
    let verdicts = suite(&read(&moved.join("\n")).expect("still a history"));
    let lin = verdicts.verdicts.iter().find(|v| v.property == Property::Linearizability).unwrap();
    assert_eq!(lin.outcome, Outcome::Violated, "{}", lin.explanation);
}

#[test]
fn a_history_round_trips_through_a_file() {
    let history = read(&example()).unwrap();
    let mut written = Vec::new();
    history.write(&mut written).unwrap();
    let again = History::read(written.as_slice(), "again.jsonl").unwrap();
    assert_eq!(again, history);
}

#[test]
fn what_is_not_a_history_is_refused_in_one_line() {
    let header = example().lines().next().unwrap().to_owned();
    let event = r#"{"at_us":0,"node":"node-1","event":"election-started"}"#;
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "example.jsonl:1: empty"),
        ("not json".into(), "example.jsonl:1: header"),
        (header.replace("\"format\":1", "\"format\":2"), "format 2"),
        (header.replace("\"liveness_ms\":4100", "\"liveness_ms\":86400001"), "beyond the limit"),
        (format!("{header}\n{event}\n{{\"at_us\":1,\"event\":\"warp\"}}"), "example.jsonl:3:"),
        (format!("{header}\n{}", event.replace("\"at_us\":0", "\"at_us\":4503599627370497")), "beyond the limit"),
        (format!("{header}\n{}", event.replace("\"at_us\":0", "\"at_us\":-1")), "example.jsonl:2:"),
        (format!("{header}\n{}", "x".repeat(check::LINE_BYTES_MAX + 1)), "longer than"),
        (format!("{header}\n\u{0}\u{1}"), "example.jsonl:2:"),
    ];
    for (text, expected) in cases {
        let err = read(&text).expect_err(expected);
        assert!(err.contains(expected) && !err.contains('\n'), "{expected:?}: {err}");
    }
    // Blank lines are skipped, a missing seq numbered in order.
    let history = read(&format!("\n{header}\n\n{event}\n")).unwrap();
    assert_eq!(history.events[0].seq, 0);
}
