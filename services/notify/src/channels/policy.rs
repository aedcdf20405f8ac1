//! Where a webhook may go (issue 12): a department names the URL, but the POST leaves from inside
//! the platform, so a URL must not turn notify into a way to reach what only the platform can
//! reach (its database on loopback, the cloud's metadata service on 169.254.169.254, the
//! cluster's private network).
//!
//! The rule, checked when an endpoint is registered and again for every send:
//! - the scheme is `https`; `http` only with `notify.allow_http_webhooks` (development);
//! - every address the host resolves to is public: not unspecified, loopback, link-local,
//!   private (RFC 1918, `fc00::/7`), shared (CGNAT, `100.64.0.0/10`), multicast or reserved,
//!   nor an IPv6 form that carries such an IPv4 address (`::ffff:127.0.0.1`, NAT64
//!   `64:ff9b::/96`), unless it lies in one of `notify.webhook_allowed_networks`.
//!
//! Pure: resolving the host is the caller's (the worker resolves, checks every address here, and
//! connects only to the addresses it checked, so a DNS answer that changes between the check and
//! the connection changes nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use govshare_runtime::{config::NotifySettings, reply::Text};
use ipnet::IpNet;

/// The policy a deployment chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// `notify.allow_http_webhooks`.
    pub allow_http: bool,
    /// `notify.webhook_allowed_networks`, parsed.
    pub allowed: Vec<IpNet>,
}

/// Where a checked URL points: the host as written (a name, or an address) and the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: Host,
    pub port: u16,
}

/// A URL's host: a name to resolve, or an address written in the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Address(IpAddr),
}

/// The ranges a webhook may not reach unless a setting allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16` (with the cloud metadata service at 169.254.169.254), `fe80::/10`.
    LinkLocal,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), `fc00::/7`, the old site-local `fec0::/10`.
    Private,
    /// Carrier-grade NAT, `100.64.0.0/10` (RFC 6598): some clouds put internal services here.
    SharedCgnat,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `240.0.0.0/4` with the broadcast address: never a host.
    Reserved,
}

/// Why a webhook URL or address is refused. Each says what to do, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a URL")]
    NotAUrl,
    #[error("scheme {0} is not https")]
    Scheme(String),
    #[error("plain http is not allowed (notify.allow_http_webhooks is off)")]
    PlainHttp,
    #[error("the URL has no host")]
    NoHost,
    #[error("the host resolves to no address")]
    NoAddress,
    #[error("{address} is a {} address, which webhooks may not reach", range.names().1)]
    Address { address: IpAddr, range: Range },
}

impl Refusal {
    /// The reason, as the caller reads it (the field problem on `url`).
    pub fn text(&self) -> Text {
        match self {
            Refusal::NotAUrl => Text::new("不是有效的网址", "not a valid URL"),
            Refusal::Scheme(s) => Text::new(
                format!("仅支持 https 地址，不支持 {s}://"),
                format!("only https URLs are accepted, not {s}://"),
            ),
            Refusal::PlainHttp => Text::new(
                "须使用 https 地址（本平台未允许明文 http 回调）",
                "must be https (this platform does not allow plain http webhooks)",
            ),
            Refusal::NoHost => Text::new("网址缺少主机名", "the URL has no host"),
            Refusal::NoAddress => Text::new("主机名无法解析", "the host name does not resolve"),
            Refusal::Address { address, range } => {
                let (zh, en) = range.names();
                Text::new(
                    format!(
                        "地址 {address} 属于{zh}，回调不得指向该地址；如确属部门系统，请平台运维人员将其网段加入 notify.webhook_allowed_networks"
                    ),
                    format!(
                        "{address} is a {en} address, which webhooks may not reach; if it is a department system, the platform operators can list its network in notify.webhook_allowed_networks"
                    ),
                )
            }
        }
    }
}

impl Range {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Range::Unspecified => ("未指定地址", "unspecified"),
            Range::Loopback => ("本机回环地址", "loopback"),
            Range::LinkLocal => ("链路本地地址（含云元数据服务）", "link-local (incl. cloud metadata)"),
            Range::Private => ("内网私有地址", "private"),
            Range::SharedCgnat => ("运营商级 NAT 共享地址", "shared (CGNAT)"),
            Range::Multicast => ("组播地址", "multicast"),
            Range::Reserved => ("保留地址", "reserved"),
        }
    }
}

impl WebhookPolicy {
    /// The policy from the settings; an entry of `webhook_allowed_networks` that is not a CIDR
    /// (`10.0.0.0/8`) or a single address is an error, so a typo cannot open nothing silently.
    pub fn from_settings(s: &NotifySettings) -> Result<Self, String> {
        let allowed = s
            .webhook_allowed_networks
            .iter()
            .map(|n| {
                n.trim()
                    .parse::<IpNet>()
                    .or_else(|_| n.trim().parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("notify.webhook_allowed_networks: {n:?} is not a network like 10.0.0.0/8"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allow_http: s.allow_http_webhooks, allowed })
    }

    /// The scheme and host of `url`; an address written in the URL is checked here too.
    pub fn check_url(&self, url: &str) -> Result<Target, Refusal> {
        let url = reqwest::Url::parse(url).map_err(|_| Refusal::NotAUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err(Refusal::PlainHttp),
            other => return Err(Refusal::Scheme(other.to_owned())),
        }
        let port = url.port_or_known_default().ok_or(Refusal::NoHost)?;
        // The parser has normalised the host: an IPv4 address in any notation (`2130706433`,
        // `0x7f.1`) is written out in dotted form, an IPv6 one in brackets.
        let host = match url.host_str() {
            None | Some("") => return Err(Refusal::NoHost),
            Some(h) => match h.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                Ok(a) => Host::Address(a),
                Err(_) => Host::Name(h.to_owned()),
            },
        };
        if let Host::Address(a) = host {
            self.check_address(a)?;
        }
        Ok(Target { host, port })
    }

    /// Whether a webhook may connect to `address`.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Refusal> {
        let Some(range) = forbidden_range(address) else { return Ok(()) };
        let embedded = embedded_v4(address).map(IpAddr::V4);
        if self.allowed.iter().any(|n| n.contains(&address) || embedded.is_some_and(|e| n.contains(&e))) {
            return Ok(());
        }
        Err(Refusal::Address { address, range })
    }

    /// Every address a name resolved to must pass: one bad answer among good ones refuses the
    /// whole name (a connection could land on any of them). Answers the addresses to pin.
    pub fn check_addresses(&self, addresses: &[SocketAddr]) -> Result<Vec<SocketAddr>, Refusal> {
        if addresses.is_empty() {
            return Err(Refusal::NoAddress);
        }
        for a in addresses {
            self.check_address(a.ip())?;
        }
        Ok(addresses.to_vec())
    }
}

/// The range `address` falls in, if it is one webhooks may not reach; `None` for a public one.
pub fn forbidden_range(address: IpAddr) -> Option<Range> {
    match address {
        IpAddr::V4(a) => v4_range(a),
        IpAddr::V6(a) => embedded_v4(IpAddr::V6(a)).map_or_else(|| v6_range(a), v4_range),
    }
}

fn v4_range(a: Ipv4Addr) -> Option<Range> {
    let [o0, o1, ..] = a.octets();
    Some(match (o0, o1) {
        (0, _) => Range::Unspecified,
        (127, _) => Range::Loopback,
        (169, 254) => Range::LinkLocal,
        (10, _) | (192, 168) => Range::Private,
        (172, 16..=31) => Range::Private,
        (100, 64..=127) => Range::SharedCgnat,
        (224..=239, _) => Range::Multicast,
        (240..=255, _) => Range::Reserved,
        _ => return None,
    })
}

fn v6_range(a: Ipv6Addr) -> Option<Range> {
    let first = a.segments()[0];
    Some(if a.is_unspecified() {
        Range::Unspecified
    } else if a.is_loopback() {
        Range::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        Range::LinkLocal
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        Range::Private
    } else if first & 0xff00 == 0xff00 {
        Range::Multicast
    } else {
        return None;
    })
}

/// The IPv4 address an IPv6 address stands for, when a connection to it reaches that IPv4
/// address: IPv4-mapped (`::ffff:a.b.c.d`) and NAT64's well-known prefix (`64:ff9b::/96`).
fn embedded_v4(address: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(a) = address else { return None };
    if let Some(v4) = a.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = a.segments();
    (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> WebhookPolicy {
        WebhookPolicy::default()
    }

    fn allowing(networks: &[&str]) -> WebhookPolicy {
        let s = NotifySettings {
            webhook_allowed_networks: networks.iter().map(|n| n.to_string()).collect(),
            ..NotifySettings::default()
        };
        WebhookPolicy::from_settings(&s).expect("valid networks")
    }

    fn range_of(address: &str) -> Option<Range> {
        forbidden_range(address.parse().unwrap())
    }

    #[test]
    fn every_internal_range_is_refused_by_default() {
        let cases = [
            ("0.0.0.0", Range::Unspecified),
            ("0.1.2.3", Range::Unspecified),
            ("::", Range::Unspecified),
            ("127.0.0.1", Range::Loopback),
            ("127.255.255.254", Range::Loopback),
            ("::1", Range::Loopback),
            ("169.254.169.254", Range::LinkLocal),
            ("169.254.0.1", Range::LinkLocal),
            ("fe80::1", Range::LinkLocal),
            ("febf::1", Range::LinkLocal),
            ("10.0.0.1", Range::Private),
            ("10.255.255.255", Range::Private),
            ("172.16.0.1", Range::Private),
            ("172.31.255.255", Range::Private),
            ("192.168.1.1", Range::Private),
            ("fc00::1", Range::Private),
            ("fd12:3456::1", Range::Private),
            ("fec0::1", Range::Private),
            ("100.64.0.1", Range::SharedCgnat),
            ("100.127.255.255", Range::SharedCgnat),
            ("224.0.0.1", Range::Multicast),
            ("239.255.255.250", Range::Multicast),
            ("ff02::1", Range::Multicast),
            ("240.0.0.1", Range::Reserved),
            ("255.255.255.255", Range::Reserved),
        ];
        for (address, range) in cases {
            assert_eq!(range_of(address), Some(range), "{address}");
            let refused = production().check_address(address.parse().unwrap());
            assert_eq!(refused, Err(Refusal::Address { address: address.parse().unwrap(), range }), "{address}");
        }
    }

    #[test]
    fn an_ipv6_form_of_an_internal_ipv4_address_is_refused_as_that_address() {
        assert_eq!(range_of("::ffff:127.0.0.1"), Some(Range::Loopback));
        assert_eq!(range_of("::ffff:169.254.169.254"), Some(Range::LinkLocal));
        assert_eq!(range_of("::ffff:10.1.2.3"), Some(Range::Private));
        assert_eq!(range_of("::ffff:100.64.0.1"), Some(Range::SharedCgnat));
        assert_eq!(range_of("64:ff9b::a9fe:a9fe"), Some(Range::LinkLocal), "NAT64 of 169.254.169.254");
        assert_eq!(range_of("::ffff:8.8.8.8"), None, "a mapped public address is public");
    }

    #[test]
    fn the_neighbours_of_the_ranges_are_public() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "11.0.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "169.255.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.255.255",
            "192.169.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "223.255.255.255",
            "2001:db8::1",
            "2400:3200::1",
            "fbff::1",
            "fe00::1",
        ] {
            assert_eq!(range_of(address), None, "{address}");
            assert_eq!(production().check_address(address.parse().unwrap()), Ok(()), "{address}");
        }
    }

    #[test]
    fn an_allowed_network_lets_its_addresses_through_and_no_others() {
        // Given the operators allow loopback and one private network
        let policy = allowing(&["127.0.0.0/8", "10.20.0.0/16", "fd00::/8"]);

        // Then those pass, in either IP form, and the rest of the ranges stay closed
        for ok in ["127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "10.20.3.4", "fd00::5"] {
            assert_eq!(policy.check_address(ok.parse().unwrap()), Ok(()), "{ok}");
        }
        for refused in ["10.21.0.1", "192.168.0.1", "169.254.169.254", "::1", "fc00::1"] {
            assert!(policy.check_address(refused.parse().unwrap()).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_single_address_may_be_allowed_and_a_typo_in_the_setting_is_an_error() {
        assert_eq!(allowing(&["169.254.10.10"]).check_address("169.254.10.10".parse().unwrap()), Ok(()));
        let bad = NotifySettings { webhook_allowed_networks: vec!["10.0.0.0/33".into()], ..Default::default() };
        assert!(WebhookPolicy::from_settings(&bad).unwrap_err().contains("10.0.0.0/33"));
    }

    #[test]
    fn only_https_is_accepted_unless_plain_http_is_allowed() {
        let name = |u: &str| production().check_url(u).map(|t| t.host);
        assert_eq!(name("https://hooks.gongan.gd.gov.cn/notify"), Ok(Host::Name("hooks.gongan.gd.gov.cn".into())));
        assert_eq!(name("http://hooks.gongan.gd.gov.cn/notify"), Err(Refusal::PlainHttp));
        assert_eq!(name("httpx://evil/"), Err(Refusal::Scheme("httpx".into())));
        assert_eq!(name("ftp://evil/"), Err(Refusal::Scheme("ftp".into())));
        assert_eq!(name("file:///etc/passwd"), Err(Refusal::Scheme("file".into())));
        assert_eq!(name("not a url"), Err(Refusal::NotAUrl));

        let development = WebhookPolicy { allow_http: true, ..Default::default() };
        let target = development.check_url("http://hooks.test:8080/x").unwrap();
        assert_eq!(target, Target { host: Host::Name("hooks.test".into()), port: 8080 });
        assert_eq!(development.check_url("httpx://evil/"), Err(Refusal::Scheme("httpx".into())));
    }

    #[test]
    fn an_address_written_in_the_url_is_checked_at_once() {
        let development = WebhookPolicy { allow_http: true, ..Default::default() };
        for url in [
            "http://127.0.0.1:5432/",
            "http://169.254.169.254/latest/meta-data/",
            "https://[::1]/hook",
            "https://[::ffff:7f00:1]/hook",
            "https://0.0.0.0/",
            "https://2130706433/", // 127.0.0.1 as one number: the URL parser reads it as IPv4
            "https://0x7f.1/",
        ] {
            assert!(matches!(development.check_url(url), Err(Refusal::Address { .. })), "{url}");
        }
        let target = development.check_url("https://203.0.114.7/hook").unwrap();
        assert_eq!(target, Target { host: Host::Address("203.0.114.7".parse().unwrap()), port: 443 });
    }

    #[test]
    fn one_internal_answer_among_public_ones_refuses_the_name() {
        let answers: Vec<SocketAddr> = vec!["8.8.8.8:443".parse().unwrap(), "10.0.0.7:443".parse().unwrap()];
        assert!(matches!(production().check_addresses(&answers), Err(Refusal::Address { range: Range::Private, .. })));
        assert_eq!(production().check_addresses(&answers[..1]), Ok(answers[..1].to_vec()));
        assert_eq!(production().check_addresses(&[]), Err(Refusal::NoAddress));
    }

    #[test]
    fn every_refusal_explains_itself_in_both_languages() {
        let r = Refusal::Address { address: "169.254.169.254".parse().unwrap(), range: Range::LinkLocal };
        let text = r.text();
        assert!(text.zh.contains("169.254.169.254") && text.zh.contains("链路本地"), "{}", text.zh);
        assert!(text.en.contains("link-local") && text.en.contains("webhook_allowed_networks"), "{}", text.en);
        assert!(Refusal::PlainHttp.text().en.contains("https"));
    }
}
