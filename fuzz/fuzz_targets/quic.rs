//! QUIC datagrams: long-header parsing, Initial decryption, CRYPTO gathering and the
//! ClientHello inside.
#![no_main]
use libfuzzer_sys::fuzz_target;

use iotdest::extract::quic::{client_initials, CryptoStream};
use iotdest::extract::tls::parse_client_hello_message;

fuzz_target!(|data: &[u8]| {
    let mut stream = CryptoStream::default();
    for datagram in data.split(|&b| b == 0xfe).take(8) {
        for initial in client_initials(datagram) {
            stream.add(initial);
        }
        let _ = parse_client_hello_message(&stream.contiguous());
    }
});
