//! Capture file names: `YYYY-MM-DD_HH.MM.SS_<deviceIP>.pcap[ng][N][.gz]`.
//!
//! The date and time are the capture start as written by the testbed (taken as UTC), the IP is
//! the device's address (IPv4 or IPv6). tcpdump's rotation (`-C`) appends a number to the
//! extension (`…pcap1`, `…pcap2`); gzip adds `.gz`.

use std::net::IpAddr;

/// What a capture file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    /// Capture start, microseconds since the Unix epoch (the name's wall time read as UTC).
    pub ts_us: i64,
    pub year: i32,
    pub month: u32,
    /// Device address from the name, when it parses as an IP.
    pub device_ip: Option<IpAddr>,
    /// Rotation number (`pcap1` → 1), 0 when absent.
    pub rotation: u32,
}

/// Parses a capture file name; `None` when it does not follow the layout.
pub fn parse_capture_name(name: &str) -> Option<ParsedName> {
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    // Split off the extension: ".pcap", ".pcapng", ".pcap<N>", ".pcapng<N>".
    let dot = stem.rfind(".pcap")?;
    let (base, ext) = stem.split_at(dot);
    let ext = &ext[".pcap".len()..];
    let digits = ext.strip_prefix("ng").unwrap_or(ext);
    let rotation = if digits.is_empty() {
        0
    } else if digits.bytes().all(|b| b.is_ascii_digit()) && digits.len() <= 6 {
        digits.parse().ok()?
    } else {
        return None;
    };
    // base = "YYYY-MM-DD_HH.MM.SS_<ip>"
    let b = base.as_bytes();
    if b.len() < 21 || b[10] != b'_' || b[19] != b'_' {
        return None;
    }
    let num = |s: &[u8]| -> Option<u32> {
        if s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b'.' || b[16] != b'.' {
        return None;
    }
    let year = num(&b[0..4])? as i32;
    let month = num(&b[5..7])?;
    let day = num(&b[8..10])?;
    let hour = num(&b[11..13])?;
    let min = num(&b[14..16])?;
    let sec = num(&b[17..19])?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let ip_text = &base[20..];
    let device_ip = ip_text.parse::<IpAddr>().ok();
    let days = days_from_civil(year, month, day);
    let ts_us = ((days * 86_400) + i64::from(hour * 3600 + min * 60 + sec)) * 1_000_000;
    Some(ParsedName {
        ts_us,
        year,
        month,
        device_ip,
        rotation,
    })
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month) of a timestamp in microseconds since the epoch, UTC.
pub fn year_month_of_us(ts_us: i64) -> (i32, u32) {
    let days = ts_us.div_euclid(86_400_000_000);
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_testbed_names() {
        let p = parse_capture_name("2016-06-09_13.15.43_10.10.10.123.pcap").unwrap();
        assert_eq!(p.ts_us, 1_465_478_143_000_000);
        assert_eq!((p.year, p.month), (2016, 6));
        assert_eq!(p.device_ip, Some("10.10.10.123".parse().unwrap()));
        assert_eq!(p.rotation, 0);
        let p = parse_capture_name("2025-07-01_00.00.00_fd00::12.pcapng2.gz").unwrap();
        assert_eq!(p.rotation, 2);
        assert_eq!(p.device_ip, Some("fd00::12".parse().unwrap()));
        assert_eq!(
            parse_capture_name("2025-07-01_00.00.00_x.pcap1")
                .unwrap()
                .device_ip,
            None
        );
    }

    #[test]
    fn rejects_bad_names() {
        for n in [
            "capture.pcap",
            "2016-13-09_13.15.43_10.0.0.1.pcap",
            "2016-02-30_13.15.43_10.0.0.1.pcap",
            "2016-06-09_25.15.43_10.0.0.1.pcap",
            "2016-06-09_13.15.43_10.0.0.1.txt",
            "2016-06-09_13.15.43_10.0.0.1.pcapx",
            "2016-06-09 13.15.43_10.0.0.1.pcap",
            "",
            "ééééééééééééééééééééé.pcap",
        ] {
            assert!(parse_capture_name(n).is_none(), "{n}");
        }
    }

    #[test]
    fn civil_round_trip() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2016, 6, 9),
            (2025, 12, 31),
            (1969, 12, 31),
        ] {
            let days = days_from_civil(y, m, d);
            assert_eq!(year_month_of_us(days * 86_400_000_000 + 5), (y, m));
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }
}
