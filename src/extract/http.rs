//! HTTP/1.x request heads: the Host header of the first request of a flow, on any TCP port
//! (the request is recognised by its method token, not by the port).

use super::text::normalize_name;

/// Longest request head looked at.
pub const MAX_HEAD: usize = 16 * 1024;

const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// Progress on the start of a client stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    NotHttp,
    /// The head is complete (or hit the cap): the host, if any, and whether it is a CONNECT.
    Request {
        host: Option<String>,
        connect: bool,
    },
}

/// True when `b` could begin an HTTP request (a method token, checked as far as it goes).
pub fn looks_like_request(b: &[u8]) -> bool {
    !b.is_empty()
        && METHODS
            .iter()
            .any(|m| b.len().min(m.len()) > 0 && m.starts_with(&b[..b.len().min(m.len())]))
}

/// Host without port or brackets, normalised; None when empty.
pub fn host_of(value: &[u8]) -> Option<String> {
    let v = value.trim_ascii();
    let v = if v.first() == Some(&b'[') {
        // [v6]:port
        let end = v.iter().position(|&c| c == b']').unwrap_or(v.len());
        &v[1..end]
    } else {
        match v.iter().rposition(|&c| c == b':') {
            Some(i) if v[i + 1..].iter().all(u8::is_ascii_digit) => &v[..i],
            _ => v,
        }
    };
    (!v.is_empty()).then(|| normalize_name(v))
}

/// Parses the request head at the start of a client stream.
pub fn parse_request(b: &[u8]) -> Progress {
    if !looks_like_request(b) {
        return Progress::NotHttp;
    }
    if !METHODS.iter().any(|m| b.starts_with(m)) {
        return Progress::NeedMore;
    }
    let connect = b.starts_with(b"CONNECT ");
    let end = b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 2);
    let head = match end {
        Some(e) => &b[..e],
        None if b.len() >= MAX_HEAD => &b[..MAX_HEAD],
        None => return Progress::NeedMore,
    };
    let mut host = None;
    for line in head.split(|&c| c == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(colon) = line.iter().position(|&c| c == b':') {
            if line[..colon].eq_ignore_ascii_case(b"host") {
                host = host_of(&line[colon + 1..]);
                break;
            }
        }
    }
    if host.is_none() && connect {
        // CONNECT host:port HTTP/1.1 — the target is the authority.
        let target = head[8..].split(|&c| c == b' ').next().unwrap_or(&[]);
        host = host_of(target);
    }
    Progress::Request { host, connect }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let r = b"GET /generate_204 HTTP/1.1\r\nUser-Agent: x\r\nhOST: ConnectivityCheck.gstatic.com:80\r\n\r\n";
        assert_eq!(
            parse_request(r),
            Progress::Request {
                host: Some("connectivitycheck.gstatic.com".into()),
                connect: false
            }
        );
        assert_eq!(
            parse_request(b"CONNECT secure.newegg.com:443 HTTP/1.1\r\n\r\n"),
            Progress::Request {
                host: Some("secure.newegg.com".into()),
                connect: true
            }
        );
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n"),
            Progress::Request {
                host: Some("2001:db8::1".into()),
                connect: false
            }
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.0\r\n\r\n"),
            Progress::Request {
                host: None,
                connect: false
            }
        );
        assert_eq!(parse_request(b"\x16\x03\x01"), Progress::NotHttp);
        assert_eq!(parse_request(b"GE"), Progress::NeedMore);
    }

    #[test]
    fn truncation_sweep_and_cap() {
        let r = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
        for cut in 1..r.len() - 1 {
            assert_eq!(parse_request(&r[..cut]), Progress::NeedMore, "cut {cut}");
        }
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', MAX_HEAD));
        assert!(matches!(
            parse_request(&big),
            Progress::Request { host: None, .. }
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut d = b"GET ".to_vec();
            d.extend_from_slice(&data);
            let _ = parse_request(&d);
            let _ = parse_request(&data);
        }
    }
}
