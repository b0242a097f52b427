//! The decision for one address: cloud metadata services always refused, loopback and
//! private ranges when private networks are.
//!
//! An IPv6 address that carries an IPv4 address (IPv4-mapped and -compatible, NAT64, 6to4,
//! Teredo, ISATAP: see `embedded`) can be carried to that IPv4 host by a translator or a
//! tunnel on the way, so it is judged as that IPv4 address too; the stricter verdict stands.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
    /// The IPv4 address carried inside `addr` that the rule refused, when not `addr` itself.
    pub carried: Option<Ipv4Addr>,
}

impl Refused {
    pub fn message(&self) -> String {
        let addr = match self.carried {
            Some(v4) => format!("{} (which carries {v4})", self.addr),
            None => self.addr.to_string(),
        };
        match self.rule {
            Rule::Metadata => {
                format!("{addr} is a cloud metadata address, which modelgate never calls")
            }
            Rule::Private => format!(
                "{addr} is a loopback or private address, refused by \
                 outbound.allow_private_networks = false or the provider's \
                 `allowPrivateNetwork: false` (`allowPrivateNetwork: true` on the provider \
                 allows it)"
            ),
        }
    }
}

/// The instance metadata services of the clouds modelgate may run in, and the link-local
/// services beside them: 169.254.169.254 (AWS, GCP, Azure, and most others), AWS's DNS
/// resolver 169.254.169.253, ECS's task credentials 169.254.170.2, EKS Pod Identity's
/// 169.254.170.23, Tencent's 169.254.0.23, Azure's WireServer 168.63.129.16 (a public
/// address), Alibaba's 100.100.100.200, Oracle's legacy 192.0.0.192; over IPv6, AWS's
/// fd00:ec2::254 (metadata), ::253 (DNS) and ::23 (EKS Pod Identity).
const METADATA_V4: [Ipv4Addr; 8] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 169, 253),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 170, 23),
    Ipv4Addr::new(169, 254, 0, 23),
    Ipv4Addr::new(168, 63, 129, 16),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
];
const METADATA_V6: [Ipv6Addr; 3] = [
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x253),
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),
];

/// The decision for one address.
pub fn check(addr: IpAddr, allow_private: bool) -> Result<(), Refused> {
    let carried = match addr {
        IpAddr::V4(_) => Carried::default(),
        IpAddr::V6(v6) => embedded(v6),
    };
    let refuse = |rule, carried| {
        Err(Refused {
            rule,
            addr,
            carried,
        })
    };
    let own_metadata = match addr {
        IpAddr::V4(v4) => METADATA_V4.contains(&v4),
        IpAddr::V6(v6) => METADATA_V6.contains(&v6),
    };
    if own_metadata {
        return refuse(Rule::Metadata, None);
    }
    if let Some(v4) = carried.iter().find(|v4| METADATA_V4.contains(v4)) {
        return refuse(Rule::Metadata, Some(v4));
    }
    if allow_private {
        return Ok(());
    }
    if is_private(addr) {
        return refuse(Rule::Private, None);
    }
    if let Some(v4) = carried.iter().find(|v4| is_private(IpAddr::V4(*v4))) {
        return refuse(Rule::Private, Some(v4));
    }
    Ok(())
}

/// The IPv4 addresses an IPv6 address may reach, at most six (the local-use NAT64 prefix
/// reads four ways).
#[derive(Default)]
struct Carried {
    found: [Option<Ipv4Addr>; 6],
}

impl Carried {
    fn push(&mut self, v4: Ipv4Addr) {
        if let Some(free) = self.found.iter_mut().find(|slot| slot.is_none()) {
            *free = Some(v4);
        }
    }

    fn iter(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.found.iter().flatten().copied()
    }
}

/// Every IPv4 address `v6` carries by a standard embedding, each a way packets for `v6` can
/// end at that IPv4 host:
/// - IPv4-mapped `::ffff:a.b.c.d` (the same socket reaches the IPv4 host) and the deprecated
///   IPv4-compatible `::a.b.c.d` (`::` and `::1` excepted, which are IPv6's own);
/// - NAT64's well-known prefix `64:ff9b::/96` (RFC 6052), whose translator connects to the
///   IPv4 host, and the local-use prefix `64:ff9b:1::/48` (RFC 8215), read at each prefix
///   length a network may use inside it (/48, /56, /64, /96): which one the translator uses
///   cannot be told from the address, so every consistent reading counts;
/// - 6to4 `2002:AABB:CCDD::/48` (RFC 3056), tunnelled to the IPv4 router `AA.BB.CC.DD`;
/// - Teredo `2001::/32` (RFC 4380), tunnelled to the client's mapped IPv4 address (the last
///   32 bits, inverted);
/// - ISATAP interface ids `…:0:5efe:a.b.c.d` (RFC 5214, with the `u`/`g` bits `200:5efe`
///   and the like), tunnelled to the IPv4 node.
fn embedded(v6: Ipv6Addr) -> Carried {
    let bits = u128::from(v6);
    let s = v6.segments();
    let last = Ipv4Addr::from(bits as u32);
    let mut carried = Carried::default();
    if let Some(v4) = v6.to_ipv4_mapped() {
        carried.push(v4);
    }
    if bits >> 32 == 0 && bits > 1 {
        carried.push(last);
    }
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        carried.push(last);
    }
    if bits >> 80 == 0x0064_ff9b_0001 {
        for prefix in [48, 56, 64, 96] {
            if let Some(v4) = rfc6052(bits, prefix) {
                carried.push(v4);
            }
        }
    }
    if s[0] == 0x2002 {
        carried.push(Ipv4Addr::from((bits >> 80) as u32));
    }
    if s[0] == 0x2001 && s[1] == 0 {
        carried.push(Ipv4Addr::from(!(bits as u32)));
    }
    if s[4] & 0xfcff == 0 && s[5] == 0x5efe {
        carried.push(last);
    }
    carried
}

/// The IPv4 address of an RFC 6052 address with a `prefix`-bit prefix, if the address is one:
/// below /96 the address skips bits 64–71 (the `u` octet, zero), and its suffix is zero.
fn rfc6052(bits: u128, prefix: u32) -> Option<Ipv4Addr> {
    if prefix == 96 {
        return Some(Ipv4Addr::from(bits as u32));
    }
    if (bits >> 56) & 0xff != 0 {
        return None;
    }
    // The 120 bits left without the `u` octet: the prefix, the IPv4 address, the suffix.
    let squeezed = ((bits >> 64) << 56) | (bits & ((1 << 56) - 1));
    let shift = 120 - prefix - 32;
    let suffix = squeezed & ((1 << shift) - 1);
    (suffix == 0).then(|| Ipv4Addr::from((squeezed >> shift) as u32))
}

/// Loopback, unspecified, private (RFC 1918, unique local), link-local and shared (RFC 6598)
/// addresses: what is not on the public internet. The local-use NAT64 prefix is a site's own
/// translator (RFC 8215) and counts as private whatever it carries.
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
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0], s[1], s[2]) == (0x64, 0xff9b, 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn ip(s: &str) -> IpAddr {
        IpAddr::from_str(s).unwrap()
    }

    /// Every form an IPv4 address can take in an IPv6 one, written out by hand (not by the
    /// code under test), and whether the rule reads that form for `[a, b, c, d]`.
    fn forms([a, b, c, d]: [u8; 4]) -> Vec<(&'static str, String)> {
        let v4 = format!("{a}.{b}.{c}.{d}");
        let hex = |x: u8, y: u8| format!("{:x}", u16::from_be_bytes([x, y]));
        vec![
            ("itself", v4.clone()),
            ("mapped", format!("::ffff:{v4}")),
            ("compatible", format!("::{v4}")),
            ("nat64", format!("64:ff9b::{v4}")),
            ("local /96", format!("64:ff9b:1::{v4}")),
            (
                "local /64",
                format!("64:ff9b:1:0:{}:{}:{}::", hex(0, a), hex(b, c), hex(d, 0)),
            ),
            (
                "local /56",
                format!("64:ff9b:1:{}:{}:{}::", hex(0, a), hex(0, b), hex(c, d)),
            ),
            (
                "local /48",
                format!("64:ff9b:1:{}:{}:{}::", hex(a, b), hex(0, c), hex(d, 0)),
            ),
            ("6to4", format!("2002:{}:{}::1", hex(a, b), hex(c, d))),
            (
                "teredo",
                format!("2001:0:4136:e378:8000:63bf:{}:{}", hex(!a, !b), hex(!c, !d)),
            ),
            ("isatap", format!("2001:db8:1:2:0:5efe:{v4}")),
            ("isatap u", format!("2001:db8:1:2:200:5efe:{v4}")),
        ]
    }

    /// For each address, its verdict with private networks allowed and refused, in every form:
    /// `None` is allowed.
    #[test]
    fn every_address_is_judged_alike_in_every_form_that_carries_it() {
        use Rule::{Metadata as M, Private as P};
        let metadata = [
            [169, 254, 169, 254],
            [169, 254, 169, 253],
            [169, 254, 170, 2],
            [169, 254, 170, 23],
            [169, 254, 0, 23],
            [168, 63, 129, 16],
            [100, 100, 100, 200],
            [192, 0, 0, 192],
        ];
        let private = [
            [127, 0, 0, 1],
            [127, 1, 2, 3],
            [10, 1, 2, 3],
            [172, 16, 0, 1],
            [172, 31, 255, 254],
            [192, 168, 1, 10],
            [169, 254, 1, 1],
            [100, 64, 0, 1],
            [100, 127, 255, 254],
            [0, 0, 0, 0],
            [255, 255, 255, 255],
        ];
        let public = [
            [1, 1, 1, 1],
            [8, 8, 8, 8],
            [93, 184, 216, 34],
            [100, 128, 0, 1],
            [172, 32, 0, 1],
            [168, 63, 129, 17],
            [1, 1, 1, 10],
        ];
        let rows = (metadata.iter().map(|a| (*a, Some(M), Some(M))))
            .chain(private.iter().map(|a| (*a, None, Some(P))))
            .chain(public.iter().map(|a| (*a, None, None)));
        let mut checked = 0;
        for (v4, open, closed) in rows {
            for (form, text) in forms(v4) {
                if form == "compatible" && v4 == [0, 0, 0, 0] {
                    continue; // `::`, IPv6's own unspecified address: below.
                }
                let addr = ip(&text);
                // The local-use NAT64 prefix is a site's own network: private whatever it carries.
                let closed = match (form.starts_with("local"), closed) {
                    (true, None) => Some(P),
                    (_, verdict) => verdict,
                };
                for (allow, want) in [(true, open), (false, closed)] {
                    let got = check(addr, allow).err().map(|r| r.rule);
                    assert_eq!(
                        got, want,
                        "{text} ({form} of {v4:?}), allow_private = {allow}"
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 26 * 12 - 1);
    }

    #[test]
    fn ipv6_addresses_of_their_own_are_judged_as_themselves() {
        use Rule::{Metadata as M, Private as P};
        for (a, open, closed) in [
            ("fd00:ec2::254", Some(M), Some(M)),
            ("fd00:ec2::253", Some(M), Some(M)),
            ("fd00:ec2::23", Some(M), Some(M)),
            ("::1", None, Some(P)),
            ("::", None, Some(P)),
            ("fd12::1", None, Some(P)),
            ("fe80::1", None, Some(P)),
            ("2606:4700::1111", None, None),
            ("2001:db8::1", None, None),
            // The well-known NAT64 prefix with something public in it is public.
            ("64:ff9b::101:101", None, None),
            // 6to4 and Teredo whose IPv4 address is public.
            ("2002:808:808::1", None, None),
        ] {
            assert_eq!(check(ip(a), true).err().map(|r| r.rule), open, "{a}");
            assert_eq!(check(ip(a), false).err().map(|r| r.rule), closed, "{a}");
        }
    }

    #[test]
    fn a_refusal_names_the_ipv4_address_an_ipv6_one_carries() {
        let why = check(ip("::127.0.0.1"), false).unwrap_err();
        assert_eq!(why.carried, Some(Ipv4Addr::LOCALHOST));
        assert!(
            why.message()
                .starts_with("::7f00:1 (which carries 127.0.0.1) is a loopback"),
            "{}",
            why.message()
        );
        let why = check(ip("64:ff9b::a9fe:a9fe"), true).unwrap_err();
        assert!(
            why.message()
                .contains("carries 169.254.169.254) is a cloud metadata")
        );
        let why = check(ip("169.254.169.254"), true).unwrap_err();
        assert_eq!(why.carried, None);
    }
}
