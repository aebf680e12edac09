//! Capture reader: classic pcap (µs/ns, either byte order, Kuznetsov's modified format), pcapng
//! (several sections and interfaces, each with its own link type and timestamp resolution;
//! EPB, SPB and the obsolete PB), each optionally gzip-compressed. Detected by magic number.
//!
//! Files read in order stream through a bounded window (plain ones with `read`, compressed
//! ones through gzip); a capture split across workers is memory-mapped and framed in place by
//! byte range ([`WholeCapture`]). All feed the same record framer, so all behave alike: records
//! are checked against hard caps before anything is taken from them, and a corrupt or cut
//! record ends the file with an error while every packet before it has been delivered.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::Path;

use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
};
use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block};

/// Largest packet record accepted (tshark's WTAP_MAX_PACKET_SIZE_STANDARD).
pub const MAX_CAPLEN: usize = 262_144;
/// Largest pcapng block accepted (a packet plus generous options).
pub const MAX_BLOCK: usize = 4 * 1024 * 1024;
/// Largest number of pcapng interfaces kept per section.
const MAX_INTERFACES: usize = 4096;
/// Window of a streamed read (plain files are read in such pieces too, see [`open_source`]).
const STREAM_CHUNK: usize = 1 << 20;

/// One packet as the capture holds it.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Capture timestamp, microseconds since the epoch (UTC).
    pub ts_us: i64,
    /// DLT/LINKTYPE number of the interface that captured it.
    pub link_type: u32,
    /// Captured bytes (may be shorter than `orig_len` when the snap length cut it).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// Container format, as detected from the magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNs,
    PcapModified,
    PcapNg,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNs => "pcap-ns",
            Format::PcapModified => "pcap-modified",
            Format::PcapNg => "pcapng",
        }
    }
}

/// Why a file (or the rest of it) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read file: {0}")]
    Io(#[from] io::Error),
    #[error("not a pcap or pcapng capture (magic {0:02x?})")]
    NotACapture(Vec<u8>),
    #[error("corrupt capture header")]
    BadHeader,
    #[error("record at byte {offset} claims {caplen} captured bytes (limit {limit})")]
    RecordTooLarge {
        offset: u64,
        caplen: u64,
        limit: usize,
    },
    #[error("file ends inside a record at byte {offset} (truncated capture)")]
    Truncated { offset: u64 },
    #[error("corrupt record at byte {offset}: {what}")]
    Corrupt { offset: u64, what: String },
}

/// What a read produced, complete or not.
#[derive(Debug, Clone, Default)]
pub struct ReadSummary {
    pub format: Option<Format>,
    pub gzip: bool,
    /// Link type of the file header or of the first interface.
    pub link_type: Option<u32>,
    pub packets: u64,
    /// Sum of wire lengths of the packets.
    pub bytes: u64,
}

/// Byte source: bytes all in memory (a map or an owned buffer) or a stream read in windows.
enum Source {
    Whole {
        data: Whole,
        pos: usize,
    },
    Stream {
        reader: Box<dyn Read + Send>,
        buf: Vec<u8>,
        start: usize,
        end: usize,
        eof: bool,
        consumed: u64,
        /// Bytes asked of each read (at least): [`STREAM_CHUNK`], or a smaller file's size.
        chunk: usize,
    },
}

enum Whole {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Whole {
    fn bytes(&self) -> &[u8] {
        match self {
            Whole::Map(m) => m,
            Whole::Owned(v) => v,
        }
    }
}

impl Source {
    fn available(&self) -> &[u8] {
        match self {
            Source::Whole { data, pos, .. } => data.bytes().get(*pos..).unwrap_or(&[]),
            Source::Stream {
                buf, start, end, ..
            } => &buf[*start..*end],
        }
    }

    fn offset(&self) -> u64 {
        match self {
            Source::Whole { pos, .. } => *pos as u64,
            Source::Stream { consumed, .. } => *consumed,
        }
    }

    fn consume(&mut self, n: usize) {
        match self {
            Source::Whole { pos, .. } => *pos += n,
            Source::Stream {
                start, consumed, ..
            } => {
                *start += n;
                *consumed += n as u64;
            }
        }
    }

    /// Makes at least `want` bytes available if the input has them; false when it has not.
    fn refill(&mut self, want: usize) -> io::Result<bool> {
        match self {
            Source::Whole { .. } => Ok(self.available().len() >= want),
            Source::Stream {
                reader,
                buf,
                start,
                end,
                eof,
                chunk,
                ..
            } => loop {
                if *end - *start >= want {
                    return Ok(true);
                }
                if *eof {
                    return Ok(false);
                }
                if *start > 0 {
                    buf.copy_within(*start..*end, 0);
                    *end -= *start;
                    *start = 0;
                }
                let need = want.max(*chunk);
                if buf.len() < need {
                    buf.resize(need, 0);
                }
                let n = reader.read(&mut buf[*end..])?;
                if n == 0 {
                    *eof = true;
                }
                *end += n;
            },
        }
    }
}

/// Opens `path` and tells whether it is gzip-compressed (its first two bytes).
fn open_file(path: &Path) -> Result<(File, bool), ReadError> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    file.seek(io::SeekFrom::Start(0))?;
    Ok((file, got == 2 && head == [0x1f, 0x8b]))
}

/// The source of an in-order read: a capture read in windows of [`STREAM_CHUNK`] bytes (a
/// smaller file's size for a small file), through gzip when it is compressed; true when it is.
///
/// Plain captures are read with `read` into one reused window rather than mapped: the copy
/// runs at memory speed and leaves the window in the cache, where a map made the first touch
/// of every record wait on memory and every 64 KiB of the file take a page fault. Measured on
/// the synthetic set (37 files, 2.35 GB, 2 threads): 2.00 → 1.87 s median of 5, framing
/// 10.5 % → 0.8 % of the samples, peak RSS 367 → 310 MB. Splitting one capture across
/// workers needs all of it addressable at once and maps it ([`WholeCapture`]).
fn open_source(path: &Path) -> Result<(Source, bool), ReadError> {
    let (file, gzip) = open_file(path)?;
    // A small capture gets a window its size: a whole 1 MiB window per file (zeroed on
    // allocation) was most of what reading the corpus's ~100 kB captures cost.
    let chunk = match file.metadata() {
        Ok(m) if !gzip => usize::try_from(m.len())
            .unwrap_or(STREAM_CHUNK)
            .clamp(1 << 16, STREAM_CHUNK),
        _ => STREAM_CHUNK,
    };
    let reader: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 16, file),
        ))
    } else {
        Box::new(file)
    };
    Ok((
        Source::Stream {
            reader,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            consumed: 0,
            chunk,
        },
        gzip,
    ))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Interface {
    link_type: u32,
    /// Timestamp units per second.
    units: u64,
    offset_s: i64,
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Framer {
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
        link_type: u32,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// One step of the framer over the bytes available.
enum Step<'a> {
    Packet(RawPacket<'a>, usize),
    Skip(usize),
    NeedMore(usize),
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

fn ts_from_units(ts: u64, units: u64, offset_s: i64) -> i64 {
    // The common resolutions without 128-bit division (which is most of this function's cost).
    if offset_s == 0 && ts < (1 << 62) {
        match units {
            1_000_000 => return ts as i64,
            1_000_000_000 => return (ts / 1000) as i64,
            _ => {}
        }
    }
    let units = units.max(1) as i128;
    let us = (ts as i128) * 1_000_000 / units + (offset_s as i128) * 1_000_000;
    us.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

impl Framer {
    fn step<'a>(&mut self, b: &'a [u8], offset: u64) -> Result<Step<'a>, ReadError> {
        match self {
            Framer::Pcap {
                big_endian,
                nanos,
                modified,
                link_type,
            } => {
                let hdr = if *modified { 24 } else { 16 };
                let Some(caplen) = u32_at(b, 8, *big_endian) else {
                    return Ok(Step::NeedMore(hdr));
                };
                let caplen = caplen as usize;
                if caplen > MAX_CAPLEN {
                    return Err(ReadError::RecordTooLarge {
                        offset,
                        caplen: caplen as u64,
                        limit: MAX_CAPLEN,
                    });
                }
                if b.len() < hdr + caplen {
                    return Ok(Step::NeedMore(hdr + caplen));
                }
                let parsed = if *modified {
                    parse_pcap_frame_modified(b)
                } else if *big_endian {
                    parse_pcap_frame_be(b)
                } else {
                    parse_pcap_frame(b)
                };
                let (_, blk) = parsed.map_err(|e| ReadError::Corrupt {
                    offset,
                    what: format!("{e:?}"),
                })?;
                let frac = i64::from(blk.ts_usec);
                let sub_us = if *nanos { frac / 1000 } else { frac };
                let ts_us = i64::from(blk.ts_sec) * 1_000_000 + sub_us;
                let data = &blk.data[..blk.data.len().min(caplen)];
                Ok(Step::Packet(
                    RawPacket {
                        ts_us,
                        link_type: *link_type,
                        data,
                        orig_len: blk.origlen,
                    },
                    hdr + caplen,
                ))
            }
            Framer::PcapNg {
                big_endian,
                interfaces,
            } => {
                if b.len() < 12 {
                    return Ok(Step::NeedMore(12));
                }
                let block_type = u32_at(b, 0, false).unwrap_or(0);
                // A section header carries its own byte order.
                let be = if block_type == 0x0a0d_0d0a {
                    match u32_at(b, 8, false) {
                        Some(0x1a2b_3c4d) => false,
                        Some(0x4d3c_2b1a) => true,
                        _ => {
                            return Err(ReadError::Corrupt {
                                offset,
                                what: "bad section byte-order magic".into(),
                            })
                        }
                    }
                } else {
                    *big_endian
                };
                let len = u32_at(b, 4, be).unwrap_or(0) as usize;
                if len < 12 || len % 4 != 0 {
                    return Err(ReadError::Corrupt {
                        offset,
                        what: format!("block length {len}"),
                    });
                }
                if len > MAX_BLOCK {
                    return Err(ReadError::RecordTooLarge {
                        offset,
                        caplen: len as u64,
                        limit: MAX_BLOCK,
                    });
                }
                if b.len() < len {
                    return Ok(Step::NeedMore(len));
                }
                let block_bytes = &b[..len];
                let block_type = u32_at(b, 0, be).unwrap_or(0);
                if block_type == 6 {
                    if let Some(p) = enhanced_packet(interfaces, block_bytes, be) {
                        return Ok(Step::Packet(p, len));
                    }
                    // Anything unusual: pcap-parser below says what is wrong with it.
                }
                if block_type == 2 {
                    // Obsolete Packet Block: if_id u16, drops u16, ts_high, ts_low, caplen, len, data.
                    return Ok(self
                        .obsolete_packet(block_bytes, be, offset)?
                        .map_or(Step::Skip(len), |p| Step::Packet(p, len)));
                }
                let parsed = if be {
                    parse_block_be(block_bytes)
                } else {
                    parse_block_le(block_bytes)
                };
                let (_, block) = parsed.map_err(|e| ReadError::Corrupt {
                    offset,
                    what: format!("{e:?}"),
                })?;
                match block {
                    Block::SectionHeader(_) => {
                        *big_endian = be;
                        interfaces.clear();
                        Ok(Step::Skip(len))
                    }
                    Block::InterfaceDescription(idb) => {
                        if interfaces.len() >= MAX_INTERFACES {
                            return Err(ReadError::Corrupt {
                                offset,
                                what: "too many interfaces".into(),
                            });
                        }
                        interfaces.push(Interface {
                            link_type: idb.linktype.0 as u32,
                            units: idb.ts_resolution().unwrap_or(1_000_000),
                            offset_s: idb.ts_offset(),
                        });
                        Ok(Step::Skip(len))
                    }
                    Block::EnhancedPacket(epb) => {
                        let Some(ifc) = interfaces.get(epb.if_id as usize).copied() else {
                            return Err(ReadError::Corrupt {
                                offset,
                                what: format!("packet on undeclared interface {}", epb.if_id),
                            });
                        };
                        let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let data: &'a [u8] = epb.data;
                        let data = &data[..data.len().min(epb.caplen as usize)];
                        Ok(Step::Packet(
                            RawPacket {
                                ts_us: ts_from_units(ts, ifc.units, ifc.offset_s),
                                link_type: ifc.link_type,
                                data,
                                orig_len: epb.origlen,
                            },
                            len,
                        ))
                    }
                    Block::SimplePacket(spb) => {
                        let Some(ifc) = interfaces.first().copied() else {
                            return Err(ReadError::Corrupt {
                                offset,
                                what: "simple packet before any interface".into(),
                            });
                        };
                        // SPBs carry no timestamp.
                        Ok(Step::Packet(
                            RawPacket {
                                ts_us: 0,
                                link_type: ifc.link_type,
                                data: {
                                    let d: &'a [u8] = spb.data;
                                    &d[..d.len().min(spb.origlen as usize)]
                                },
                                orig_len: spb.origlen,
                            },
                            len,
                        ))
                    }
                    _ => Ok(Step::Skip(len)),
                }
            }
        }
    }

    fn obsolete_packet<'a>(
        &self,
        block: &'a [u8],
        be: bool,
        offset: u64,
    ) -> Result<Option<RawPacket<'a>>, ReadError> {
        let Framer::PcapNg { interfaces, .. } = self else {
            return Ok(None);
        };
        let corrupt = || ReadError::Corrupt {
            offset,
            what: "short packet block".into(),
        };
        let if_id = block.get(8..10).ok_or_else(corrupt)?;
        let if_id = if be {
            u16::from_be_bytes([if_id[0], if_id[1]])
        } else {
            u16::from_le_bytes([if_id[0], if_id[1]])
        };
        let ts_high = u32_at(block, 12, be).ok_or_else(corrupt)?;
        let ts_low = u32_at(block, 16, be).ok_or_else(corrupt)?;
        let caplen = u32_at(block, 20, be).ok_or_else(corrupt)? as usize;
        let orig_len = u32_at(block, 24, be).ok_or_else(corrupt)?;
        let data = block
            .get(28..28usize.saturating_add(caplen))
            .filter(|_| 28 + caplen <= block.len() - 4)
            .ok_or_else(corrupt)?;
        let Some(ifc) = interfaces.get(usize::from(if_id)).copied() else {
            return Err(ReadError::Corrupt {
                offset,
                what: format!("packet on undeclared interface {if_id}"),
            });
        };
        let ts = (u64::from(ts_high) << 32) | u64::from(ts_low);
        Ok(Some(RawPacket {
            ts_us: ts_from_units(ts, ifc.units, ifc.offset_s),
            link_type: ifc.link_type,
            data,
            orig_len,
        }))
    }
}

/// An Enhanced Packet Block read in place (the fields at their fixed offsets), for the
/// well-formed case only: declared interface, captured bytes within the block, trailing
/// length equal to the leading one. `None` sends the block to pcap-parser instead.
fn enhanced_packet<'a>(
    interfaces: &[Interface],
    block: &'a [u8],
    be: bool,
) -> Option<RawPacket<'a>> {
    let len = block.len();
    if len < 32 || u32_at(block, len - 4, be)? as usize != len {
        return None;
    }
    let ifc = interfaces.get(u32_at(block, 8, be)? as usize)?;
    let ts = (u64::from(u32_at(block, 12, be)?) << 32) | u64::from(u32_at(block, 16, be)?);
    let caplen = u32_at(block, 20, be)? as usize;
    let orig_len = u32_at(block, 24, be)?;
    if caplen > len - 32 {
        return None;
    }
    Some(RawPacket {
        ts_us: ts_from_units(ts, ifc.units, ifc.offset_s),
        link_type: ifc.link_type,
        data: &block[28..28 + caplen],
        orig_len,
    })
}

fn detect(src: &mut Source, summary: &mut ReadSummary) -> Result<Framer, ReadError> {
    src.refill(24)?;
    let b = src.available();
    let magic: Vec<u8> = b.iter().take(4).copied().collect();
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        summary.format = Some(Format::PcapNg);
        return Ok(Framer::PcapNg {
            big_endian: false,
            interfaces: Vec::new(),
        });
    }
    let (format, big_endian) = match magic.as_slice() {
        [0xd4, 0xc3, 0xb2, 0xa1] => (Format::Pcap, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (Format::Pcap, true),
        [0x4d, 0x3c, 0xb2, 0xa1] => (Format::PcapNs, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (Format::PcapNs, true),
        [0x34, 0xcd, 0xb2, 0xa1] => (Format::PcapModified, false),
        [0xa1, 0xb2, 0xcd, 0x34] => (Format::PcapModified, true),
        _ => return Err(ReadError::NotACapture(magic)),
    };
    if b.len() < 24 {
        return Err(ReadError::BadHeader);
    }
    let (_, hdr) = parse_pcap_header(b).map_err(|_| ReadError::BadHeader)?;
    let link_type = hdr.network.0 as u32;
    summary.format = Some(format);
    summary.link_type = Some(link_type);
    src.consume(24);
    Ok(Framer::Pcap {
        big_endian,
        nanos: format == Format::PcapNs,
        modified: format == Format::PcapModified,
        link_type,
    })
}

/// Asks the CPU to start loading the bytes a little ahead of the framer of a mapped capture.
/// Records sit at distances it cannot predict, and the first touch of a record otherwise waits
/// on memory (half of the framer's time on a large capture of small packets). An in-order read
/// needs none: its window was just copied, so it is in the cache.
#[inline(always)]
fn prefetch_ahead(rest: &[u8]) {
    /// About twenty small packets ahead.
    const AHEAD: usize = 2048;
    #[cfg(target_arch = "x86_64")]
    if let Some(ahead) = rest.get(AHEAD..AHEAD + 128) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of the x86_64 baseline; a prefetch only hints, and both
        // addresses are inside `rest`. Two lines: a record is often longer than one.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(ahead.as_ptr().cast());
            _mm_prefetch::<_MM_HINT_T0>(ahead.as_ptr().wrapping_add(64).cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = rest;
}

/// Reads every packet of `path`, calling `on_packet` for each in file order.
///
/// On error, returns the summary of what was delivered before it together with the error, so
/// the caller keeps the packets so far and reports the file as partial.
pub fn read_capture(
    path: &Path,
    mut on_packet: impl FnMut(&RawPacket<'_>),
) -> Result<ReadSummary, (ReadSummary, ReadError)> {
    let mut summary = ReadSummary::default();
    let (mut src, gzip) = match open_source(path) {
        Ok(s) => s,
        Err(e) => return Err((summary, e)),
    };
    summary.gzip = gzip;
    match read_from(&mut src, &mut summary, &mut on_packet) {
        Ok(()) => Ok(summary),
        Err(e) => Err((summary, e)),
    }
}

fn read_from(
    src: &mut Source,
    summary: &mut ReadSummary,
    on_packet: &mut impl FnMut(&RawPacket<'_>),
) -> Result<(), ReadError> {
    let mut framer = detect(src, summary)?;
    loop {
        let offset = src.offset();
        match framer.step(src.available(), offset)? {
            Step::Packet(p, used) => {
                summary.packets += 1;
                summary.bytes += u64::from(p.orig_len.max(p.data.len() as u32));
                if summary.link_type.is_none() {
                    summary.link_type = Some(p.link_type);
                }
                on_packet(&p);
                src.consume(used);
            }
            Step::Skip(used) => src.consume(used),
            Step::NeedMore(n) => {
                let had = src.available().len();
                if !src.refill(n)? {
                    return if had == 0 {
                        Ok(())
                    } else {
                        Err(ReadError::Truncated { offset })
                    };
                }
            }
        }
    }
}

/// Reads packets from bytes already in memory (tests and fuzzing), like [`read_capture`].
pub fn read_capture_bytes(
    bytes: &[u8],
    mut on_packet: impl FnMut(&RawPacket<'_>),
) -> Result<ReadSummary, (ReadSummary, ReadError)> {
    let mut summary = ReadSummary::default();
    let mut src = if bytes.starts_with(&[0x1f, 0x8b]) {
        summary.gzip = true;
        let reader = flate2::read::MultiGzDecoder::new(io::Cursor::new(bytes.to_vec()));
        Source::Stream {
            reader: Box::new(reader),
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            consumed: 0,
            chunk: STREAM_CHUNK,
        }
    } else {
        Source::Whole {
            data: Whole::Owned(bytes.to_vec()),
            pos: 0,
        }
    };
    read_from(&mut src, &mut summary, &mut on_packet)
        .map(|()| summary.clone())
        .map_err(|e| (summary, e))
}

/// Timestamp of the first packet, for dating files whose names do not parse.
pub fn first_packet_ts(path: &Path) -> Result<Option<i64>, ReadError> {
    let mut first = None;
    // Reading stops being useful after one packet, but the framer has no early exit; files
    // dated this way are rare, so this simply reads the file.
    match read_capture(path, |p| {
        if first.is_none() && p.ts_us != 0 {
            first = Some(p.ts_us);
        }
    }) {
        Ok(_) => Ok(first),
        Err((_, e)) if first.is_some() => {
            let _ = e;
            Ok(first)
        }
        Err((_, e)) => Err(e),
    }
}

/// Where framing starts: a byte offset of a record or block and the framer's state there
/// (byte order, pcapng interfaces). Two equal positions frame the same packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramePos {
    offset: usize,
    framer: Framer,
}

impl FramePos {
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// What framing a byte range gave (see [`WholeCapture::read_range`]).
#[derive(Debug)]
pub struct RangeRead {
    /// Where framing stopped: the first record at or after the range's end (or the file's).
    pub next: FramePos,
    pub packets: u64,
    /// Sum of wire lengths of the packets.
    pub bytes: u64,
    /// Link type of the first packet.
    pub link_type: Option<u32>,
    /// The error that ended the file inside this range.
    pub error: Option<ReadError>,
}

/// Records a guessed start must chain to (or reach the end of the file) to be taken.
const GUESS_CHAIN: usize = 8;

/// A plain (uncompressed) capture held whole, memory-mapped, so that byte ranges of it can be
/// framed independently: several threads on one capture. A range after the first starts at a
/// guessed record boundary ([`WholeCapture::guess`]); the caller checks the guess against where
/// framing the range before it stopped (`RangeRead::next`), which is exact, and frames the
/// range again from there when they differ. Packets borrow the capture's bytes.
pub struct WholeCapture {
    data: Whole,
    summary: ReadSummary,
    start: FramePos,
    /// The framer's state at the first packet (pcapng: after the section and interface
    /// blocks that precede it), which guessed positions assume.
    body: Framer,
}

impl WholeCapture {
    /// Maps a plain capture; `Ok(None)` for a compressed one, which can only be read in order.
    pub fn open(path: &Path) -> Result<Option<WholeCapture>, ReadError> {
        let (file, gzip) = open_file(path)?;
        if gzip {
            return Ok(None);
        }
        let data = if file.metadata()?.len() < 4096 {
            let mut v = Vec::new();
            (&file).read_to_end(&mut v)?;
            Whole::Owned(v)
        } else {
            // SAFETY: the map is read-only; a capture rewritten while we read it can give
            // garbage bytes, which the parsers treat like any other untrusted input.
            let map = unsafe { memmap2::Mmap::map(&file)? };
            let _ = map.advise(memmap2::Advice::Sequential);
            Whole::Map(map)
        };
        WholeCapture::new(data).map(Some)
    }

    /// A capture already in memory (tests); `Ok(None)` when it is gzip-compressed.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Option<WholeCapture>, ReadError> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            return Ok(None);
        }
        WholeCapture::new(Whole::Owned(bytes)).map(Some)
    }

    fn new(data: Whole) -> Result<WholeCapture, ReadError> {
        let mut src = Source::Whole { data, pos: 0 };
        let mut summary = ReadSummary::default();
        let framer = detect(&mut src, &mut summary)?;
        let Source::Whole { data, pos, .. } = src else {
            return Err(ReadError::BadHeader);
        };
        let start = FramePos {
            offset: pos,
            framer,
        };
        // The state at the first packet: framing up to it (header blocks only).
        let mut body = start.framer.clone();
        let mut at = pos;
        while let Ok(Step::Skip(used)) = body.step(data.bytes().get(at..).unwrap_or(&[]), at as u64)
        {
            at += used;
        }
        Ok(WholeCapture {
            data,
            summary,
            start,
            body,
        })
    }

    pub fn len(&self) -> usize {
        self.data.bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The summary of the file header alone (format, link type of a classic pcap).
    pub fn header(&self) -> &ReadSummary {
        &self.summary
    }

    /// The position of the first record.
    pub fn start(&self) -> &FramePos {
        &self.start
    }

    /// A plausible record boundary in `from..until`: a record whose fields are sane and that
    /// chains to the next ones. Only a guess: a byte pattern inside a packet can look like a
    /// record; the caller verifies it.
    pub fn guess(&self, from: usize, until: usize) -> Option<FramePos> {
        let b = self.data.bytes();
        let until = until.min(b.len());
        let found = match &self.body {
            Framer::PcapNg {
                big_endian,
                interfaces,
            } => {
                // Blocks are 32-bit aligned from the start of the file.
                let first = from.checked_add(3)? & !3;
                (first..until)
                    .step_by(4)
                    .find(|&at| pcapng_chain(b, at, *big_endian, interfaces.len()))
            }
            Framer::Pcap {
                big_endian,
                nanos,
                modified,
                ..
            } => {
                let hdr = if *modified { 24 } else { 16 };
                let frac_limit = if *nanos { 1_000_000_000 } else { 1_000_000 };
                (from.max(self.start.offset)..until)
                    .find(|&at| pcap_chain(b, at, *big_endian, hdr, frac_limit))
            }
        }?;
        Some(FramePos {
            offset: found,
            framer: self.body.clone(),
        })
    }

    /// Frames records from `from` on, calling `on_packet` for each packet, until the first
    /// record that starts at or after `until` (or the end of the file, or an error).
    pub fn read_range<'a>(
        &'a self,
        from: &FramePos,
        until: usize,
        mut on_packet: impl FnMut(&RawPacket<'a>),
    ) -> RangeRead {
        let b: &'a [u8] = self.data.bytes();
        let mut framer = from.framer.clone();
        let mut at = from.offset;
        let (mut packets, mut bytes, mut link_type, mut error) = (0, 0, None, None);
        while at < until {
            let rest = b.get(at..).unwrap_or(&[]);
            if rest.is_empty() {
                break;
            }
            prefetch_ahead(rest);
            match framer.step(rest, at as u64) {
                Ok(Step::Packet(p, used)) => {
                    packets += 1;
                    bytes += u64::from(p.orig_len.max(p.data.len() as u32));
                    link_type.get_or_insert(p.link_type);
                    on_packet(&p);
                    at += used;
                }
                Ok(Step::Skip(used)) => at += used,
                // All of the file is here: wanting more means it ends inside a record.
                Ok(Step::NeedMore(_)) => {
                    error = Some(ReadError::Truncated { offset: at as u64 });
                    break;
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        RangeRead {
            next: FramePos { offset: at, framer },
            packets,
            bytes,
            link_type,
            error,
        }
    }

    /// Hands the pages of `from..to` back to the kernel (they stay in the page cache), to keep
    /// resident memory flat on large captures. Bytes of the range read later are read again
    /// from the file: call it for ranges that are done with.
    pub fn release(&self, from: usize, to: usize) {
        if let Whole::Map(m) = &self.data {
            let from = (from + 4095) & !4095;
            let to = to.min(m.len()) & !4095;
            if to > from {
                // SAFETY: read-only file-backed map: dropped pages are read again from the
                // file if touched, so no borrowed slice changes.
                let _ = unsafe {
                    m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
                };
            }
        }
    }
}

/// Whether `at` starts an Enhanced Packet Block on a declared interface that chains through
/// [`GUESS_CHAIN`] well-formed blocks (or to the end of the file).
fn pcapng_chain(b: &[u8], at: usize, be: bool, interfaces: usize) -> bool {
    let first_ok = u32_at(b, at, be) == Some(6)
        && u32_at(b, at + 8, be).is_some_and(|i| (i as usize) < interfaces);
    if !first_ok {
        return false;
    }
    let mut q = at;
    for _ in 0..GUESS_CHAIN {
        if q == b.len() {
            return true;
        }
        let Some(len) = u32_at(b, q + 4, be).map(|l| l as usize) else {
            return false;
        };
        if len < 12 || len % 4 != 0 || len > MAX_BLOCK || q + len > b.len() {
            return false;
        }
        if u32_at(b, q + len - 4, be) != Some(len as u32) {
            return false;
        }
        q += len;
    }
    true
}

/// Whether `at` starts a classic pcap record that chains through [`GUESS_CHAIN`] sane records
/// (or to the end of the file).
fn pcap_chain(b: &[u8], at: usize, be: bool, hdr: usize, frac_limit: u32) -> bool {
    let mut q = at;
    let mut before: Option<u32> = None;
    for _ in 0..GUESS_CHAIN {
        if q == b.len() {
            return true;
        }
        let (Some(secs), Some(frac), Some(caplen), Some(orig)) = (
            u32_at(b, q, be),
            u32_at(b, q + 4, be),
            u32_at(b, q + 8, be),
            u32_at(b, q + 12, be),
        ) else {
            return false;
        };
        let caplen = caplen as usize;
        if frac >= frac_limit || caplen > MAX_CAPLEN || (orig as usize) < caplen {
            return false;
        }
        // Only a guess (the caller checks it): also turn down what records almost never are,
        // an empty record or a time more than a day from the record before. Without this, runs
        // of zero bytes inside packets (QUIC and TLS padding) chain as empty records, and a
        // chunk starting there was framed twice.
        if caplen == 0 || before.is_some_and(|t| t.abs_diff(secs) > 86_400) {
            return false;
        }
        before = Some(secs);
        if q + hdr + caplen > b.len() {
            return false;
        }
        q += hdr + caplen;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pcap_bytes(big_endian: bool, nanos: bool, packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(&w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        out.extend_from_slice(&w16(2));
        out.extend_from_slice(&w16(4));
        out.extend_from_slice(&w32(0));
        out.extend_from_slice(&w32(0));
        out.extend_from_slice(&w32(65535));
        out.extend_from_slice(&w32(1));
        for (sec, frac, data) in packets {
            out.extend_from_slice(&w32(*sec));
            out.extend_from_slice(&w32(*frac));
            out.extend_from_slice(&w32(data.len() as u32));
            out.extend_from_slice(&w32(data.len() as u32 + 10));
            out.extend_from_slice(data);
        }
        out
    }

    fn read_bytes(bytes: &[u8]) -> (Vec<(i64, Vec<u8>)>, Result<ReadSummary, String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pcap");
        std::fs::write(&path, bytes).unwrap();
        let mut got = Vec::new();
        let r = read_capture(&path, |p| got.push((p.ts_us, p.data.to_vec())));
        (got, r.map_err(|(_, e)| e.to_string()))
    }

    #[test]
    fn classic_all_variants() {
        for be in [false, true] {
            for ns in [false, true] {
                let frac = if ns { 5_000 } else { 5 };
                let bytes = pcap_bytes(be, ns, &[(100, frac, b"abc"), (101, 0, b"")]);
                let (got, r) = read_bytes(&bytes);
                let s = r.unwrap();
                assert_eq!(s.packets, 2);
                assert_eq!(s.link_type, Some(1));
                assert_eq!(got[0], (100_000_005, b"abc".to_vec()));
                assert_eq!(got[1].0, 101_000_000);
            }
        }
    }

    #[test]
    fn gzip_is_detected_by_magic() {
        let bytes = pcap_bytes(false, false, &[(1, 2, b"hello")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        let (got, r) = read_bytes(&gz.finish().unwrap());
        assert!(r.unwrap().gzip);
        assert_eq!(got, vec![(1_000_002, b"hello".to_vec())]);
    }

    #[test]
    fn truncation_sweep_keeps_prefix_and_never_panics() {
        let bytes = pcap_bytes(false, false, &[(1, 0, &[7u8; 60]), (2, 0, &[8u8; 70])]);
        for cut in 0..bytes.len() {
            let (got, r) = read_bytes(&bytes[..cut]);
            let full_records = if cut >= 24 + 16 + 60 + 16 + 70 {
                2
            } else if cut >= 24 + 16 + 60 {
                1
            } else {
                0
            };
            assert_eq!(got.len(), full_records, "cut {cut}");
            let clean_end = cut == 24 || cut == 24 + 76;
            assert_eq!(r.is_ok(), clean_end, "cut {cut}: {r:?}");
        }
    }

    #[test]
    fn oversized_caplen_is_a_clear_error_after_good_packets() {
        let mut bytes = pcap_bytes(false, false, &[(1, 0, b"good")]);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&(16u32 << 20).to_le_bytes());
        bytes.extend_from_slice(&(16u32 << 20).to_le_bytes());
        bytes.extend_from_slice(&[0u8; 64]);
        let (got, r) = read_bytes(&bytes);
        assert_eq!(got.len(), 1);
        assert!(r.unwrap_err().contains("claims 16777216"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_files_never_panic(magic in 0usize..5, body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let magics: [&[u8]; 5] = [&[0xd4, 0xc3, 0xb2, 0xa1], &[0xa1, 0xb2, 0xc3, 0xd4], &[0x4d, 0x3c, 0xb2, 0xa1], &[0x0a, 0x0d, 0x0d, 0x0a], &[]];
            let mut bytes = magics[magic].to_vec();
            bytes.extend_from_slice(&body);
            let _ = read_bytes(&bytes);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// The in-place EPB reader agrees with pcap-parser on every block it accepts.
        #[test]
        fn enhanced_packets_read_in_place_agree_with_pcap_parser(
            if_id in 0u32..3, ts in proptest::prelude::any::<u64>(), caplen in 0u32..80,
            data_len in 0usize..80, orig in proptest::prelude::any::<u32>(),
            options in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12),
            bad_trailer in proptest::prelude::any::<bool>(), be in proptest::prelude::any::<bool>(),
        ) {
            let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            let mut body = Vec::new();
            for v in [if_id, (ts >> 32) as u32, ts as u32, caplen, orig] {
                body.extend_from_slice(&w(v));
            }
            body.extend(std::iter::repeat_n(0xabu8, data_len));
            body.resize(body.len().div_ceil(4) * 4, 0);
            body.extend_from_slice(&options);
            body.resize(body.len().div_ceil(4) * 4, 0);
            let len = 12 + body.len() as u32;
            let mut block = w(6).to_vec();
            block.extend_from_slice(&w(len));
            block.extend_from_slice(&body);
            block.extend_from_slice(&w(if bad_trailer { len + 4 } else { len }));
            let interfaces = [
                Interface { link_type: 1, units: 1_000_000, offset_s: 0 },
                Interface { link_type: 101, units: 1_000_000_000, offset_s: 0 },
            ];
            if let Some(p) = enhanced_packet(&interfaces, &block, be) {
                let parsed = if be { parse_block_be(&block) } else { parse_block_le(&block) };
                let Ok((_, Block::EnhancedPacket(epb))) = parsed else {
                    panic!("pcap-parser refuses a block read in place: {parsed:?}");
                };
                proptest::prop_assert_eq!(epb.if_id, if_id);
                let units = if if_id == 0 { 1_000_000 } else { 1_000_000_000 };
                let t = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let slow = (i128::from(t) * 1_000_000 / units).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
                proptest::prop_assert_eq!(i128::from(p.ts_us), slow);
                proptest::prop_assert_eq!(p.orig_len, epb.origlen);
                let d: &[u8] = epb.data;
                proptest::prop_assert_eq!(p.data, &d[..d.len().min(epb.caplen as usize)]);
            } else {
                proptest::prop_assert!(bad_trailer || if_id > 1 || caplen as usize > block.len() - 32);
            }
        }
    }

    #[test]
    fn garbage_is_not_a_capture() {
        let (_, r) = read_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(r.unwrap_err().contains("not a pcap"));
        let (_, r) = read_bytes(b"");
        assert!(r.is_err());
    }

    fn pcapng_block(t: u32, body: &[u8]) -> Vec<u8> {
        let len = 12 + body.len().div_ceil(4) * 4;
        let mut b = Vec::new();
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(body);
        b.resize(len - 4, 0);
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b
    }

    #[test]
    fn pcapng_interfaces_resolutions_and_obsolete_blocks() {
        let mut f = Vec::new();
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        f.extend(pcapng_block(0x0a0d_0d0a, &shb));
        // Interface 0: Ethernet, µs. Interface 1: raw IP, ns (if_tsresol = 9).
        f.extend(pcapng_block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        f.extend(pcapng_block(
            1,
            &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0],
        ));
        let epb = |ifid: u32, ts: u64, data: &[u8]| {
            let mut b = Vec::new();
            b.extend_from_slice(&ifid.to_le_bytes());
            b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            b.extend_from_slice(&(ts as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(data);
            pcapng_block(6, &b)
        };
        f.extend(epb(0, 1_500_000_000_123_456, b"eth"));
        f.extend(epb(1, 1_500_000_000_123_456_789, b"raw!"));
        let mut pb = Vec::new();
        pb.extend_from_slice(&0u16.to_le_bytes());
        pb.extend_from_slice(&0u16.to_le_bytes());
        pb.extend_from_slice(&0u32.to_le_bytes());
        pb.extend_from_slice(&7u32.to_le_bytes());
        pb.extend_from_slice(&2u32.to_le_bytes());
        pb.extend_from_slice(&2u32.to_le_bytes());
        pb.extend_from_slice(b"pb");
        f.extend(pcapng_block(2, &pb));
        let mut spb = Vec::new();
        spb.extend_from_slice(&3u32.to_le_bytes());
        spb.extend_from_slice(b"spb");
        f.extend(pcapng_block(3, &spb));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, &f).unwrap();
        let mut got = Vec::new();
        let s = read_capture(&path, |p| got.push((p.ts_us, p.link_type, p.data.to_vec()))).unwrap();
        assert_eq!(s.format, Some(Format::PcapNg));
        assert_eq!(got[0], (1_500_000_000_123_456, 1, b"eth".to_vec()));
        assert_eq!(got[1], (1_500_000_000_123_456, 101, b"raw!".to_vec()));
        assert_eq!(got[2], (7, 1, b"pb".to_vec()));
        assert_eq!(got[3], (0, 1, b"spb".to_vec()));
        for cut in 0..f.len() {
            std::fs::write(&path, &f[..cut]).unwrap();
            let _ = read_capture(&path, |_| {});
        }
    }

    /// Packets padded with long runs of zero bytes (as QUIC Initials and TLS records are):
    /// from any offset, the guessed record start is the first true one at or after it, not a
    /// chain of "empty records" inside the padding.
    #[test]
    fn guesses_skip_zero_padding_inside_classic_records() {
        let mut packets = Vec::new();
        let mut bodies = Vec::new();
        for i in 0..40u32 {
            let mut body = vec![0x45, 0, 5, 0xdc, i as u8, 1, 2, 3];
            body.resize(200 + (i as usize % 7) * 150, 0);
            body.extend_from_slice(&[0xab; 9]);
            bodies.push(body);
        }
        for (i, body) in bodies.iter().enumerate() {
            packets.push((1_700_000_000 + i as u32, (i as u32) * 1000, body.as_slice()));
        }
        let bytes = pcap_bytes(false, false, &packets);
        let mut starts = Vec::new();
        let mut at = 24;
        for body in &bodies {
            starts.push(at);
            at += 16 + body.len();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("padded.pcap");
        std::fs::write(&path, &bytes).unwrap();
        let cap = WholeCapture::open(&path).unwrap().unwrap();
        for from in (24..bytes.len()).step_by(5) {
            let want = starts.iter().copied().find(|&s| s >= from);
            let got = cap.guess(from, bytes.len()).map(|p| p.offset());
            match want {
                // Within the last GUESS_CHAIN records a chain may also end at the file's end.
                Some(w) if starts.iter().filter(|&&s| s >= w).count() > GUESS_CHAIN => {
                    assert_eq!(got, Some(w), "guess from {from}")
                }
                _ => {}
            }
        }
    }
}
