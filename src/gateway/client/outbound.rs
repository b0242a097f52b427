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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Metadata,
    Private,
}

/// A refused destination; the resolver's error, found again in the client's error chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Refused {
    pub rule: Rule,
    pub addr: IpAddr,
}

impl Refused {
    pub fn message(&self) -> String {
        match self.rule {
            Rule::Metadata => format!(
                "{} is a cloud metadata address, which modelgate never calls",
                self.addr
            ),
            Rule::Private => format!(
                "{} is a loopback or private address, refused by outbound.allow_private_networks \
                 = false or the provider's `allowPrivateNetwork: false` (`allowPrivateNetwork: \
                 true` on the provider allows it)",
                self.addr
            ),
        }
    }
}

/// The instance metadata services of the clouds modelgate may run in (AWS, ECS and EKS, GCP
/// and Azure share 169.254.169.254; Alibaba; Oracle's legacy address), IPv4 and IPv6.
const METADATA_V4: [Ipv4Addr; 5] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 170, 23),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
];
const METADATA_V6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),
];

/// The decision for one address.
pub fn check(addr: IpAddr, allow_private: bool) -> Result<(), Refused> {
    // `::ffff:169.254.169.254` reaches the same host as its IPv4 form.
    let canonical = addr.to_canonical();
    let refuse = |rule| Err(Refused { rule, addr });
    let metadata = match canonical {
        IpAddr::V4(v4) => METADATA_V4.contains(&v4),
        IpAddr::V6(v6) => METADATA_V6.contains(&v6),
    };
    if metadata {
        return refuse(Rule::Metadata);
    }
    if !allow_private && is_private(canonical) {
        return refuse(Rule::Private);
    }
    Ok(())
}

/// Loopback, unspecified, private (RFC 1918, unique local), link-local and shared (RFC 6598)
/// addresses: what is not on the public internet.
fn is_private(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

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

    #[test]
    fn metadata_addresses_are_refused_whatever_the_setting() {
        for a in [
            "169.254.169.254",
            "fd00:ec2::254",
            "100.100.100.200",
            "::ffff:169.254.169.254",
            "169.254.170.2",
        ] {
            for allow in [true, false] {
                assert_eq!(check(ip(a), allow).unwrap_err().rule, Rule::Metadata, "{a}");
            }
        }
    }

    #[test]
    fn private_ranges_are_refused_only_when_the_gateway_says_so() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.10",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd12::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(check(ip(a), true).is_ok(), "{a}");
            assert_eq!(check(ip(a), false).unwrap_err().rule, Rule::Private, "{a}");
        }
        for a in ["1.1.1.1", "100.128.0.1", "2606:4700::1111", "172.32.0.1"] {
            assert!(check(ip(a), false).is_ok(), "{a}");
        }
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
