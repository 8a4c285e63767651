//! Settings validation on arbitrary bytes: never a panic, always a verdict.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let v = image_digest_policy::validate_settings(data);
    assert!(v.valid || v.message.is_some());
});
