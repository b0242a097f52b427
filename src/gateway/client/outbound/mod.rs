//! Where modelgate's own calls may go. Cloud metadata services are never called: a provider
//! whose base URL (or DNS name) points at one would hand instance credentials to whoever can
//! register providers. Loopback and private ranges are allowed unless the gateway says
//! otherwise (`outbound.allow_private_networks`), and a provider may be let back in
//! (`allowPrivateNetwork`).
//!
//! The decision is made on addresses, where the connection is made: host names are checked in
//! the HTTP client's resolver (so the address connected to is the address checked, and a name
//! that resolves elsewhere a second time — DNS rebinding — gains nothing); hyper's connector
//! dials IP-literal hosts without a resolver, so those are checked before the request is
//! built, by the same decision. With a proxy, the proxy is what is connected to, and checked.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

mod addresses;

pub use addresses::{Refused, Rule, check};

/// The host of a URL when it is an IP literal, which no resolver sees.
pub fn literal(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

type Addrs = Box<dyn Iterator<Item = SocketAddr> + Send>;
type Lookup = Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;
/// How names become addresses: the system's resolver, or a stub in tests.
pub type Resolve = Arc<dyn Fn(String) -> Lookup + Send + Sync>;

/// The system resolver (getaddrinfo, on the blocking pool).
pub fn system() -> Resolve {
    Arc::new(|name: String| {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            Ok(found.collect())
        })
    })
}

/// The client's resolver: every address a name resolves to is checked; refused ones are
/// dropped, and a name left with none fails with the first refusal.
pub struct Guarded {
    pub resolve: Resolve,
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = (self.resolve)(name.as_str().to_owned());
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found = lookup.await?;
            let (allowed, refused): (Vec<_>, Vec<_>) = found
                .into_iter()
                .map(|a| (a, check(a.ip(), allow_private)))
                .partition(|(_, verdict)| verdict.is_ok());
            if allowed.is_empty()
                && let Some((_, Err(refusal))) = refused.into_iter().next()
            {
                return Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: Addrs = Box::new(allowed.into_iter().map(|(a, _)| a));
            Ok(addrs)
        })
    }
}

/// The refusal behind a client error, if the guard made it.
pub fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused.clone());
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve as _;
    use std::str::FromStr;

    fn ip(s: &str) -> IpAddr {
        IpAddr::from_str(s).unwrap()
    }

    /// A resolver that answers from a table and records what it was asked; nothing is sent.
    fn stub(answers: &[(&str, &[&str])]) -> (Resolve, Arc<std::sync::Mutex<Vec<String>>>) {
        let table: Vec<(String, Vec<SocketAddr>)> = answers
            .iter()
            .map(|(n, a)| {
                let addrs = a.iter().map(|s| SocketAddr::new(ip(s), 0)).collect();
                ((*n).to_owned(), addrs)
            })
            .collect();
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&asked);
        let resolve: Resolve = Arc::new(move |name: String| {
            log.lock().unwrap().push(name.clone());
            let found = table
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, a)| a.clone())
                .unwrap_or_default();
            Box::pin(async move { Ok(found) })
        });
        (resolve, asked)
    }

    async fn resolved(g: &Guarded, name: &str) -> Result<Vec<IpAddr>, String> {
        let name = reqwest::dns::Name::from_str(name).unwrap();
        match g.resolve(name).await {
            Ok(addrs) => Ok(addrs.map(|a| a.ip()).collect()),
            Err(e) => Err(refusal_in(e.as_ref()).map_or(e.to_string(), |r| r.message())),
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses_and_fails_a_name_left_with_none() {
        let (resolve, asked) = stub(&[
            ("rebind.test", &["169.254.169.254"]),
            ("mixed.test", &["10.0.0.5", "93.184.216.34"]),
            ("lan.test", &["192.168.1.9"]),
        ]);
        let open = Guarded {
            resolve: Arc::clone(&resolve),
            allow_private: true,
        };
        let closed = Guarded {
            resolve,
            allow_private: false,
        };
        let e = resolved(&open, "rebind.test").await.unwrap_err();
        assert!(e.contains("cloud metadata"), "{e}");
        assert_eq!(
            resolved(&closed, "mixed.test").await.unwrap(),
            [ip("93.184.216.34")]
        );
        assert_eq!(
            resolved(&open, "lan.test").await.unwrap(),
            [ip("192.168.1.9")]
        );
        let e = resolved(&closed, "lan.test").await.unwrap_err();
        assert!(e.contains("allow_private_networks"), "{e}");
        assert_eq!(asked.lock().unwrap().len(), 4);
    }

    #[test]
    fn ip_literal_hosts_are_found_for_the_check_before_any_connection() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            literal(&u("http://169.254.169.254/latest")),
            Some(ip("169.254.169.254"))
        );
        assert_eq!(
            literal(&u("http://[fd00:ec2::254]:80/")),
            Some(ip("fd00:ec2::254"))
        );
        assert_eq!(literal(&u("http://metadata.internal/")), None);
    }
}
