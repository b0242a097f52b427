use super::*;

/// An event as a test reads it: name, data, whether whole.
type Seen = (Option<String>, Option<String>, bool);

/// Every event of `chunks` (and of the end of the stream).
fn events(chunks: &[&[u8]]) -> Vec<Seen> {
    let mut reader = Reader::default();
    let mut seen = Vec::new();
    let mut record = |e: &Event<'_>| {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        seen.push((e.name.map(text), e.data.map(text), e.whole));
        ControlFlow::<()>::Continue(())
    };
    for chunk in chunks {
        let _ = reader.feed(chunk, &mut record);
    }
    let _ = reader.finish(&mut record);
    seen
}

/// `text` cut into reads at every pair of places (every single place included).
fn every_split(text: &[u8], check: impl Fn(&[&[u8]])) {
    for i in 0..=text.len() {
        for j in i..=text.len() {
            check(&[&text[..i], &text[i..j], &text[j..]]);
        }
    }
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[test]
fn lines_end_at_lf_crlf_or_cr_wherever_the_reads_split() {
    let want = vec![
        (some("message_start"), some("{\"a\":1}"), true),
        (None, some("x\ny"), true),
        (None, None, true),
        (some(""), some(""), true),
    ];
    let lf =
        "event: message_start\ndata: {\"a\":1}\n\ndata:x\ndata: y\n\n: ping\n\nevent\ndata\n\n";
    for ending in ["\n", "\r\n", "\r"] {
        let text = lf.replace('\n', ending);
        every_split(text.as_bytes(), |reads| {
            assert_eq!(events(reads), want, "{ending:?} read as {reads:?}");
        });
    }
}

#[test]
fn fields_follow_the_sse_rules() {
    let cases: [(&str, Vec<Seen>); 7] = [
        // One space after the colon is dropped, a second kept; unknown fields ignored.
        (
            "data:  two\nid: 7\nretry: 10\n\n",
            vec![(None, some(" two"), true)],
        ),
        // The last name wins; a colon inside a value is the value's.
        (
            "event: a\nevent: b\ndata: {\"k\":\"v:w\"}\n\n",
            vec![(some("b"), some("{\"k\":\"v:w\"}"), true)],
        ),
        // Near misses of the field names are other fields.
        ("datum: x\nevents: y\nDATA: z\n\n", vec![(None, None, true)]),
        // Blank lines with nothing before them are no events.
        ("\n\n\r\n\r\r", vec![]),
        // A last event the upstream did not close ends with the stream.
        ("data: [DONE]", vec![(None, some("[DONE]"), true)]),
        ("data: [DONE]\r", vec![(None, some("[DONE]"), true)]),
        // CR then LF in one read is one line end, not a blank line.
        (
            "data: a\r\ndata: b\r\n\r\n",
            vec![(None, some("a\nb"), true)],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(events(&[text.as_bytes()]), want, "{text:?}");
    }
}

#[test]
fn data_past_the_limit_is_cut_and_said_to_be() {
    let big = vec![b'x'; MAX_DATA + 10];
    let seen = events(&[
        b"data: ",
        &big[..MAX_DATA / 2],
        &big[MAX_DATA / 2..],
        b"\n\n",
    ]);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1.as_ref().unwrap().len(), MAX_DATA);
    assert!(!seen[0].2);
}

/// How a stream of `chunks` ended, by its first ending event.
fn end_of(chunks: &[&[u8]]) -> Option<End> {
    let mut reader = Reader::default();
    let mut end = None;
    let mut check = |e: &Event<'_>| match e.end() {
        Some(found) => {
            end = Some(found);
            ControlFlow::Break(())
        }
        None => ControlFlow::Continue(()),
    };
    for chunk in chunks {
        if reader.feed(chunk, &mut check).is_break() {
            return end;
        }
    }
    let _ = reader.finish(check);
    end
}

#[test]
fn endings_are_events_not_words_in_the_text() {
    use End::{Done, Failed};
    let cases = [
        ("data: {\"a\":1}\n\ndata: [DONE]\n\n", Some(Done)),
        (
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            Some(Done),
        ),
        ("data: {\"type\":\"message_stop\"}\n\n", Some(Done)),
        ("event: response.completed\ndata: {}\n\n", Some(Done)),
        (
            "data: {\"type\":\"response.incomplete\",\"response\":{}}\n\n",
            Some(Done),
        ),
        ("event: response.failed\ndata: {}\n\n", Some(Failed)),
        (
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n",
            Some(Failed),
        ),
        (
            "data: {\"error\":{\"message\":\"overloaded\"}}\n\n",
            Some(Failed),
        ),
        ("event: message\ndata: [DONE]\n\n", Some(Done)),
        // Content that mentions an ending is content.
        (
            "data: {\"choices\":[{\"delta\":{\"content\":\"[DONE]\"}}]}\n\n",
            None,
        ),
        (
            "data: {\"choices\":[{\"delta\":{\"content\":\"message_stop \\\"error\\\":\"}}]}\n\n",
            None,
        ),
        (
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"message_stop\"}}\n\n",
            None,
        ),
        (
            "data: {\"type\":\"response.output_text.delta\",\"delta\":\"response.completed\"}\n\n",
            None,
        ),
        ("data: {\"choices\":[],\"error\":null}\n\n", None),
        // A name decides alone, and an event with no data is none.
        (
            "event: content_block_delta\ndata: {\"type\":\"message_stop\"}\n\n",
            None,
        ),
        ("event: message_stop\n\n", None),
        (": [DONE]\n\n", None),
        // Cut before its end: no ending.
        ("data: [DONE", None),
        ("data: {\"type\":\"message_stop\"", None),
    ];
    for (text, want) in cases {
        for ending in ["\n", "\r\n", "\r"] {
            let text = text.replace('\n', ending);
            assert_eq!(end_of(&[text.as_bytes()]), want, "{text:?}");
        }
    }
}

#[test]
fn an_ending_split_over_any_reads_is_found() {
    let streams = [
        "data: {\"a\":1}\n\ndata: [DONE]\n\n",
        "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n",
        "data: {\"type\":\"response.completed\"}\r\r",
    ];
    for text in streams {
        every_split(text.as_bytes(), |reads| {
            assert!(end_of(reads).is_some(), "{reads:?}");
        });
    }
    // One byte a read.
    let text = b"data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n";
    let bytes: Vec<&[u8]> = text.chunks(1).collect();
    assert_eq!(end_of(&bytes), Some(End::Done));
}

#[test]
fn a_stream_knows_when_it_stops_inside_an_event() {
    for (text, inside) in [
        ("data: a\n\n", false),
        ("data: a\n", true),
        ("data: a", true),
        ("data: a\r", true),
        (": c", true),
        ("", false),
    ] {
        let mut reader = Reader::default();
        let _ = reader.feed(text.as_bytes(), |_| ControlFlow::<()>::Continue(()));
        assert_eq!(reader.mid_event(), inside, "{text:?}");
    }
}

#[test]
fn event_streams_are_known_by_their_media_type_in_any_case() {
    for (value, sse) in [
        ("text/event-stream", true),
        ("Text/Event-Stream", true),
        ("text/event-stream; charset=utf-8", true),
        (" TEXT/EVENT-STREAM ;charset=UTF-8", true),
        ("application/json", false),
        ("text/event-streams", false),
        ("text/plain; x=text/event-stream", false),
        ("", false),
    ] {
        assert_eq!(is_event_stream(value.as_bytes()), sse, "{value:?}");
    }
}
