//! The client's address for rate limits and login budgets: the TCP peer, unless the peer is a
//! trusted proxy (`TB_TRUSTED_PROXIES`), in which case the address it forwarded. Headers from
//! anyone else are ignored, so a client cannot pick its own address.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::{FORWARDED, HeaderMap, HeaderName};

use crate::config::Cidr;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client address of a request from `peer` with `headers`. Behind trusted proxies, the
/// forwarded chain is read from the right (the hop nearest us) and the first address that is
/// not itself a trusted proxy is the client; `X-Forwarded-For` is preferred to `Forwarded`.
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = peer?.ip();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|cidr| cidr.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let chain: Vec<IpAddr> = if headers.contains_key(X_FORWARDED_FOR) {
        values(headers, &X_FORWARDED_FOR).filter_map(parse_node).collect()
    } else {
        values(headers, &FORWARDED)
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim().eq_ignore_ascii_case("for").then(|| parse_node(value))?
                })
            })
            .collect()
    };
    // An unreadable hop ends the chain there: what lies left of it cannot be trusted either.
    Some(chain.iter().rev().copied().find(|ip| !is_trusted(*ip)).or_else(|| chain.first().copied()).unwrap_or(peer))
}

/// Every comma-separated element of every instance of the header.
fn values<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a str> {
    headers.get_all(name).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxies: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let forged = headers(&[("x-forwarded-for", "198.51.100.7")]);
        let from_client = Some("203.0.113.5:5000".parse().unwrap());
        assert_eq!(client_ip(from_client, &forged, &proxies), Some(ip("203.0.113.5")));
        let from_proxy = Some("10.1.2.3:5000".parse().unwrap());
        assert_eq!(client_ip(from_proxy, &forged, &proxies), Some(ip("198.51.100.7")));
        // A client's own forged entry sits left of what the proxy appended: the proxy's wins.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.9.9.9")]);
        assert_eq!(client_ip(from_proxy, &chain, &proxies), Some(ip("198.51.100.7")));
        let forwarded = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https, for=10.2.2.2")]);
        assert_eq!(client_ip(from_proxy, &forwarded, &proxies), Some(ip("2001:db8::1")));
        assert_eq!(client_ip(from_proxy, &HeaderMap::new(), &proxies), Some(ip("10.1.2.3")));
    }
}
