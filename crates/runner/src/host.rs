//! Host capabilities: what the guest may ask the host for through waPC host calls.

/// One host call as the guest made it.
#[derive(Debug, Clone, Copy)]
pub struct HostCall<'a> {
    pub binding: &'a str,
    pub namespace: &'a str,
    pub operation: &'a str,
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
