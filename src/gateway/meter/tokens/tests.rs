use super::*;

fn whole(surface: Surface, stream: bool, body: &[u8]) -> (Tokens, Option<String>) {
    let mut meter = Meter::new(surface, stream);
    meter.feed(&Bytes::copy_from_slice(body));
    let read = meter.finish();
    (read.tokens, read.stop)
}

/// The same body split in two at every byte gives the same reading.
fn at_every_split(surface: Surface, body: &[u8]) -> (Tokens, Option<String>) {
    let once = whole(surface, true, body);
    for at in 0..=body.len() {
        let mut meter = Meter::new(surface, true);
        meter.feed(&Bytes::copy_from_slice(&body[..at]));
        meter.feed(&Bytes::copy_from_slice(&body[at..]));
        let read = meter.finish();
        assert_eq!((read.tokens, read.stop), once, "split at byte {at}");
    }
    once
}

fn tokens(input: u64, output: u64, cache_read: u64, cache_write: u64, reasoning: u64) -> Tokens {
    Tokens {
        input,
        output,
        cache_read,
        cache_write,
        reasoning,
        known: true,
    }
}

#[test]
fn an_openai_body_s_usage_with_its_cached_and_reasoning_parts() {
    let body = br#"{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"length"}],"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,"prompt_tokens_details":{"cached_tokens":100},"completion_tokens_details":{"reasoning_tokens":12}}}"#;
    let (t, stop) = whole(Surface::ChatCompletions, false, body);
    // The uncached input: 120 - 100.
    assert_eq!(t, tokens(20, 30, 100, 0, 12));
    assert_eq!(stop.as_deref(), Some("length"));
}

#[test]
fn an_openai_stream_s_last_chunk_carries_the_usage_whatever_the_split() {
    let stream = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"usage\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\n\n",
        "data: [DONE]\n\n",
    );
    let (t, stop) = at_every_split(Surface::ChatCompletions, stream.as_bytes());
    assert_eq!(t, tokens(9, 4, 0, 0, 0));
    assert_eq!(stop.as_deref(), Some("stop"));
}

#[test]
fn an_anthropic_stream_s_counts_are_cumulative_and_never_summed() {
    let stream = concat!(
        "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1,\"cache_read_input_tokens\":10,\"cache_creation_input_tokens\":5}}}\r\n\r\n",
        "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\\\"usage\\\": {\"}}\r\n\r\n",
        "event: message_delta\r\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\r\n\r\n",
        "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n",
    );
    let (t, stop) = at_every_split(Surface::Messages, stream.as_bytes());
    assert_eq!(t, tokens(25, 15, 10, 5, 0));
    assert_eq!(stop.as_deref(), Some("end_turn"));
}

#[test]
fn an_anthropic_body_s_usage() {
    let body = br#"{"id":"m","type":"message","content":[{"type":"text","text":"hi"}],"stop_reason":"tool_use","usage":{"input_tokens":7,"output_tokens":3,"cache_read_input_tokens":0,"cache_creation_input_tokens":2}}"#;
    assert_eq!(
        whole(Surface::Messages, false, body),
        (tokens(7, 3, 0, 2, 0), Some("tool_use".into()))
    );
}

#[test]
fn a_responses_stream_is_counted_at_response_completed() {
    let stream = concat!(
        "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"status\":\"in_progress\",\"usage\":null}}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n",
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"usage\":{\"input_tokens\":50,\"input_tokens_details\":{\"cached_tokens\":20},\"output_tokens\":8,\"output_tokens_details\":{\"reasoning_tokens\":3},\"total_tokens\":58}}}\n\n",
    );
    let (t, stop) = at_every_split(Surface::Responses, stream.as_bytes());
    assert_eq!(t, tokens(30, 8, 20, 0, 3));
    assert_eq!(stop.as_deref(), Some("completed"));
}

#[test]
fn a_stream_without_usage_leaves_the_counts_unknown() {
    let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let (t, stop) = whole(Surface::ChatCompletions, true, stream.as_bytes());
    assert_eq!(t, Tokens::default());
    assert!(!t.known);
    assert_eq!(stop.as_deref(), Some("stop"));
}

#[test]
fn embeddings_count_their_input() {
    let body = br#"{"object":"list","data":[{"embedding":[0.1]}],"usage":{"prompt_tokens":6,"total_tokens":6}}"#;
    let (t, stop) = whole(Surface::Embeddings, false, body);
    assert_eq!(t, tokens(6, 0, 0, 0, 0));
    assert_eq!(stop, None);
}

#[test]
fn a_body_past_a_mebibyte_is_read_from_its_tail() {
    let filler = "a".repeat(WHOLE_BODY + 10);
    let body = format!(
        r#"{{"choices":[{{"message":{{"content":"{filler}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":1000,"completion_tokens":300000}}}}"#
    );
    let mut meter = Meter::new(Surface::ChatCompletions, false);
    for piece in body.as_bytes().chunks(8192) {
        meter.feed(&Bytes::copy_from_slice(piece));
    }
    assert!(meter.kept < TAIL + 8192, "only the tail is kept");
    let read = meter.finish();
    let (t, stop) = (read.tokens, read.stop);
    assert_eq!(t, tokens(1000, 300000, 0, 0, 0));
    assert_eq!(stop.as_deref(), Some("stop"));
}

#[test]
fn a_body_that_is_not_json_counts_nothing() {
    let (t, stop) = whole(Surface::ChatCompletions, false, b"<html>bad gateway</html>");
    assert_eq!((t, stop), (Tokens::default(), None));
}

#[test]
fn a_stream_that_ends_with_an_error_event_is_told_as_failed() {
    let stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n";
    let mut meter = Meter::new(Surface::Messages, true);
    meter.feed(&Bytes::from(stream));
    let read = meter.finish();
    assert!(read.failed);
    assert_eq!(read.tokens, tokens(3, 1, 0, 0, 0));
}
