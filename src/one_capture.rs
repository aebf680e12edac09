//! One capture on several threads: the threads that run [`crate::extract::split`]'s pieces.
//!
//! - **A plain capture** is memory-mapped and cut into byte ranges ("chunks"). Every thread
//!   both frames chunks (any chunk, in any order, at most [`AHEAD`] per thread ahead of the
//!   slowest) and runs its share of the flows over every chunk in capture order. A chunk after
//!   the first starts at a guessed record boundary; before any thread runs it, the guess is
//!   checked against where framing the chunk before it stopped (exact: the same byte and the
//!   same framer state), and the chunk is framed again from there when they differ. Reading,
//!   decoding and the flows all spread over the threads.
//! - **A compressed capture** can only be read in order: this thread reads, decodes and
//!   dispatches packets in batches to worker threads over bounded channels.
//!
//! Both give the rows of a serial run (see [`crate::extract::split`]).

use std::sync::{mpsc, Condvar, Mutex, MutexGuard};

use crate::extract::split::{
    finish, Batch, Chunk, Closed, Completed, Dispatcher, Reassembly, Sorted, Tally, Worker,
};
use crate::extract::{extract_capture, CaptureOutput, ExtractLimits};
use crate::ingest::discover::CaptureFile;
use crate::ingest::reader::{read_capture, FramePos, ReadError, ReadSummary, WholeCapture};

/// Chunk sizes: a 16th of a capture per thread, within these bounds (small enough that a
/// chunk's decoded packets stay in a core's cache, large enough that handing them over is
/// rare).
const MIN_CHUNK: usize = 64 << 10;
const MAX_CHUNK: usize = 1 << 20;
/// Chunks framed per thread ahead of the slowest thread's flows (bounds memory).
pub const AHEAD: usize = 4;
/// Bytes of the map handed back to the kernel at once, once every worker has run them (the
/// map's resident pages stay below this plus the chunks in flight).
const RELEASE_STEP: usize = 16 << 20;

/// Extracts one capture on `workers` threads (this one and `workers - 1` more).
pub fn extract_threaded(
    file: &CaptureFile,
    limits: ExtractLimits,
    workers: usize,
) -> CaptureOutput {
    match WholeCapture::open(&file.path) {
        Ok(Some(cap)) => {
            let size = (cap.len() / (workers.max(1) * 16)).clamp(MIN_CHUNK, MAX_CHUNK);
            extract_chunked(file, limits, workers, &cap, size)
        }
        // Compressed, or not readable: the in-order path (which reports why).
        _ => extract_dispatched(file, limits, workers),
    }
}

/// A chunk's place in the plan.
enum Slot<'m> {
    /// Not framed yet, and nobody framing it.
    Todo,
    /// A thread is framing it.
    Busy,
    Framed {
        chunk: Box<Chunk<'m>>,
        verified: bool,
        /// Datagrams its fragments complete, per worker (once reassembled).
        datagrams: Vec<Vec<Completed>>,
        /// Workers that have still to run it.
        left: usize,
    },
    /// Run by every worker and dropped.
    Done,
}

/// What the threads share.
struct Plan<'m> {
    slots: Vec<Slot<'m>>,
    workers: usize,
    /// The capture's length in bytes.
    len: usize,
    /// Chunks checked so far (all before this one), and where the last of them stopped
    /// framing: the true start of the next.
    verified: usize,
    next: FramePos,
    /// Chunks reassembled so far.
    reassembled: usize,
    reassembly: Reassembly,
    /// The next chunk nobody has claimed to frame.
    to_frame: usize,
    /// Each worker's next chunk to run.
    at: Vec<usize>,
    /// Chunks to run: all, or up to the one where the file ends or breaks.
    stop: usize,
    summary: ReadSummary,
    error: Option<ReadError>,
    tally: Tally,
    /// Bytes before this were handed back to the kernel.
    released: usize,
    /// A thread panicked or could not start: everyone stops.
    failed: bool,
    /// Threads waiting on the condition variable (nobody to wake: no system call).
    waiting: usize,
    /// Packet lists already run, kept for the chunks framed next.
    spare: Vec<Vec<Sorted<'m>>>,
}

/// What a worker does next.
enum Next<'m> {
    Run(usize, Vec<Sorted<'m>>, Vec<Completed>),
    Frame(usize, Vec<Vec<Sorted<'m>>>),
    Reframe(usize, FramePos, Vec<Vec<Sorted<'m>>>),
    Wait,
    Exit,
}

impl<'m> Plan<'m> {
    fn next(&mut self, w: usize) -> Next<'m> {
        let c = self.at[w];
        if self.failed || c >= self.stop {
            return Next::Exit;
        }
        if let Slot::Framed { .. } = self.slots[c] {
            if self.verified == c {
                if let Err(start) = self.verify(c) {
                    self.slots[c] = Slot::Busy;
                    return Next::Reframe(c, start, self.lists());
                }
            }
            let workers = self.workers;
            let Slot::Framed {
                chunk, datagrams, ..
            } = &mut self.slots[c]
            else {
                return Next::Wait;
            };
            if self.reassembled == c {
                *datagrams = self.reassembly.chunk(chunk, workers);
                self.reassembled += 1;
            }
            let packets = chunk.take_packets(w);
            let mine = datagrams.get_mut(w).map(std::mem::take).unwrap_or_default();
            return Next::Run(c, packets, mine);
        }
        let slowest = self.at.iter().copied().min().unwrap_or(0);
        let window = slowest + AHEAD * self.workers;
        if self.to_frame < self.stop.min(window) {
            let k = self.to_frame;
            self.to_frame += 1;
            self.slots[k] = Slot::Busy;
            return Next::Frame(k, self.lists());
        }
        Next::Wait
    }

    /// Spare packet lists for one chunk (as many as there are, up to one per worker).
    fn lists(&mut self) -> Vec<Vec<Sorted<'m>>> {
        let keep = self.spare.len().saturating_sub(self.workers);
        self.spare.split_off(keep)
    }

    /// Checks chunk `c` (framed; every chunk before it checked) against where the one before
    /// it stopped; counts it when right, else gives the start to frame it from again.
    fn verify(&mut self, c: usize) -> Result<(), FramePos> {
        let Slot::Framed {
            chunk, verified, ..
        } = &mut self.slots[c]
        else {
            return Ok(());
        };
        if chunk.start.as_ref() != Some(&self.next) {
            return Err(self.next.clone());
        }
        *verified = true;
        self.verified = c + 1;
        self.tally.merge(&chunk.tally);
        if let Some(read) = chunk.read.as_mut() {
            self.summary.packets += read.packets;
            self.summary.bytes += read.bytes;
            if self.summary.link_type.is_none() {
                self.summary.link_type = read.link_type;
            }
            self.next = read.next.clone();
            if let Some(e) = read.error.take() {
                self.error = Some(e);
                self.stop = c + 1;
            }
            if self.next.offset() >= self.len {
                self.stop = self.stop.min(c + 1);
            }
        }
        Ok(())
    }

    /// Worker `w` ran chunk `c`; the last to run it drops it. Returns a byte range of the map
    /// that every worker is done with, for the caller to hand back to the kernel once it has
    /// let go of the plan (the kernel unmaps it and interrupts the other cores to flush their
    /// page tables: ~0.5 ms for [`RELEASE_STEP`] bytes, which the other threads should not
    /// wait out for the lock).
    fn ran(&mut self, w: usize, c: usize) -> Option<(usize, usize)> {
        self.at[w] = c + 1;
        let Slot::Framed { left, chunk, .. } = &mut self.slots[c] else {
            return None;
        };
        *left = left.saturating_sub(1);
        if *left > 0 {
            return None;
        }
        let end = chunk
            .read
            .as_ref()
            .map_or(self.released, |r| r.next.offset());
        self.slots[c] = Slot::Done;
        // Chunks are finished in order (every worker runs them in order). Pages go back
        // [`RELEASE_STEP`] bytes at a time: each release interrupts every core that ran the
        // map to flush its page tables (in a VM, an exit each).
        if end < self.released + RELEASE_STEP {
            return None;
        }
        let from = self.released;
        // The page holding `end` also holds the next chunk's start: it goes with it.
        self.released = self.released.max(end & !4095);
        Some((from, end))
    }
}

/// Wakes the threads waiting for the plan, if any (a system call each time otherwise, twice
/// per chunk and thread).
fn wake(plan: &Plan<'_>, cv: &Condvar) {
    if plan.waiting > 0 {
        cv.notify_all();
    }
}

fn lock<'a, T>(m: &'a Mutex<T>) -> MutexGuard<'a, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Stops the other threads when this one panics.
struct Alarm<'a, 'm> {
    plan: &'a Mutex<Plan<'m>>,
    cv: &'a Condvar,
}

impl Drop for Alarm<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(self.plan).failed = true;
            self.cv.notify_all();
        }
    }
}

/// One thread's work: framing chunks and running worker `w`'s flows over all of them.
fn lane<'m>(
    w: usize,
    mut worker: Worker,
    cap: &'m WholeCapture,
    size: usize,
    plan: &Mutex<Plan<'m>>,
    cv: &Condvar,
) -> Closed {
    let _alarm = Alarm { plan, cv };
    let workers = lock(plan).workers;
    let mut g = lock(plan);
    loop {
        match g.next(w) {
            Next::Exit => break,
            Next::Wait => {
                g.waiting += 1;
                g = cv.wait(g).unwrap_or_else(|e| e.into_inner());
                g.waiting -= 1;
            }
            Next::Run(c, mut packets, datagrams) => {
                drop(g);
                worker.run_chunk(&packets, &datagrams);
                packets.clear();
                g = lock(plan);
                g.spare.push(packets);
                let done = g.ran(w, c);
                wake(&g, cv);
                if let Some((from, to)) = done {
                    drop(g);
                    cap.release(from, to);
                    g = lock(plan);
                }
            }
            Next::Frame(k, mut lists) => {
                drop(g);
                let (from, until) = (k * size, (k + 1).saturating_mul(size));
                let start = if k == 0 {
                    Some(cap.start().clone())
                } else {
                    cap.guess(from, until)
                };
                let chunk = Chunk::read(cap, k, start, until, workers, &mut lists);
                g = lock(plan);
                g.spare.append(&mut lists);
                g.slots[k] = framed(chunk, workers);
                wake(&g, cv);
            }
            Next::Reframe(k, start, mut lists) => {
                drop(g);
                let until = (k + 1).saturating_mul(size);
                let chunk = Chunk::read(cap, k, Some(start), until, workers, &mut lists);
                g = lock(plan);
                g.spare.append(&mut lists);
                g.slots[k] = framed(chunk, workers);
                wake(&g, cv);
            }
        }
    }
    drop(g);
    cv.notify_all();
    worker.close()
}

fn framed(chunk: Chunk<'_>, workers: usize) -> Slot<'_> {
    Slot::Framed {
        chunk: Box::new(chunk),
        verified: false,
        datagrams: Vec::new(),
        left: workers,
    }
}

/// One plain capture on `workers` threads, cut into chunks of `size` bytes (see the module
/// documentation).
pub fn extract_chunked(
    file: &CaptureFile,
    limits: ExtractLimits,
    workers: usize,
    cap: &WholeCapture,
    size: usize,
) -> CaptureOutput {
    let workers = workers.max(1);
    let size = size.max(1);
    let meta = std::fs::metadata(&file.path).ok();
    let n = cap.len().div_ceil(size).max(1);
    let plan = Mutex::new(Plan {
        slots: (0..n).map(|_| Slot::Todo).collect(),
        workers,
        len: cap.len(),
        verified: 0,
        next: cap.start().clone(),
        reassembled: 0,
        reassembly: Reassembly::default(),
        to_frame: 0,
        at: vec![0; workers],
        stop: n,
        summary: cap.header().clone(),
        error: None,
        tally: Tally::default(),
        released: 0,
        failed: false,
        waiting: 0,
        spare: Vec::new(),
    });
    let cv = Condvar::new();
    let device_ip = file.device_ip;
    let team = std::thread::scope(|s| {
        let (plan, cv) = (&plan, &cv);
        let mut handles = Vec::with_capacity(workers - 1);
        for w in 1..workers {
            let spawned = std::thread::Builder::new()
                .name(format!("iotdest-flows-{w}"))
                .spawn_scoped(s, move || {
                    lane(
                        w,
                        Worker::new(workers, device_ip, limits),
                        cap,
                        size,
                        plan,
                        cv,
                    )
                });
            match spawned {
                Ok(h) => handles.push(h),
                Err(_) => {
                    // No thread to be had: stop those started; the capture runs whole below.
                    lock(plan).failed = true;
                    cv.notify_all();
                    break;
                }
            }
        }
        let first = lane(
            0,
            Worker::new(workers, device_ip, limits),
            cap,
            size,
            plan,
            cv,
        );
        let mut team = vec![first];
        for h in handles {
            match h.join() {
                Ok(w) => team.push(w),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        team
    });
    let plan = plan.into_inner().unwrap_or_else(|e| e.into_inner());
    if plan.failed || team.len() != workers {
        return extract_capture(file, limits);
    }
    let mut tally = plan.tally;
    tally.merge(&plan.reassembly.into_tally());
    let read = match plan.error {
        None => Ok(plan.summary),
        Some(e) => Err((plan.summary, e)),
    };
    finish(file, meta, read, tally, team)
}

/// One compressed capture on `workers` flow-sharded worker threads: this thread reads,
/// decodes and dispatches the packets in order; each worker runs the batches of its flows.
/// Each worker has `BATCHES` batches, allocated once and passed back and forth: filled here,
/// queued, run there, returned.
pub fn extract_dispatched(
    file: &CaptureFile,
    limits: ExtractLimits,
    workers: usize,
) -> CaptureOutput {
    const BATCHES: usize = 4;
    let meta = std::fs::metadata(&file.path).ok();
    std::thread::scope(|s| {
        let mut lanes = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(BATCHES);
            let (free_tx, free_rx) = mpsc::channel::<Batch>();
            for _ in 1..BATCHES {
                let _ = free_tx.send(Batch::default());
            }
            let device_ip = file.device_ip;
            let spawned = std::thread::Builder::new()
                .name(format!("iotdest-flows-{i}"))
                .spawn_scoped(s, move || {
                    let mut w = Worker::new(workers, device_ip, limits);
                    for mut b in full_rx {
                        w.run(&b);
                        b.clear();
                        let _ = free_tx.send(b);
                    }
                    w.close()
                });
            match spawned {
                Ok(h) => handles.push(h),
                // No thread to be had: this capture runs whole on this one.
                Err(_) => return extract_capture(file, limits),
            }
            lanes.push((full_tx, free_rx));
        }
        let mut dispatcher = Dispatcher::new(workers);
        let mut batches: Vec<Batch> = (0..workers).map(|_| Batch::default()).collect();
        let read = read_capture(&file.path, |p| {
            if let Some(w) = dispatcher.packet(p, &mut batches) {
                let (full_tx, free_rx) = &lanes[w];
                // (A worker that stopped returns none; then its sends fail and the join
                // below reports why.)
                let fresh = free_rx.recv().unwrap_or_default();
                let _ = full_tx.send(std::mem::replace(&mut batches[w], fresh));
            }
        });
        for ((full_tx, _), b) in lanes.iter().zip(batches) {
            if !b.is_empty() {
                let _ = full_tx.send(b);
            }
        }
        drop(lanes);
        let team: Vec<Closed> = handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(w) => w,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect();
        finish(file, meta, read, dispatcher.into_tally(), team)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::split::tests::{same, synth_captures, tricky_capture};
    use std::path::{Path, PathBuf};

    fn plain_file(path: PathBuf) -> CaptureFile {
        CaptureFile {
            path,
            device: "d".into(),
            name_ts: None,
            device_ip: None,
            year: 2024,
            month: 1,
            rotation: 0,
            capture: "c".into(),
            undated: None,
        }
    }

    /// Chunked rows equal serial rows for 1–3 workers and each chunk size; how many chunks the
    /// smallest size made (0 for a compressed capture, which is not chunked).
    fn check(file: &CaptureFile, sizes: &[usize]) -> usize {
        let serial = extract_capture(file, ExtractLimits::default());
        let Ok(Some(cap)) = WholeCapture::open(&file.path) else {
            return 0;
        };
        for workers in 1..=3 {
            for &size in sizes {
                let what = format!("{} workers {workers} chunk {size}", file.path.display());
                let chunked = extract_chunked(file, ExtractLimits::default(), workers, &cap, size);
                same(&chunked, &serial, &what);
            }
        }
        cap.len().div_ceil(sizes.iter().copied().min().unwrap_or(1))
    }

    #[test]
    fn chunked_rows_equal_serial_rows_on_synthetic_captures() {
        let (_dir, captures) = synth_captures(3, 0.3);
        assert!(captures.len() > 5);
        let chunks: usize = captures
            .iter()
            .map(|f| check(f, &[97, 1000, 4096, 1 << 16]))
            .sum();
        assert!(chunks > 1000, "{chunks} chunks");
    }

    #[test]
    fn chunked_fragments_segments_and_odd_packets_at_every_cut() {
        let dir = tempfile::tempdir().unwrap();
        let file = tricky_capture(dir.path());
        let len = std::fs::metadata(&file.path).unwrap().len() as usize;
        let sizes: Vec<usize> = (1..40).chain((40..len + 8).step_by(53)).collect();
        assert!(check(&file, &sizes) >= len);
    }

    /// Cut and corrupted files end where a serial read ends them, with the same error and the
    /// same rows before it.
    #[test]
    fn chunked_cut_and_corrupt_captures() {
        let (_dir, captures) = synth_captures(5, 0.1);
        let mut sources: Vec<PathBuf> = Vec::new();
        for ext in ["pcapng", "pcap"] {
            let mut found: Vec<PathBuf> = captures
                .iter()
                .map(|c| c.path.clone())
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect();
            found.sort();
            sources.extend(found.into_iter().take(2));
        }
        assert!(sources.len() >= 3, "{sources:?}");
        let work = tempfile::tempdir().unwrap();
        for (i, src) in sources.iter().enumerate() {
            let bytes = std::fs::read(src).unwrap();
            let len = bytes.len();
            for k in 1..6 {
                let at = len * k / 6;
                let cut = work.path().join(format!("cut-{i}-{k}.pcap"));
                std::fs::write(&cut, &bytes[..at + k]).unwrap();
                check(&plain_file(cut), &[211, 2048]);
                let mut bad = bytes.clone();
                bad[at..at + 8].copy_from_slice(&[0xff; 8]);
                let broken = work.path().join(format!("bad-{i}-{k}.pcap"));
                std::fs::write(&broken, &bad).unwrap();
                check(&plain_file(broken), &[211, 2048]);
            }
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    /// A pcapng section in the given byte order: one Ethernet interface with nanosecond
    /// timestamps, the packets of a classic little-endian µs pcap.
    fn section(pcap: &[u8], big_endian: bool) -> Vec<u8> {
        let w = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let mut out = Vec::new();
        // SHB: type, length, byte-order magic, version 1.0, section length -1.
        w(&mut out, 0x0a0d_0d0a);
        w(&mut out, 28);
        w(&mut out, 0x1a2b_3c4d);
        out.extend_from_slice(&if big_endian {
            [0, 1, 0, 0]
        } else {
            [1, 0, 0, 0]
        });
        out.extend_from_slice(&[0xff; 8]);
        w(&mut out, 28);
        // IDB with if_tsresol = 9 (ns): type, length, link type 1 + reserved, snaplen, option
        // (code 9, length 1, value, padding), end of options, length.
        w(&mut out, 1);
        w(&mut out, 32);
        out.extend_from_slice(&if big_endian {
            [0, 1, 0, 0]
        } else {
            [1, 0, 0, 0]
        });
        w(&mut out, 65535);
        out.extend_from_slice(&if big_endian {
            [0, 9, 0, 1]
        } else {
            [9, 0, 1, 0]
        });
        out.extend_from_slice(&[9, 0, 0, 0]);
        w(&mut out, 0);
        w(&mut out, 32);
        let mut at = 24;
        while at + 16 <= pcap.len() {
            let r = |o: usize| u32::from_le_bytes(pcap[at + o..at + o + 4].try_into().unwrap());
            let (sec, usec, caplen, orig) = (r(0), r(4), r(8) as usize, r(12));
            let data = &pcap[at + 16..at + 16 + caplen];
            let ts = (u64::from(sec) * 1_000_000 + u64::from(usec)) * 1000;
            let padded = caplen.div_ceil(4) * 4;
            let len = 32 + padded as u32;
            w(&mut out, 6);
            w(&mut out, len);
            w(&mut out, 0);
            w(&mut out, (ts >> 32) as u32);
            w(&mut out, ts as u32);
            w(&mut out, caplen as u32);
            w(&mut out, orig);
            out.extend_from_slice(data);
            out.resize(out.len() + padded - caplen, 0);
            w(&mut out, len);
            at += 16 + caplen;
        }
        out
    }

    /// Sections change byte order and interfaces mid-file: guesses made with the first
    /// section's state are caught and the chunks framed again.
    #[test]
    fn chunked_pcapng_sections_of_both_byte_orders() {
        let dir = tempfile::tempdir().unwrap();
        let tricky = std::fs::read(tricky_capture(dir.path()).path).unwrap();
        let mut bytes = section(&tricky, false);
        bytes.extend(section(&tricky, true));
        bytes.extend(section(&tricky, false));
        let path = dir.path().join("sections.pcapng");
        std::fs::write(&path, &bytes).unwrap();
        let file = plain_file(path);
        let serial = extract_capture(&file, ExtractLimits::default());
        assert!(serial.capture.error.is_none(), "{:?}", serial.capture.error);
        let one = read_capture(
            &dir.path().join("2023-11-14_22.13.20_192.168.1.5.pcap"),
            |_| {},
        );
        assert_eq!(serial.capture.packets, 3 * one.unwrap().packets);
        assert_eq!(serial.names.len(), 1);
        check(&file, &[1, 64, 200, 1000, 4000]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Damaged captures of both formats (bytes changed, the end cut off), any chunk size,
        /// 1–3 workers: the rows of a serial read, the same error.
        #[test]
        fn chunked_equals_serial_on_damaged_captures(
            ng in proptest::prelude::any::<bool>(),
            flips in proptest::collection::vec((0usize..1 << 20, 1u8..=255), 0..6),
            cut in 0usize..1 << 20,
            size in 1usize..3000,
            workers in 1usize..=3,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let tricky = std::fs::read(tricky_capture(dir.path()).path).unwrap();
            let mut bytes = if ng { section(&tricky, false) } else { tricky };
            let len = bytes.len();
            for (at, bits) in flips {
                bytes[at % len] ^= bits;
            }
            // Keep the whole file one time in four; else cut it anywhere.
            if cut % 4 != 0 {
                bytes.truncate(cut % len);
            }
            let path = dir.path().join("damaged.pcap");
            std::fs::write(&path, &bytes).unwrap();
            let file = plain_file(path);
            let serial = extract_capture(&file, ExtractLimits::default());
            if let Ok(Some(cap)) = WholeCapture::open(&file.path) {
                let chunked = extract_chunked(&file, ExtractLimits::default(), workers, &cap, size);
                proptest::prop_assert_eq!(&chunked.capture, &serial.capture);
                proptest::prop_assert_eq!(&chunked.dns, &serial.dns);
                proptest::prop_assert_eq!(&chunked.names, &serial.names);
                proptest::prop_assert_eq!(&chunked.flows, &serial.flows);
            }
        }
    }

    /// Real captures of the shared corpus (a sample of the testbed's, and every pcapng).
    #[test]
    fn chunked_rows_equal_serial_rows_on_the_corpus() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        if !corpus.is_dir() {
            eprintln!("no corpus at {}: skipped", corpus.display());
            return;
        }
        let mut files: Vec<PathBuf> = walk(&corpus)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(".pcap"))
            .collect();
        files.sort();
        let sample: Vec<&PathBuf> = files
            .iter()
            .enumerate()
            .filter(|(i, p)| i % 25 == 0 || p.extension().is_some_and(|e| e == "pcapng"))
            .map(|(_, p)| p)
            .collect();
        let mut chunks = 0;
        for p in sample {
            chunks += check(&plain_file(p.clone()), &[512, 8192]);
        }
        assert!(chunks > 100, "{chunks}");
    }
}
