//! The simulated testbed: devices, the cloud destinations each one talks to, and the addresses
//! those names resolve to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::util::fnv1a;
use super::wire::Mac;

/// The home router: DHCP server, DNS resolver (UDP/TCP 53) and default gateway.
pub const ROUTER_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub const ROUTER_MAC: Mac = [0x00, 0x1d, 0x7e, 0x4a, 0x10, 0x01];

/// What happens after a name is resolved.
#[derive(Clone, Copy, Debug)]
pub enum Service {
    /// TLS on `port`: handshake then `up`/`down` bytes of application data.
    Tls {
        port: u16,
        alpn: &'static [&'static str],
        tls13: bool,
        up: u32,
        down: u32,
    },
    /// TLS 1.3 on 443 followed by `segments` full-size segments of video, client to server.
    Upload { segments: u32 },
    /// Plain HTTP GET on port 80.
    Http {
        path: &'static str,
        status: u16,
        reason: &'static str,
        body: u32,
    },
    /// SNTP over UDP 123.
    Ntp,
}

/// A name a device resolves and then contacts.
#[derive(Clone, Copy, Debug)]
pub struct Dest {
    pub name: &'static str,
    /// CNAME chain returned by the resolver (each entry the next target).
    pub cnames: &'static [&'static str],
    /// First two octets of the IPv4 answers.
    pub net4: [u8; 2],
    /// First three groups of the IPv6 answers; `None`: AAAA queries get NOERROR/no data.
    pub net6: Option<[u16; 3]>,
    /// TTL of the address records (CNAME records get a longer TTL).
    pub ttl: u32,
    pub service: Service,
    /// Relative frequency of sessions to this destination.
    pub weight: u32,
}

impl Dest {
    /// Name the address records belong to (end of the CNAME chain).
    pub fn canonical(&self) -> &'static str {
        self.cnames.last().copied().unwrap_or(self.name)
    }

    /// IPv4 answers: 1–4 stable addresses derived from the canonical name.
    pub fn addrs4(&self) -> Vec<IpAddr> {
        let h = fnv1a(self.canonical());
        let n = 1 + (h % 4) as usize;
        (0..n)
            .map(|i| {
                let x = (h >> 16).wrapping_add(i as u64 * 0x9e37);
                IpAddr::V4(Ipv4Addr::new(
                    self.net4[0],
                    self.net4[1],
                    (x >> 8) as u8,
                    (x as u8).max(2),
                ))
            })
            .collect()
    }

    /// IPv6 answers (two), or none when the destination is IPv4-only.
    pub fn addrs6(&self) -> Vec<IpAddr> {
        let Some(p) = self.net6 else {
            return Vec::new();
        };
        let h = fnv1a(self.canonical());
        (0..2u16)
            .map(|i| {
                let x = (h >> 24) as u16;
                IpAddr::V6(Ipv6Addr::new(
                    p[0],
                    p[1],
                    p[2],
                    x,
                    0,
                    0,
                    0x10 + i,
                    (h as u16) | 1,
                ))
            })
            .collect()
    }

    /// Round-trip time to the server in µs (8–90 ms), stable per name.
    pub fn rtt_us(&self) -> u64 {
        8_000 + fnv1a(self.name) % 82_000
    }

    /// IP TTL / hop limit of packets from this server as seen at the router.
    pub fn remote_ttl(&self) -> u8 {
        40 + (fnv1a(self.name) % 19) as u8
    }
}

/// One IoT device of the testbed.
#[derive(Debug)]
pub struct Device {
    pub name: &'static str,
    pub manufacturer: &'static str,
    pub ip: Ipv4Addr,
    /// Unique-local IPv6 address; devices without one never query AAAA or use IPv6.
    pub ip6: Option<Ipv6Addr>,
    pub mac: Mac,
    pub hostname: &'static str,
    pub mdns_service: &'static str,
    pub user_agent: &'static str,
    /// Sessions per capture file at scale 1.
    pub sessions: u32,
    /// Some captures of this device resolve part of their names over DNS-over-TCP.
    pub dns_tcp: bool,
    /// DNS query names use random letter case ("0x20" encoding); answers echo it.
    pub dns_0x20: bool,
    /// Names that get NXDOMAIN (typically search-domain suffixed lookups).
    pub nxdomain: &'static [&'static str],
    pub dests: &'static [Dest],
}

const fn tls(port: u16, alpn: &'static [&'static str], tls13: bool, up: u32, down: u32) -> Service {
    Service::Tls {
        port,
        alpn,
        tls13,
        up,
        down,
    }
}

/// Table-friendly constructor: name, CNAME chain, IPv4 /16, IPv6 /48, TTL, weight, service.
#[allow(clippy::too_many_arguments)]
const fn dest(
    name: &'static str,
    cnames: &'static [&'static str],
    net4: [u8; 2],
    net6: Option<[u16; 3]>,
    ttl: u32,
    weight: u32,
    service: Service,
) -> Dest {
    Dest {
        name,
        cnames,
        net4,
        net6,
        ttl,
        service,
        weight,
    }
}

const GOOGLE6: Option<[u16; 3]> = Some([0x2607, 0xf8b0, 0x4004]);

#[rustfmt::skip]
const CONNECTIVITY: Dest = dest("connectivitycheck.gstatic.com", &[],
                                [142, 251], GOOGLE6, 300, 2,
                                Service::Http { path: "/generate_204", status: 204, reason: "No Content", body: 0 });
#[rustfmt::skip]
const APP_MEASUREMENT: Dest = dest("app-measurement.com", &[],
                                   [142, 250], GOOGLE6, 300, 1,
                                   tls(443, &["h2", "http/1.1"], true, 2200, 900));
#[rustfmt::skip]
const GOOGLE_ANALYTICS: Dest = dest("www.google-analytics.com", &["www-google-analytics.l.google.com"],
                                    [172, 217], GOOGLE6, 255, 1,
                                    tls(443, &["h2", "http/1.1"], true, 1800, 700));
#[rustfmt::skip]
const DOUBLECLICK: Dest = dest("pubads.g.doubleclick.net", &["pubads-g-doubleclick.l.google.com"],
                               [142, 250], GOOGLE6, 120, 1,
                               tls(443, &["h2", "http/1.1"], true, 1200, 5200));
#[rustfmt::skip]
const POOL_NTP: Dest = dest("pool.ntp.org", &[],
                            [162, 159], None, 130, 2,
                            Service::Ntp);

/// The five devices of the testbed (order is part of the deterministic output).
#[rustfmt::skip]
pub static DEVICES: [Device; 5] = [
    Device {
        name: "sonos_speaker",
        manufacturer: "Sonos",
        ip: Ipv4Addr::new(192, 168, 1, 21),
        ip6: Some(Ipv6Addr::new(0xfd6e, 0x7a1c, 0x93b4, 1, 0x020e, 0x58ff, 0xfe12, 0x3456)),
        mac: [0x00, 0x0e, 0x58, 0x12, 0x34, 0x56],
        hostname: "Sonos-000E58123456",
        mdns_service: "_sonos._tcp.local",
        user_agent: "Linux UPnP/1.0 Sonos/80.1-55014 (ZPS33)",
        sessions: 8,
        dns_tcp: true,
        dns_0x20: false,
        nxdomain: &["wpad.lan", "api.sonos.com.lan"],
        dests: &[
            dest("api.sonos.com", &["d2p4a9cz0nj1qk.cloudfront.net"],
                 [13, 249], Some([0x2600, 0x9000, 0x2147]), 60, 5,
                 tls(443, &["h2", "http/1.1"], true, 1200, 3500)),
            dest("msmetrics.ws.sonos.com", &["msmetrics-ws-prod-1187.us-east-1.elb.amazonaws.com"],
                 [52, 70], None, 60, 4,
                 tls(443, &["http/1.1"], true, 2500, 500)),
            dest("a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com", &[],
                 [34, 194], None, 300, 3,
                 tls(8883, &["mqtt"], true, 800, 400)),
            dest("update.sonos.com", &["update.sonos.com.edgekey.net", "e8712.b.akamaiedge.net"],
                 [23, 45], Some([0x2a02, 0x26f0, 0x00fd]), 20, 1,
                 tls(443, &["http/1.1"], true, 600, 5000)),
            APP_MEASUREMENT,
            CONNECTIVITY,
        ],
    },
    Device {
        name: "tplink_plug",
        manufacturer: "TP-Link",
        ip: Ipv4Addr::new(192, 168, 1, 32),
        ip6: None,
        mac: [0x50, 0xc7, 0xbf, 0x3a, 0x91, 0x0e],
        hostname: "HS110",
        mdns_service: "_http._tcp.local",
        user_agent: "TP-LINK/HS110 1.5.6",
        sessions: 10,
        dns_tcp: false,
        dns_0x20: false,
        nxdomain: &["n-devs.tplinkcloud.com.lan"],
        dests: &[
            dest("n-devs.tplinkcloud.com", &["n-devs-prod-1543851233.us-east-1.elb.amazonaws.com"],
                 [52, 20], None, 60, 5,
                 tls(443, &[], false, 900, 700)),
            dest("n-deventry.tplinkcloud.com", &["n-deventry-prod-700214.us-east-1.elb.amazonaws.com"],
                 [3, 224], None, 60, 3,
                 tls(443, &["http/1.1"], false, 600, 500)),
            dest("use1-api.tplinkra.com", &["use1-api-prod-88231.us-east-1.elb.amazonaws.com"],
                 [54, 86], None, 60, 3,
                 tls(443, &["http/1.1"], false, 1100, 800)),
            dest("download.tplinkcloud.com", &["d3s2f1x5rte9y.cloudfront.net"],
                 [13, 35], None, 3600, 1,
                 Service::Http { path: "/firmware/hs110/latest.json", status: 200, reason: "OK", body: 380 }),
            POOL_NTP,
        ],
    },
    Device {
        name: "tuya_bulb",
        manufacturer: "Tuya (white label)",
        ip: Ipv4Addr::new(192, 168, 1, 45),
        ip6: None,
        mac: [0xd8, 0x1f, 0x12, 0x6b, 0x0a, 0x44],
        hostname: "ESP_6B0A44",
        mdns_service: "_tuya._tcp.local",
        user_agent: "tuya-iot/3.3",
        sessions: 10,
        dns_tcp: false,
        dns_0x20: true,
        nxdomain: &["a3.tuyaus.com"],
        dests: &[
            dest("a1.tuyaus.com", &["a1-us-openapi-1092.us-west-2.elb.amazonaws.com"],
                 [35, 160], None, 60, 4,
                 tls(443, &["http/1.1"], false, 700, 1500)),
            dest("m1.tuyaus.com", &["m1-us-8883-nlb-9a2c.elb.us-west-2.amazonaws.com"],
                 [44, 226], None, 60, 5,
                 tls(8883, &["mqtt"], false, 300, 200)),
            dest("time.google.com", &[],
                 [216, 239], None, 21_600, 2,
                 Service::Ntp),
        ],
    },
    Device {
        name: "echo_dot",
        manufacturer: "Amazon",
        ip: Ipv4Addr::new(192, 168, 1, 57),
        ip6: Some(Ipv6Addr::new(0xfd6e, 0x7a1c, 0x93b4, 1, 0x76c2, 0x46ff, 0xfe8e, 0x1d02)),
        mac: [0x74, 0xc2, 0x46, 0x8e, 0x1d, 0x02],
        hostname: "amazon-8e1d02",
        mdns_service: "_amzn-wplay._tcp.local",
        user_agent: "Dalvik/2.1.0 (Linux; U; Android 7.1.2; AEOBC)",
        sessions: 9,
        dns_tcp: true,
        dns_0x20: false,
        nxdomain: &["wpad.lan", "device-metrics-us.amazon.com.lan"],
        dests: &[
            dest("avs-alexa-na.amazon.com", &["avs-alexa-4-na.amazon.com", "avs-alexa.na.amazon.com.akadns.net"],
                 [54, 239], Some([0x2600, 0x1f18, 0x4a3]), 60, 5,
                 tls(443, &["h2"], true, 2000, 3000)),
            dest("device-metrics-us.amazon.com", &["device-metrics-us.amazon.com.edgekey.net", "e15316.a.akamaiedge.net"],
                 [23, 62], Some([0x2600, 0x1406, 0x3c00]), 20, 4,
                 tls(443, &["http/1.1"], true, 2500, 400)),
            dest("api.amazon.com", &["d1wdeyhmurmhsl.cloudfront.net"],
                 [54, 230], Some([0x2600, 0x9000, 0x21f3]), 60, 2,
                 tls(443, &["h2", "http/1.1"], true, 1500, 2500)),
            dest("s3.amazonaws.com", &["s3-1-w.amazonaws.com"],
                 [52, 216], None, 5, 1,
                 tls(443, &["http/1.1"], true, 700, 3000)),
            dest("ntp-g7g.amazon.com", &[],
                 [52, 94], None, 300, 1,
                 Service::Ntp),
            DOUBLECLICK,
            CONNECTIVITY,
        ],
    },
    Device {
        name: "ring_doorbell",
        manufacturer: "Ring",
        ip: Ipv4Addr::new(192, 168, 1, 68),
        ip6: None,
        mac: [0x9c, 0x76, 0x13, 0x2f, 0x88, 0xc1],
        hostname: "RingDoorbell-c1",
        mdns_service: "_ring._tcp.local",
        user_agent: "Ring/3.4.1",
        sessions: 6,
        dns_tcp: false,
        dns_0x20: false,
        nxdomain: &["fw.ring.com.lan"],
        dests: &[
            dest("fw.ring.com", &["fw-ring-prod-1630.us-east-1.elb.amazonaws.com"],
                 [52, 5], None, 60, 3,
                 tls(443, &["http/1.1"], true, 1200, 900)),
            dest("es.ring.com", &["es-ring-prod-2066.us-east-1.elb.amazonaws.com"],
                 [3, 91], None, 60, 3,
                 tls(443, &["h2", "http/1.1"], true, 1800, 600)),
            dest("rss-upload.ring.com", &["ring-video-upload-prod.s3.dualstack.us-east-1.amazonaws.com"],
                 [52, 217], None, 5, 2,
                 Service::Upload { segments: 24 }),
            APP_MEASUREMENT,
            GOOGLE_ANALYTICS,
            POOL_NTP,
        ],
    },
];
