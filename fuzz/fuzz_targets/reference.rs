//! The reference parser on arbitrary text: it must never panic, an accepted reference must
//! be made only of the characters the grammar allows, and normalising it must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(r) = image_digest_policy::reference::parse(text) {
        assert!(text.bytes().all(|b| b.is_ascii_graphic()), "accepted {text:?}");
        let _ = r.normalized();
    }
});
