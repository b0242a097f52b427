use super::*;

/// A real connection error for a URL with a key in its query and a password: neither
/// reaches the log line or the client's message; the URL's host and path do, in the log.
#[tokio::test]
async fn an_unreachable_url_is_told_without_its_query_or_password() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://user:pa55word@127.0.0.1:{port}/v1/chat?key=sk-query-secret-1");
    let error = client.post(&url).send().await.unwrap_err();
    assert!(error.to_string().contains("sk-query-secret-1"), "{error}");
    let (logged, told) = Scrub::default().described(error);
    for text in [&logged, &told] {
        assert!(!text.contains("sk-query-secret"), "{text}");
        assert!(!text.contains("pa55word"), "{text}");
    }
    assert!(
        logged.starts_with(&format!("at http://127.0.0.1:{port}/v1/chat: ")),
        "{logged}"
    );
    assert!(!told.contains("127.0.0.1"), "{told}");
}

fn secret(value: &str) -> Zeroizing<String> {
    Zeroizing::new(value.to_owned())
}

fn scrub(key: &str) -> Scrub {
    Scrub::new(Some(secret(key)), vec![])
}

/// A scrub of a key and credential headers' values.
fn pair(name: &'static str, value: &'static str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

fn scrub_all(key: &str, headers: &[&str]) -> Scrub {
    Scrub::new(
        Some(secret(key)),
        headers.iter().map(|h| secret(h)).collect(),
    )
}

/// What the client receives of `text` cut into three reads anywhere, one read per byte
/// included, checked to be the same every time: that text.
async fn passed_however_cut(scrub: &Scrub, text: &[u8]) -> Vec<u8> {
    let whole = passed(scrub, &[text]).await;
    for i in 0..=text.len() {
        for j in i..=text.len() {
            let reads = [&text[..i], &text[i..j], &text[j..]];
            assert_eq!(passed(scrub, &reads).await, whole, "{reads:?}");
        }
    }
    let single: Vec<&[u8]> = text.chunks(1).collect();
    assert_eq!(passed(scrub, &single).await, whole);
    whole
}

/// What the client receives of a body read as `reads`.
async fn passed(scrub: &Scrub, reads: &[&[u8]]) -> Vec<u8> {
    let chunks: Vec<Result<Bytes, std::io::Error>> = reads
        .iter()
        .map(|r| Ok(Bytes::copy_from_slice(r)))
        .collect();
    let out: Vec<Bytes> = scrub
        .body(stream::iter(chunks).boxed())
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert!(out.iter().all(|b| !b.is_empty()), "no empty reads");
    out.concat()
}

#[tokio::test]
async fn every_occurrence_is_masked_however_the_body_is_cut_into_reads() {
    let key = "sk-ab";
    let text = b"sk-sk-ab|sk-absk-ab s sk-a sk-ab";
    let want = b"sk-********|**************** s sk-a ********";
    let scrub = scrub(key);
    assert_eq!(passed_however_cut(&scrub, text).await, want);
    // A body that ends inside the key passes on what it had of it.
    assert_eq!(passed(&scrub, &[b"x sk", b"-a"]).await, b"x sk-a");
}

#[tokio::test]
async fn a_read_without_the_key_goes_on_uncopied_and_a_keyless_body_untouched() {
    let scrub = scrub("sk-0123456789");
    let mut held = mask::Held::default();
    let read = Bytes::from_static(b"data: {\"content\":\"hello\"}\n\n");
    let out = scrub.0.as_ref().unwrap().pass(read.clone(), &mut held);
    assert_eq!(out.as_ptr(), read.as_ptr());
    assert_eq!(out.len(), read.len());
    assert!(held.bytes().is_empty());
    // Its end that could begin the key is held; the rest still is not copied.
    let read = Bytes::from_static(b"say sk-01");
    let out = scrub.0.as_ref().unwrap().pass(read.clone(), &mut held);
    assert_eq!((out.as_ptr(), &out[..]), (read.as_ptr(), &b"say "[..]));
    assert_eq!(held.bytes(), b"sk-01");

    let none = Scrub::default();
    assert!(none.0.is_none());
    assert_eq!(passed(&none, &[b"sk-0123456789"]).await, b"sk-0123456789");
    let empty = Scrub::new(Some(secret("")), vec![secret("")]);
    let key = empty.0.as_ref().unwrap().key.as_deref();
    assert_eq!(key.map(String::as_str), Some(""), "sent as it is");
    assert_eq!(passed(&empty, &[b"ab"]).await, b"ab");
}

#[tokio::test]
async fn a_one_byte_key_is_masked_and_a_mask_never_spells_the_key() {
    assert_eq!(
        passed(&scrub("q"), &[b"aqa", b"q"]).await,
        b"a********a********"
    );
    // Under stars, `b*` would be spelled again by the `b` before a masked `b*`.
    let scrub = scrub("b*");
    let out = passed(&scrub, &[b"bb*"]).await;
    assert_eq!(out, b"b########");
    assert!(!out.windows(2).any(|w| w == b"b*"));
}

#[test]
fn header_values_and_the_gateways_words_are_masked() {
    let scrub = scrub("sk-live-1");
    let mut headers = vec![
        pair("x-ratelimit-limit", "10 for sk-live-1"),
        pair("retry-after", "3"),
    ];
    scrub.headers(&mut headers);
    assert_eq!(headers[0].1, "10 for ********");
    assert_eq!(headers[1].1, "3");
    assert_eq!(
        scrub.text("refused: sk-live-1 é".to_owned()),
        "refused: ******** é"
    );
}

#[tokio::test]
async fn secrets_that_overlap_or_touch_are_masked_whole_however_cut() {
    let scrub = scrub_all("sk-abcd", &["cdef-tok"]);
    // Overlapping: one run; touching: two; parts on their own pass.
    let text = b"sk-abcdef-tok|cdef-toksk-abcd|sk-abc cdef-to|sk-abcd";
    let want = b"********|****************|sk-abc cdef-to|********";
    assert_eq!(passed_however_cut(&scrub, text).await, want);
    let mut headers = vec![pair("x-echo", "a cdef-tok, sk-abcdef-tok")];
    scrub.headers(&mut headers);
    assert_eq!(headers[0].1, "a ********, ********");
    assert_eq!(scrub.text("cdef-tok!".to_owned()), "********!");
}

#[tokio::test]
async fn a_secret_that_begins_another_leaves_nothing_of_either_however_cut() {
    let text = b"tok-12|tok-1|tok-123|tok-|tok-1";
    let want = b"********|********|********3|tok-|********";
    for scrub in [
        scrub_all("tok-1", &["tok-12"]),
        scrub_all("tok-12", &["tok-1"]),
    ] {
        assert_eq!(passed_however_cut(&scrub, text).await, want);
        // The shorter one held as the start of the longer is masked when the body ends.
        assert_eq!(passed(&scrub, &[b"a tok-", b"1"]).await, b"a ********");
    }
}

#[tokio::test]
async fn a_credential_header_alone_is_masked_with_a_byte_no_secret_has() {
    // A keyless provider with a credential header.
    let scrub = Scrub::new(None, vec![secret("t*k")]);
    assert_eq!(passed(&scrub, &[b"at*", b"k"]).await, b"a########");
    let scrub = scrub_all("a*", &["b#", "c~"]);
    assert_eq!(
        passed(&scrub, &[b"a*b#c~"]).await,
        b"^^^^^^^^^^^^^^^^^^^^^^^^"
    );
    // No secret, nothing to hold: the body is the upstream's own.
    assert!(Scrub::new(None, vec![]).0.is_none());
    let scrub = scrub_all("sk-1", &["tok-2"]);
    let mut held = mask::Held::default();
    let read = Bytes::from_static(b"data: {}\n\n");
    let out = scrub.0.as_ref().unwrap().pass(read.clone(), &mut held);
    assert_eq!((out.as_ptr(), out.len()), (read.as_ptr(), read.len()));
    assert!(held.bytes().is_empty());
}

/// Every text of up to eight bytes over `a` and `b`, against secrets that overlap themselves
/// and each other, cut in two anywhere: no secret comes through, and exactly the bytes no
/// occurrence covers do, in order.
#[tokio::test]
async fn no_text_cut_anywhere_lets_a_secret_through() {
    let secrets: [&[u8]; 3] = [b"aba", b"bb", b"abab"];
    let scrub = scrub_all("aba", &["bb", "abab"]);
    for len in 0..=8 {
        for bits in 0u32..1 << len {
            let text: Vec<u8> = (0..len)
                .map(|i| if bits >> i & 1 == 1 { b'b' } else { b'a' })
                .collect();
            let mut covered = vec![false; len];
            for s in secrets {
                for (at, w) in text.windows(s.len()).enumerate() {
                    if w == s {
                        covered[at..at + s.len()].fill(true);
                    }
                }
            }
            let kept: Vec<u8> = (0..len).filter(|&i| !covered[i]).map(|i| text[i]).collect();
            for cut in 0..=len {
                let out = passed(&scrub, &[&text[..cut], &text[cut..]]).await;
                for s in secrets {
                    assert!(!out.windows(s.len()).any(|w| w == s), "{text:?}: {out:?}");
                }
                let unmasked: Vec<u8> = out.iter().copied().filter(|&b| b != b'*').collect();
                assert_eq!(unmasked, kept, "{text:?} cut at {cut}: {out:?}");
            }
        }
    }
}
