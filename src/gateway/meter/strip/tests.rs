use futures_util::FutureExt;
use futures_util::stream::{self, StreamExt};

use super::*;

const CONTENT: &str = r#"data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}"#;
const USAGE: &str =
    r#"data: {"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
const LAST: &str = r#"data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3}}"#;

/// The stream with `eol` line ends, and what the caller should get of it.
fn stream_and_expected(eol: &str) -> (String, String) {
    let event = |data: &str| format!(": keep{eol}{data}{eol}{eol}");
    let sent = [CONTENT, LAST, USAGE, "data: [DONE]"].map(event).concat();
    let expected = [CONTENT, LAST, "data: [DONE]"].map(event).concat();
    (sent, expected)
}

fn run(pieces: Vec<Vec<u8>>) -> Vec<u8> {
    let body = stream::iter(pieces.into_iter().map(|p| Ok(Bytes::from(p)))).boxed();
    let out: Vec<Bytes> = without_usage_chunk(body)
        .map(|r| r.unwrap())
        .collect()
        .now_or_never()
        .expect("a ready stream");
    assert!(out.iter().all(|b| !b.is_empty()), "no empty reads go on");
    out.concat()
}

#[test]
fn the_usage_only_chunk_is_taken_out_wherever_the_reads_split() {
    for eol in ["\n", "\r\n", "\r"] {
        let (sent, expected) = stream_and_expected(eol);
        let sent = sent.as_bytes();
        assert_eq!(
            run(vec![sent.to_vec()]),
            expected.as_bytes(),
            "{eol:?} whole"
        );
        for cut in 0..=sent.len() {
            let (a, b) = sent.split_at(cut);
            let got = run(vec![a.to_vec(), b.to_vec()]);
            assert_eq!(
                String::from_utf8_lossy(&got),
                expected,
                "{eol:?} cut at {cut}"
            );
        }
        let bytes = sent.iter().map(|b| vec![*b]).collect();
        assert_eq!(run(bytes), expected.as_bytes(), "{eol:?} a byte at a time");
    }
}

#[test]
fn an_unended_last_event_goes_unless_it_is_the_usage_only_one() {
    let tail = format!("{CONTENT}\n\n{USAGE}");
    assert_eq!(
        run(vec![tail.into_bytes()]),
        format!("{CONTENT}\n\n").as_bytes()
    );
    let tail = format!("{CONTENT}\n\ndata: [DO");
    assert_eq!(run(vec![tail.clone().into_bytes()]), tail.as_bytes());
}

#[test]
fn a_read_of_whole_events_goes_as_it_came() {
    let (sent, _) = stream_and_expected("\n");
    let events: Vec<&str> = sent.split_inclusive("\n\n").collect();
    let read = Bytes::from(events[0].to_owned() + events[1]);
    let mut strip = Strip::new();
    let out = strip.push(read.clone());
    assert_eq!(out, read);
    assert_eq!(out.as_ptr(), read.as_ptr(), "no copy of the usual read");
}

#[test]
fn an_error_ends_the_stream_after_what_came_before() {
    let body = stream::iter(vec![
        Ok(Bytes::from(format!("{CONTENT}\n\n"))),
        Err(std::io::Error::other("cut")),
        Ok(Bytes::from_static(b"never")),
    ])
    .boxed();
    let out: Vec<_> = without_usage_chunk(body).collect().now_or_never().unwrap();
    assert_eq!(out.len(), 2);
    assert!(out[1].is_err());
}

#[test]
fn an_unended_event_that_cannot_be_the_usage_chunk_goes_at_once() {
    let mut strip = Strip::new();
    assert_eq!(strip.push(Bytes::from_static(b"data: [DO")), "data: [DO");
    assert_eq!(strip.push(Bytes::from_static(b"NE]\n\n")), "NE]\n\n");
    let content = r#"data: {"id":"c","choices":[{"index":0,"delta":{"content":"hel"#;
    assert_eq!(strip.push(Bytes::from(content)), content);
    assert_eq!(
        strip.push(Bytes::from_static(b"lo\"}}]}\n\n")),
        "lo\"}}]}\n\n"
    );
    // Not yet known: held.
    assert_eq!(strip.push(Bytes::from_static(b": keep\n")), "");
    assert_eq!(
        strip.push(Bytes::from_static(b"data: {\"id\":\"c\",\"cho")),
        ""
    );
    assert_eq!(
        strip.push(Bytes::from_static(b"ices\":[],\"usage\":{}}")),
        ""
    );
    assert_eq!(
        strip.push(Bytes::from_static(b"\n\ndata: [DONE]\n\n")),
        "data: [DONE]\n\n"
    );
}
