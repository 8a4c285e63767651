//! Host capabilities: what the guest may ask the host for through waPC host calls.

/// One host call as the guest made it.
#[derive(Debug, Clone, Copy)]
pub struct HostCall<'a> {
    /// The waPC binding (`kubewarden`).
    pub binding: &'a str,
    /// The capability's namespace (`oci`).
    pub namespace: &'a str,
    /// The operation (`v1/manifest_digest`).
    pub operation: &'a str,
    /// The guest's payload (JSON).
    pub payload: &'a [u8],
}

impl HostCall<'_> {
    /// Kubewarden's SDK logs through `kubewarden/tracing/log`; the server accepts and
    /// forwards those, and so does every host here.
    pub fn is_log(&self) -> bool {
        self.binding == "kubewarden" && self.namespace == "tracing" && self.operation == "log"
    }
}

/// Answers the guest's host calls. Implementations must be shareable across threads since
/// the checker evaluates documents in parallel.
pub trait Host: Send + Sync {
    /// The answer's payload, or the host's reason it has none.
    fn call(&self, call: &HostCall<'_>) -> Result<Vec<u8>, String>;
}

/// The host of a policy without capabilities: logs are accepted, everything else is an error
/// the guest has to handle (so a policy that needs the network fails visibly, never by
/// silently skipping its check).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCapabilities;

impl Host for NoCapabilities {
    fn call(&self, call: &HostCall<'_>) -> Result<Vec<u8>, String> {
        if call.is_log() {
            return Ok(Vec::new());
        }
        Err(format!(
            "host capability {}/{}/{} is not available in this runner (no recorded session was given)",
            call.binding, call.namespace, call.operation
        ))
    }
}

/// The native core's digest lookups answered by a waPC host, as the guest's would be: the same
/// `oci/v1/manifest_digest` call, the same answer. The checker runs the core next to the wasm
/// with it (a second replay of the same recorded session), so both see the same answers.
pub struct HostResolver(pub std::sync::Arc<dyn Host>);

impl image_digest_policy::DigestResolver for HostResolver {
    fn manifest_digest(&mut self, image: &str) -> Result<String, String> {
        let payload = serde_json::to_vec(image).map_err(|e| e.to_string())?;
        let call = HostCall {
            binding: "kubewarden",
            namespace: "oci",
            operation: "v1/manifest_digest",
            payload: &payload,
        };
        let answer = self.0.call(&call)?;
        let v: serde_json::Value = serde_json::from_slice(&answer)
            .map_err(|e| format!("the host's answer is not a digest response: {e}"))?;
        v.get("digest")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                "the host's answer is not a digest response: missing field `digest`".to_owned()
            })
    }
}
