//! Per-packet drop reasons: every packet or payload the extractor could not use is counted under
//! exactly one reason, and the counts go to the `captures` table (`drop_<reason>` columns).
//! A leaf module: every stage may use it.

/// Why a packet (or a payload inside it) was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Link type the decoder does not handle (e.g. 802.11 radiotap, FDDI variants).
    UnsupportedLink,
    /// Link header shorter than it must be, or inconsistent.
    LinkMalformed,
    /// Not IP (ARP, LLDP, EAPOL, …).
    NonIp,
    /// IP header malformed or cut.
    IpMalformed,
    /// IP fragment that could not be used (not reassembled).
    IpFragment,
    /// IP protocol other than TCP, UDP, ICMP, ICMPv6 (IGMP, GRE, ESP, …).
    UnsupportedTransport,
    /// TCP/UDP/ICMP header cut by the snap length or malformed.
    TransportMalformed,
    /// A DNS message on port 53 that did not parse.
    DnsMalformed,
    /// A TLS handshake that started like a ClientHello but did not parse.
    TlsMalformed,
    /// A TCP stream hit its reassembly cap (data past the cap was ignored).
    ReassemblyCap,
    /// The flow table was full; flows were flushed early (one flow may give several rows).
    FlowTableFull,
    /// Packet without a usable timestamp (pcapng simple packet block).
    NoTimestamp,
    /// A tunnel header (GRE, IP-in-IP) that is cut or malformed.
    TunnelMalformed,
    /// Tunnels nested deeper than the decoder follows.
    TunnelDepth,
}

impl DropReason {
    /// All reasons, in column order.
    pub const ALL: [DropReason; 14] = [
        DropReason::UnsupportedLink,
        DropReason::LinkMalformed,
        DropReason::NonIp,
        DropReason::IpMalformed,
        DropReason::IpFragment,
        DropReason::UnsupportedTransport,
        DropReason::TransportMalformed,
        DropReason::DnsMalformed,
        DropReason::TlsMalformed,
        DropReason::ReassemblyCap,
        DropReason::FlowTableFull,
        DropReason::NoTimestamp,
        DropReason::TunnelMalformed,
        DropReason::TunnelDepth,
    ];

    /// Stable snake_case name (the column is `drop_<name>`).
    pub fn name(self) -> &'static str {
        match self {
            DropReason::UnsupportedLink => "unsupported_link",
            DropReason::LinkMalformed => "link_malformed",
            DropReason::NonIp => "non_ip",
            DropReason::IpMalformed => "ip_malformed",
            DropReason::IpFragment => "ip_fragment",
            DropReason::UnsupportedTransport => "unsupported_transport",
            DropReason::TransportMalformed => "transport_malformed",
            DropReason::DnsMalformed => "dns_malformed",
            DropReason::TlsMalformed => "tls_malformed",
            DropReason::ReassemblyCap => "reassembly_cap",
            DropReason::FlowTableFull => "flow_table_full",
            DropReason::NoTimestamp => "no_timestamp",
            DropReason::TunnelMalformed => "tunnel_malformed",
            DropReason::TunnelDepth => "tunnel_depth",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counts per reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounts([u64; DropReason::ALL.len()]);

impl DropCounts {
    pub fn add(&mut self, r: DropReason) {
        self.0[r.index()] += 1;
    }
    pub fn get(&self, r: DropReason) -> u64 {
        self.0[r.index()]
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    pub fn merge(&mut self, other: &DropCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_indexed_in_order() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
        let mut c = DropCounts::default();
        c.add(DropReason::NonIp);
        c.add(DropReason::NonIp);
        assert_eq!((c.get(DropReason::NonIp), c.total()), (2, 2));
    }
}
