//! DNS messages (hickory-proto plus the header fallback).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iotdest::extract::dns::parse_response(data);
});
