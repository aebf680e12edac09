//! Capture file writers: classic pcap (µs or ns magic, optionally gzip-compressed) and pcapng.
//!
//! All formats are little-endian with LINKTYPE_ETHERNET. The writer writes to a temporary
//! path and [`PcapWriter::finish`] renames it once the final name is known (the name carries
//! the first packet's timestamp).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

const LINKTYPE_ETHERNET: u32 = 1;
const SNAPLEN: u32 = 262_144;

/// On-disk container format of one capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap, magic 0xa1b2c3d4, microsecond timestamps.
    Micro,
    /// Classic pcap, magic 0xa1b23c4d, nanosecond timestamps.
    Nano,
    /// Classic microsecond pcap inside a gzip stream (`.pcap.gz`).
    Gzip,
    /// pcapng: SHB + one IDB (default µs resolution) + EPBs.
    Ng,
}

impl Format {
    /// File-name extension (without the leading dot).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Micro | Format::Nano => "pcap",
            Format::Gzip => "pcap.gz",
            Format::Ng => "pcapng",
        }
    }
}

enum Sink {
    Plain(BufWriter<File>),
    Gz(GzEncoder<BufWriter<File>>),
}

impl Sink {
    fn out(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(w) => w,
            Sink::Gz(w) => w,
        }
    }
}

/// Streaming writer of one capture file.
pub struct PcapWriter {
    sink: Sink,
    format: Format,
    tmp: PathBuf,
    /// Timestamp (µs since the epoch) of the first packet written.
    pub first_ts: Option<u64>,
    pub packets: u64,
}

impl PcapWriter {
    /// Creates `tmp` and writes the file header.
    pub fn create(tmp: &Path, format: Format) -> Result<Self> {
        let file = File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let buf = BufWriter::with_capacity(1 << 16, file);
        let sink = match format {
            // Fixed header fields (mtime 0, OS 3 = Unix) keep the output byte-identical.
            Format::Gzip => Sink::Gz(
                GzBuilder::new()
                    .mtime(0)
                    .operating_system(3)
                    .write(buf, Compression::default()),
            ),
            _ => Sink::Plain(buf),
        };
        let mut w = PcapWriter {
            sink,
            format,
            tmp: tmp.to_path_buf(),
            first_ts: None,
            packets: 0,
        };
        let header = w.file_header();
        w.sink
            .out()
            .write_all(&header)
            .with_context(|| format!("writing {}", tmp.display()))?;
        Ok(w)
    }

    fn file_header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(64);
        match self.format {
            Format::Micro | Format::Gzip | Format::Nano => {
                let magic: u32 = if self.format == Format::Nano {
                    0xa1b2_3c4d
                } else {
                    0xa1b2_c3d4
                };
                h.extend_from_slice(&magic.to_le_bytes());
                h.extend_from_slice(&2u16.to_le_bytes());
                h.extend_from_slice(&4u16.to_le_bytes());
                h.extend_from_slice(&0i32.to_le_bytes()); // thiszone
                h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
                h.extend_from_slice(&SNAPLEN.to_le_bytes());
                h.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
            }
            Format::Ng => {
                // Section Header Block, no options, unknown section length.
                h.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
                h.extend_from_slice(&28u32.to_le_bytes());
                h.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
                h.extend_from_slice(&1u16.to_le_bytes());
                h.extend_from_slice(&0u16.to_le_bytes());
                h.extend_from_slice(&u64::MAX.to_le_bytes());
                h.extend_from_slice(&28u32.to_le_bytes());
                // Interface Description Block, no options (so if_tsresol is the default, µs).
                h.extend_from_slice(&1u32.to_le_bytes());
                h.extend_from_slice(&20u32.to_le_bytes());
                h.extend_from_slice(&(LINKTYPE_ETHERNET as u16).to_le_bytes());
                h.extend_from_slice(&0u16.to_le_bytes());
                h.extend_from_slice(&SNAPLEN.to_le_bytes());
                h.extend_from_slice(&20u32.to_le_bytes());
            }
        }
        h
    }

    /// Appends one frame captured at `ts_us` (microseconds since the Unix epoch).
    pub fn write_packet(&mut self, ts_us: u64, frame: &[u8]) -> Result<()> {
        self.first_ts.get_or_insert(ts_us);
        self.packets += 1;
        let len = u32::try_from(frame.len()).expect("frames are at most a few KiB");
        let secs = (ts_us / 1_000_000) as u32;
        let micros = (ts_us % 1_000_000) as u32;
        let mut rec = Vec::with_capacity(frame.len() + 32);
        match self.format {
            Format::Micro | Format::Gzip | Format::Nano => {
                let frac = if self.format == Format::Nano {
                    // Sub-microsecond digits derived from the timestamp: deterministic, and a
                    // reader truncating to µs gets back exactly `ts_us`.
                    micros * 1000 + (ts_us.wrapping_mul(2_654_435_761) % 1000) as u32
                } else {
                    micros
                };
                rec.extend_from_slice(&secs.to_le_bytes());
                rec.extend_from_slice(&frac.to_le_bytes());
                rec.extend_from_slice(&len.to_le_bytes());
                rec.extend_from_slice(&len.to_le_bytes());
                rec.extend_from_slice(frame);
            }
            Format::Ng => {
                let padded = (frame.len() + 3) & !3;
                let total = 32 + padded as u32;
                rec.extend_from_slice(&6u32.to_le_bytes());
                rec.extend_from_slice(&total.to_le_bytes());
                rec.extend_from_slice(&0u32.to_le_bytes()); // interface id
                rec.extend_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
                rec.extend_from_slice(&(ts_us as u32).to_le_bytes());
                rec.extend_from_slice(&len.to_le_bytes());
                rec.extend_from_slice(&len.to_le_bytes());
                rec.extend_from_slice(frame);
                rec.resize(28 + padded, 0);
                rec.extend_from_slice(&total.to_le_bytes());
            }
        }
        self.sink
            .out()
            .write_all(&rec)
            .with_context(|| format!("writing {}", self.tmp.display()))
    }

    /// Flushes, closes and renames the file to `dest`; returns its size in bytes.
    pub fn finish(self, dest: &Path) -> Result<u64> {
        let ctx = || format!("finishing {}", self.tmp.display());
        let buf = match self.sink {
            Sink::Plain(w) => w,
            Sink::Gz(gz) => gz.finish().with_context(ctx)?,
        };
        let file = buf
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(ctx)?;
        drop(file);
        std::fs::rename(&self.tmp, dest)
            .with_context(|| format!("renaming {} to {}", self.tmp.display(), dest.display()))?;
        let size = std::fs::metadata(dest)
            .with_context(|| format!("stat {}", dest.display()))?
            .len();
        Ok(size)
    }
}
