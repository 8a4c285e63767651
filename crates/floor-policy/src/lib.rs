//! The floor every policy is measured against: parse the payload with `serde_json`, accept.
//! Whatever a real policy costs above this is the cost of its own checks. It speaks waPC
//! through `wapc-guest`, as the policy does.

#[cfg(target_arch = "wasm32")]
mod guest {
    use wapc_guest::{self as guest, CallResult};

    #[unsafe(no_mangle)]
    pub extern "C" fn wapc_init() {
        guest::register_function("validate", validate);
        guest::register_function("validate_settings", validate_settings);
        guest::register_function("protocol_version", |_| Ok(br#""v1""#.to_vec()));
    }

    fn validate(payload: &[u8]) -> CallResult {
        let _: serde_json::Value = serde_json::from_slice(payload)?;
        Ok(br#"{"accepted":true,"message":null,"code":null,"mutated_object":null,"audit_annotations":null,"warnings":null}"#.to_vec())
    }

    fn validate_settings(_payload: &[u8]) -> CallResult {
        Ok(br#"{"valid":true,"message":null}"#.to_vec())
    }
}
