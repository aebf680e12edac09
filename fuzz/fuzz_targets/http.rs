//! HTTP request heads.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iotdest::extract::http::parse_request(data);
    let _ = iotdest::extract::http::host_of(data);
});
