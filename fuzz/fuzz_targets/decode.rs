//! One frame of any link type through link/IP/transport decode.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let link = [0u32, 1, 9, 10, 12, 101, 108, 113, 228, 229, 276][data[0] as usize % 11];
    let frame = &data[1..];
    let _ = iotdest::decode::decode_any(link, frame, frame.len() as u32);
});
