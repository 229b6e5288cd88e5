//! Where deliveries may go.
//!
//! A webhook URL is typed by a tenant admin, but the request is made by the
//! server, from inside the operator's network: without a check, a tenant could
//! point an endpoint at `http://127.0.0.1:8081/metrics`, a database's HTTP
//! port or a cloud metadata service (`169.254.169.254`) and read or poke at
//! what only the server can reach (server-side request forgery). So every
//! address a delivery connects to must be public, unless the operator's config
//! says `[webhooks] allow_private_addresses = true` (tests, or receivers on
//! the operator's own network). The check is made on the addresses the name
//! resolves to, at connect time, so a name that resolves to a private address
//! (or changes to one later) is refused too; redirects are not followed.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an endpoint's address was refused.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// The address is kept for tests and callers, not shown: the message
    /// goes to logs, which carry no addresses.
    #[error("the URL names a private, loopback or otherwise internal address")]
    Private(IpAddr),
    #[error("the name resolves to no public address")]
    NoPublicAddress,
}

/// Whether `ip` is an ordinary address on the internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7, link-local fe80::/10.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                // Documentation 2001:db8::/32.
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                // NAT64 64:ff9b::/96 can reach private IPv4 behind it.
                || (first == 0x0064 && v6.segments()[1] == 0xff9b))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 0.0.0.0/8, carrier-grade NAT 100.64.0.0/10, benchmarking
        // 198.18.0.0/15, reserved 240.0.0.0/4.
        || a == 0
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240)
}

/// Checks an address the URL names literally (a resolver never sees those).
pub fn check_literal(host: &url::Host<&str>, allow_private: bool) -> Result<(), AddressError> {
    let ip = match host {
        url::Host::Ipv4(v4) => IpAddr::V4(*v4),
        url::Host::Ipv6(v6) => IpAddr::V6(*v6),
        url::Host::Domain(_) => return Ok(()),
    };
    if allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(AddressError::Private(ip))
    }
}

/// The delivery client's resolver: the system's, less what may not be
/// reached.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|addr| allow_private || is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(AddressError::NoPublicAddress) as _);
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

impl GuardedResolver {
    pub fn shared(allow_private: bool) -> Arc<Self> {
        Arc::new(Self { allow_private })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            assert!(!is_public(ip), "{internal}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(is_public(ip), "{public}");
        }
    }

    #[test]
    fn literal_hosts_are_checked_unless_allowed() {
        let url = url::Url::parse("http://127.0.0.1:9/hook").unwrap();
        let host = url.host().unwrap();
        assert!(check_literal(&host, false).is_err());
        assert!(check_literal(&host, true).is_ok());
        let named = url::Url::parse("https://hooks.example.com/x").unwrap();
        assert!(check_literal(&named.host().unwrap(), false).is_ok());
    }

    #[tokio::test]
    async fn a_name_for_loopback_resolves_to_nothing_unless_allowed() {
        let name: Name = "localhost".parse().unwrap();
        assert!(GuardedResolver::shared(false).resolve(name).await.is_err());
        let name: Name = "localhost".parse().unwrap();
        let addrs: Vec<_> = GuardedResolver::shared(true)
            .resolve(name)
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
    }
}
