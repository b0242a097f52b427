//! A probe's failure in words fit to show: an upstream that refuses a key often quotes it back
//! ("Incorrect API key provided: sk-…"), or another credential it holds, and the answer goes
//! to whoever may test providers. So the probe's own secrets are masked (`Scrub`), then
//! anything shaped like a credential whether it is one or not, and then the text is cut.

use std::sync::LazyLock;

use regex::Regex;

use super::super::attempt::scrub::Scrub;

/// The most characters of an error a probe reports.
pub const MAX_ERROR_CHARS: usize = 512;

const MASK: &str = "********";

/// `text` with the probe's secrets and credential shapes masked, at most
/// [`MAX_ERROR_CHARS`] long. Masked before cut, so a cut never leaves part of a secret that
/// the whole would have matched.
pub fn cleaned(scrub: &Scrub, text: &str) -> String {
    // `Bearer <token>`, `sk-…` keys (OpenAI's, Anthropic's `sk-ant-…`), and any run of 20 or
    // more letters and digits: the shape of most tokens, and rarely of words.
    static SHAPES: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i)\bbearer\s+[^\s,;)\]}"']+|\bsk-[A-Za-z0-9_-]+|[A-Za-z0-9]{20,}"#)
            .expect("pattern compiles")
    });
    let masked = scrub.text(text.to_owned());
    let masked = SHAPES.replace_all(&masked, |c: &regex::Captures<'_>| {
        let found = &c[0];
        match found.get(..7) {
            Some(head) if head.eq_ignore_ascii_case("bearer ") => format!("Bearer {MASK}"),
            _ => MASK.to_owned(),
        }
    });
    cut(masked.into_owned())
}

/// `text` cut to [`MAX_ERROR_CHARS`]: for the gateway's own words, which hold no secret but
/// may quote a long URL or setting.
pub fn cut(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(MAX_ERROR_CHARS) {
        text.truncate(at);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    #[test]
    fn the_key_and_credential_shapes_are_masked_and_the_text_cut() {
        let scrub = Scrub::new(Some(Zeroizing::new("my-key!".into())), Vec::new());
        let text = cleaned(
            &scrub,
            "bad key my-key! (Bearer abc.def), sk-ant-api03-x_y and \
             ABCDEFGHIJ0123456789xyz; short words stay",
        );
        assert_eq!(
            text,
            "bad key ******** (Bearer ********), ******** and ********; short words stay"
        );
        let long = "é ".repeat(600);
        assert_eq!(cleaned(&Scrub::default(), &long).chars().count(), 512);
        assert_eq!(cleaned(&Scrub::default(), "task-force"), "task-force");
    }
}
