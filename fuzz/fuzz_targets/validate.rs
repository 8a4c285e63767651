//! The whole `validate` entry on arbitrary payloads: never a panic, and a rejection always
//! says why.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let v = image_digest_policy::validate(data);
    assert!(v.accepted || v.message.as_deref().is_some_and(|m| !m.is_empty()));
});
