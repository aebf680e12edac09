//! The HTML report in a real browser: `iotdest run` on `data-samples/` writes the report, and
//! headless Chromium renders it. The screenshot must not be blank and must show the four party
//! colors; the console must stay silent (the page has no scripts and a Content-Security-Policy
//! that forbids every fetch, so any message means a broken page or a fetch attempt).
//! Skipped, with a notice, where Chromium is not installed (`.ci/run` installs it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::{bin, root};

fn chromium() -> Option<PathBuf> {
    let mut names = vec![];
    if let Some(p) = std::env::var_os("IOTDEST_CHROMIUM") {
        names.push(PathBuf::from(p));
    }
    names.extend(
        [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ]
        .iter()
        .map(PathBuf::from),
    );
    names.into_iter().find(|n| {
        Command::new(n)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Renders `page` headless; returns the console lines Chromium logged.
fn render(chrome: &Path, page: &Path, png: &Path, profile: &Path) -> Vec<String> {
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        png.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect()
}

/// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) to RGB pixels.
fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<[u8; 3]>) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (mut at, mut idat) = (8, Vec::new());
    let (mut w, mut h, mut channels) = (0usize, 0usize, 0usize);
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let body = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
                assert_eq!(body[8], 8, "bit depth");
                channels = match body[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("color type {t}"),
                };
                assert_eq!(body[12], 0, "interlaced");
            }
            b"IDAT" => idat.extend_from_slice(body),
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = w * channels;
    let mut prev = vec![0u8; stride];
    let mut pixels = Vec::with_capacity(w * h);
    for y in 0..h {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let (filter, data) = (line[0], &line[1..]);
        let mut cur = vec![0u8; stride];
        for i in 0..stride {
            let a = if i >= channels {
                cur[i - channels] as i16
            } else {
                0
            };
            let b = prev[i] as i16;
            let c = if i >= channels {
                prev[i - channels] as i16
            } else {
                0
            };
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            };
            cur[i] = data[i].wrapping_add(pred as u8);
        }
        pixels.extend(cur.chunks(channels).map(|p| [p[0], p[1], p[2]]));
        prev = cur;
    }
    (w, h, pixels)
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

#[test]
fn report_of_data_samples_renders_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let run = Command::new(bin())
        .current_dir(root())
        .args(["run", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = out.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    // Self-contained: no scripts, no external resources (the SVG namespace is not a fetch).
    assert!(!html.contains("<script"));
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for bad in ["http://", "https://", " src=", "url(", "@import"] {
        assert!(!without_ns.contains(bad), "report references {bad}");
    }
    for section in [
        "All devices",
        "echo_dot",
        "ring_doorbell",
        "sonos_speaker",
        "tplink_plug",
        "tuya_bulb",
    ] {
        assert!(
            html.contains(&format!("{section}</h2>")),
            "section {section}"
        );
    }
    for part in [
        "Destinations by party",
        "Bytes by party",
        "Top organizations (bytes)",
        "Countries (bytes)",
        "Domains that appeared and disappeared",
        "IoT platforms detected",
        "Data quality",
    ] {
        assert!(html.contains(part), "{part}");
    }

    let Some(chrome) = chromium() else {
        eprintln!(
            "NOTICE: Chromium not found (chromium, chromium-browser, google-chrome or \
             IOTDEST_CHROMIUM): the browser rendering check of the report was skipped"
        );
        return;
    };
    // The console channel works: a probe page that logs an error is caught.
    let probe = tmp.path().join("probe.html");
    std::fs::write(
        &probe,
        "<!DOCTYPE html><p>probe</p><script>console.error('probe-error')</script>",
    )
    .unwrap();
    let seen = render(
        &chrome,
        &probe,
        &tmp.path().join("probe.png"),
        &tmp.path().join("profile-probe"),
    );
    assert!(
        seen.iter().any(|l| l.contains("probe-error")),
        "console not captured: {seen:?}"
    );

    let shot_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&shot_dir).unwrap();
    let png = shot_dir.join("report-data-samples.png");
    let _ = std::fs::remove_file(&png);
    let console = render(&chrome, &report, &png, &tmp.path().join("profile"));
    assert!(console.is_empty(), "console messages: {console:#?}");

    let (w, h, pixels) = decode_png(&std::fs::read(&png).unwrap());
    assert_eq!((w, h), (1280, 2400));
    let non_white = pixels.iter().filter(|p| p.iter().any(|&c| c < 245)).count();
    assert!(
        non_white * 20 > pixels.len(),
        "page looks blank: {non_white} of {} pixels not white",
        pixels.len()
    );
    for (party, hex) in iotdest::output::report::svg::PARTY_COLORS {
        let want = rgb(hex);
        let n = pixels
            .iter()
            .filter(|p| p.iter().zip(want).all(|(&a, b)| a.abs_diff(b) <= 8))
            .count();
        assert!(n >= 100, "{party} ({hex}) shows on only {n} pixels");
    }
    eprintln!("report screenshot: {}", png.display());
}
