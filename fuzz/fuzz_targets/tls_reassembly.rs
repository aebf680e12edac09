//! TLS ClientHello over TCP: the input is split into segments (first byte = segment size),
//! pushed through the bounded stream reassembly, and parsed at every step.
#![no_main]
use libfuzzer_sys::fuzz_target;

use iotdest::extract::tls::{parse_client_hello, MAX_TLS_STREAM};
use iotdest::flow::Stream;

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    let step = usize::from(step).max(1);
    let mut s = Stream::new(MAX_TLS_STREAM);
    let mut seq = 1000u32;
    for chunk in rest.chunks(step) {
        s.push(seq, chunk);
        seq = seq.wrapping_add(chunk.len() as u32);
        let _ = parse_client_hello(s.data());
    }
});
