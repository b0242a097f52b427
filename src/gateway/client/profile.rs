//! One upstream HTTP client per network profile — trusted CAs, certificate checking, proxy,
//! outbound rule — shared by every provider that has it. Providers with none of their own use
//! the per-worker clients (`client::for_route`); this is for the rest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use zeroize::Zeroizing;

use super::super::table::calling::NetworkSpec;
use super::outbound::Resolve;

use crate::domain::settings::ProxyKind;
use crate::secrets::MasterKey;

/// What sets one client apart from another; the proxy password in the clear, as two
/// providers with the same proxy share a client though each has its own sealed copy.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Profile {
    pub ca_pem: Option<String>,
    pub insecure: bool,
    pub proxy: ProxySpec,
    pub allow_private: bool,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum ProxySpec {
    /// `HTTPS_PROXY` and the rest, as reqwest reads them: only for a provider that asks for
    /// them (`proxy.type: environment`). A proxy sees every key sent through it, and the
    /// outbound guard sees only the proxy, so one set for other programs must not take
    /// modelgate's calls unasked.
    Environment,
    /// Direct, whatever the environment says; what a provider without `proxy` gets.
    None,
    Url {
        /// With any credentials set into it (socks5), or beside it (`username`, for http).
        url: String,
        username: Option<String>,
        password: Option<Password>,
    },
}

/// A password that zeroes its memory and never shows in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl std::hash::Hash for Password {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

impl Profile {
    /// The profile of `spec`, with its proxy password opened.
    pub fn of(
        spec: &NetworkSpec,
        master: &MasterKey,
        allow_private_default: bool,
    ) -> Result<Profile, String> {
        let proxy = match &spec.proxy {
            None => ProxySpec::None,
            Some(p) => match p.kind {
                ProxyKind::Environment => ProxySpec::Environment,
                ProxyKind::None => ProxySpec::None,
                ProxyKind::Http | ProxyKind::Socks5 => ProxySpec::Url {
                    url: p.url.clone().unwrap_or_default(),
                    username: p.username.clone(),
                    password: p
                        .password(master, spec.provider)
                        .map_err(|_| {
                            "its proxy password cannot be opened with this master key".to_owned()
                        })?
                        .map(Password),
                },
            },
        };
        Ok(Profile {
            ca_pem: spec.ca_pem.clone(),
            insecure: spec.insecure,
            proxy,
            allow_private: spec.allow_private.unwrap_or(allow_private_default),
        })
    }

    /// The proxy's URL, for the outbound check of an IP-literal proxy host.
    pub fn proxy_url(&self) -> Option<url::Url> {
        match &self.proxy {
            ProxySpec::Url { url, .. } => url::Url::parse(url).ok(),
            _ => None,
        }
    }

    fn client(&self, resolve: &Resolve) -> Result<reqwest::Client, String> {
        let mut b = super::builder(Arc::clone(resolve), self.allow_private);
        if let Some(pem) = &self.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| format!("its caCertPem cannot be read: {e}"))?;
            if certs.is_empty() {
                return Err("its caCertPem holds no certificate".into());
            }
            for cert in certs {
                b = b.add_root_certificate(cert);
            }
        }
        if self.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        b = match &self.proxy {
            ProxySpec::Environment => b,
            ProxySpec::None => b.no_proxy(),
            ProxySpec::Url {
                url,
                username,
                password,
            } => {
                // Errors here never quote the URL: a SOCKS one carries the password by now.
                let mut url = url::Url::parse(url)
                    .map_err(|_| "its proxy URL cannot be parsed".to_owned())?;
                let socks = url.scheme().starts_with("socks");
                // reqwest takes a SOCKS proxy's credentials from its URL only.
                if socks && let Some(user) = username {
                    let _ = url.set_username(user);
                    let _ = url.set_password(password.as_ref().map(|p| p.0.as_str()));
                }
                let mut proxy = reqwest::Proxy::all(url.as_str())
                    .map_err(|_| "its proxy URL is not one the HTTP client can use".to_owned())?;
                if !socks && let Some(user) = username {
                    proxy = proxy.basic_auth(user, password.as_ref().map_or("", |p| p.0.as_str()));
                }
                b.proxy(proxy)
            }
        };
        b.build()
            .map_err(|e| format!("no client can be built for it: {e}"))
    }
}

/// The clients of the profiles in use. A client lives as long as a route holds it: a profile
/// no provider has any more is dropped with its connections.
pub struct Clients {
    resolve: Resolve,
    shared: Mutex<HashMap<Profile, Weak<reqwest::Client>>>,
}

impl Clients {
    pub fn new(resolve: Resolve) -> Clients {
        Clients {
            resolve,
            shared: Mutex::new(HashMap::new()),
        }
    }

    pub fn resolver(&self) -> &Resolve {
        &self.resolve
    }

    /// The client of `profile`, built on first need.
    pub fn get(&self, profile: &Profile) -> Result<Arc<reqwest::Client>, String> {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = shared.get(profile).and_then(Weak::upgrade) {
            return Ok(client);
        }
        shared.retain(|_, c| c.strong_count() > 0);
        let client = Arc::new(profile.client(&self.resolve)?);
        shared.insert(profile.clone(), Arc::downgrade(&client));
        Ok(client)
    }

    /// Profiles with a live client.
    #[cfg(test)]
    pub fn live_profiles(&self) -> usize {
        let shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.values().filter(|c| c.strong_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn profile(ca_pem: Option<&str>, allow_private: bool) -> Profile {
        Profile {
            ca_pem: ca_pem.map(str::to_owned),
            insecure: false,
            proxy: ProxySpec::None,
            allow_private,
        }
    }

    /// Every name resolves to `to`; nothing is looked up.
    fn stub(to: SocketAddr) -> Resolve {
        Arc::new(move |_name: String| Box::pin(async move { Ok(vec![to]) }))
    }

    #[test]
    fn providers_with_one_profile_share_one_client_and_a_profile_no_one_holds_is_dropped() {
        let clients = Clients::new(stub(SocketAddr::from(([127, 0, 0, 1], 9))));
        let a = clients.get(&profile(None, true)).unwrap();
        let b = clients.get(&profile(None, true)).unwrap();
        let c = clients.get(&profile(None, false)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(clients.live_profiles(), 2);
        drop((a, b));
        assert_eq!(clients.live_profiles(), 1);
        let bad = clients.get(&profile(Some("not pem"), true));
        assert!(bad.unwrap_err().contains("caCertPem"));
    }

    /// The environment's proxy (`HTTPS_PROXY` and the rest) carries a provider's calls only
    /// when the provider asks for it; without `proxy` it is called directly.
    #[test]
    fn only_proxy_type_environment_takes_the_environments_proxy() {
        use crate::domain::settings::Proxy;
        let master = MasterKey::generate().unwrap();
        let spec = |kind: Option<ProxyKind>| NetworkSpec {
            provider: ulid::Ulid::new(),
            ca_pem: None,
            insecure: false,
            proxy: kind.map(|kind| Proxy {
                kind,
                url: None,
                username: None,
                password: None,
            }),
            allow_private: Some(true),
        };
        let proxy = |kind| Profile::of(&spec(kind), &master, true).unwrap().proxy;
        assert!(matches!(proxy(None), ProxySpec::None));
        assert!(matches!(proxy(Some(ProxyKind::None)), ProxySpec::None));
        assert!(matches!(
            proxy(Some(ProxyKind::Environment)),
            ProxySpec::Environment
        ));
    }

    /// The client's resolver is where a name's address is checked: a name the stub points at
    /// loopback is never dialled while private addresses are refused, and is once allowed.
    #[tokio::test]
    async fn a_refused_address_is_never_dialled() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dialled = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&dialled);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        let clients = Clients::new(stub(addr));
        let url = format!("http://rebound.test:{}/v1", addr.port());
        let refused = clients.get(&profile(None, false)).unwrap();
        let e = refused.get(&url).send().await.unwrap_err();
        let why = super::super::outbound::refusal_in(&e).expect("the guard refused it");
        assert_eq!(why.rule, super::super::outbound::Rule::Private);
        assert_eq!(dialled.load(Ordering::SeqCst), 0);

        let allowed = clients.get(&profile(None, true)).unwrap();
        let _ = allowed.get(&url).send().await;
        assert_eq!(dialled.load(Ordering::SeqCst), 1);
    }
}
