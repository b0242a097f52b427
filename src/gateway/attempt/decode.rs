//! An upstream answer's body as its content type names it. Upstreams are offered gzip, br,
//! deflate and zstd, and some send them unasked; an answer in one of them is decoded as it
//! arrives, so a compressed stream is still read event by event. Decoding is wrapped around
//! an encoded answer only: most answers come unencoded, and every layer around a body costs
//! each of its reads.

use std::io;

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use reqwest::header::{CONTENT_ENCODING, HeaderMap, HeaderValue};
use tokio_util::io::{ReaderStream, StreamReader};

/// What the upstream request offers in `accept-encoding`.
pub const OFFERED: HeaderValue = HeaderValue::from_static("gzip, br, deflate, zstd");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Brotli,
    Deflate,
    Zstd,
}

/// The one coding of `headers`' `Content-Encoding` that is decoded here; `None` for an
/// answer without one, `identity`, or codings this does not know (passed on as they came).
pub fn coding(headers: &HeaderMap) -> Option<Coding> {
    let value = headers.get(CONTENT_ENCODING)?.to_str().ok()?.trim();
    match value.to_ascii_lowercase().as_str() {
        "gzip" | "x-gzip" => Some(Coding::Gzip),
        "br" => Some(Coding::Brotli),
        "deflate" => Some(Coding::Deflate),
        "zstd" => Some(Coding::Zstd),
        _ => None,
    }
}

/// `body`, decoded from `coding` (see [`coding`]). A body that does not decode ends with an
/// error, as one cut short does.
pub fn decoded<S>(coding: Option<Coding>, body: S) -> BoxStream<'static, io::Result<Bytes>>
where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static,
{
    let body = body.map_err(io::Error::other);
    let Some(coding) = coding else {
        return body.boxed();
    };
    let read = StreamReader::new(body);
    match coding {
        Coding::Gzip => ReaderStream::new(GzipDecoder::new(read)).boxed(),
        Coding::Brotli => ReaderStream::new(BrotliDecoder::new(read)).boxed(),
        Coding::Deflate => ReaderStream::new(ZlibDecoder::new(read)).boxed(),
        Coding::Zstd => ReaderStream::new(ZstdDecoder::new(read)).boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_compression::tokio::write::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
    use tokio::io::AsyncWriteExt;

    async fn encode(coding: &str, data: &[u8]) -> Vec<u8> {
        macro_rules! with {
            ($encoder:ident) => {{
                let mut e = $encoder::new(Vec::new());
                e.write_all(data).await.unwrap();
                e.shutdown().await.unwrap();
                e.into_inner()
            }};
        }
        match coding {
            "gzip" => with!(GzipEncoder),
            "br" => with!(BrotliEncoder),
            "deflate" => with!(ZlibEncoder),
            "zstd" => with!(ZstdEncoder),
            _ => data.to_vec(),
        }
    }

    async fn read(coding: Option<&str>, reads: Vec<Vec<u8>>) -> io::Result<Vec<u8>> {
        let mut headers = HeaderMap::new();
        if let Some(coding) = coding {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_str(coding).unwrap());
        }
        let reads = reads.into_iter().map(|r| Ok(Bytes::from(r)));
        let mut body = decoded(super::coding(&headers), futures_util::stream::iter(reads));
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn each_offered_coding_is_decoded_however_its_bytes_are_cut() {
        let text = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n".repeat(20);
        let labels = [
            ("gzip", "gzip"),
            ("br", "br"),
            ("deflate", "deflate"),
            ("zstd", "zstd"),
            ("GZIP", "gzip"),
            (" x-gzip ", "gzip"),
        ];
        for (label, coding) in labels {
            let encoded = encode(coding, &text).await;
            assert_ne!(encoded, text, "{label}");
            let cut: Vec<Vec<u8>> = encoded.chunks(7).map(<[u8]>::to_vec).collect();
            assert_eq!(read(Some(label), cut).await.unwrap(), text, "{label}");
        }
    }

    #[tokio::test]
    async fn an_unencoded_or_unknown_coding_passes_as_it_came() {
        for coding in [None, Some("identity"), Some("compress")] {
            let reads = vec![b"ab".to_vec(), b"c".to_vec()];
            assert_eq!(read(coding, reads).await.unwrap(), b"abc", "{coding:?}");
        }
    }

    #[tokio::test]
    async fn a_body_that_does_not_decode_ends_in_an_error() {
        let reads = vec![b"not gzip at all".to_vec()];
        assert!(read(Some("gzip"), reads).await.is_err());
    }
}
