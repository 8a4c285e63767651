//! A waPC host that runs `policy.wasm` the way Kubewarden's policy-server does: the module is
//! compiled once, every evaluation gets a fresh instance, settings are validated with the
//! guest's own `validate_settings` before use, and a trap is an error, never an accept.
//!
//! The tests, the offline checker and the benchmarks all evaluate the real wasm through it.

pub mod cases;
mod host;
pub mod replay;
mod response;

pub use host::{Host, HostCall, NoCapabilities};
pub use response::{Response, SettingsResponse};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime_provider::wasmtime;
use wasmtime_provider::{
    EpochDeadlines, ResourceLimits, WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre,
};

/// How often the engine's epoch advances: the unit of the deadlines below.
const TICK: Duration = Duration::from_millis(10);

/// Limits that keep a runaway or hostile policy from hanging or exhausting the host.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock budget of one guest call (policy-server's default timeout is 10 s).
    pub timeout: Duration,
    /// Linear memory a single instance may grow to.
    pub max_memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            max_memory: 1 << 30,
        }
    }
}

/// A compiled policy module, ready to be instantiated any number of times.
pub struct Policy {
    pre: WasmtimeEngineProviderPre,
    deadlines: EpochDeadlines,
    ticker: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Policy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read policy module {}", path.display()))?;
        Policy::from_bytes(&bytes, Limits::default())
            .with_context(|| format!("cannot load policy module {}", path.display()))
    }

    pub fn from_bytes(bytes: &[u8], limits: Limits) -> Result<Policy> {
        let mut config = wasmtime::Config::default();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).map_err(|e| anyhow!("{e}"))?;
        let ticks = u64::try_from(limits.timeout.as_millis() / TICK.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let deadlines = EpochDeadlines {
            wapc_init: ticks,
            wapc_func: ticks,
        };
        let pre = WasmtimeEngineProviderBuilder::new()
            .engine(engine.clone())
            .module_bytes(bytes)
            .enable_epoch_interruptions(deadlines)
            .enable_resource_limits(ResourceLimits {
                max_memory_size: Some(limits.max_memory),
                max_table_elements: Some(100_000),
            })
            .build_pre()
            .map_err(|e| anyhow!("{e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("epoch-ticker".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .context("cannot start the epoch ticker")?
        };
        Ok(Policy {
            pre,
            deadlines,
            ticker: Some(ticker),
            stop,
        })
    }

    /// Calls `operation` on a fresh instance, answering host calls with `host`: the
    /// policy-server model, where every request pays instantiation and `wapc_init`.
    pub fn call(&self, operation: &str, payload: &[u8], host: Arc<dyn Host>) -> Result<Vec<u8>> {
        self.instantiate(host)?.call(operation, payload)
    }

    /// A live instance, for callers that reuse one (the benchmarks' warm model).
    pub fn instantiate(&self, host: Arc<dyn Host>) -> Result<Instance> {
        let provider = self
            .pre
            .rehydrate(Some(self.deadlines))
            .map_err(|e| anyhow!("{e}"))?;
        let callback = move |_id: u64, binding: &str, namespace: &str, op: &str, payload: &[u8]| {
            host.call(&HostCall {
                binding,
                namespace,
                operation: op,
                payload,
            })
            .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })
        };
        let wapc = wapc::WapcHost::new(Box::new(provider), Some(Box::new(callback)))
            .map_err(|e| anyhow!("cannot instantiate the policy: {e}"))?;
        Ok(Instance { wapc })
    }

    /// The guest's `protocol_version`, e.g. `v1`.
    pub fn protocol_version(&self) -> Result<String> {
        let raw = self.call("protocol_version", b"", Arc::new(NoCapabilities))?;
        serde_json::from_slice(&raw)
            .context("protocol_version answered something that is not a JSON string")
    }

    /// The guest's verdict on `settings` (its `validate_settings`).
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsResponse> {
        let raw = self.call(
            "validate_settings",
            &serde_json::to_vec(settings)?,
            Arc::new(NoCapabilities),
        )?;
        serde_json::from_slice(&raw)
            .context("validate_settings answered something that is not a settings response")
    }

    /// Validates `settings` once, as the server does when it loads a policy, and returns an
    /// evaluator that uses them for every request.
    pub fn with_settings(&self, settings: Value) -> Result<Evaluator<'_>> {
        let verdict = self.validate_settings(&settings)?;
        if !verdict.valid {
            bail!(
                "{}",
                verdict
                    .message
                    .unwrap_or_else(|| "the policy refused its settings".into())
            );
        }
        Ok(Evaluator {
            policy: self,
            settings: serde_json::to_vec(&settings)?,
        })
    }
}

/// One instantiated module.
pub struct Instance {
    wapc: wapc::WapcHost,
}

impl Instance {
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        self.wapc
            .call(operation, payload)
            .map_err(|e| anyhow!("the policy failed in `{operation}`: {e}"))
    }
}

/// A policy with validated settings.
pub struct Evaluator<'p> {
    policy: &'p Policy,
    /// Serialised once: every evaluation splices the same bytes into its payload.
    settings: Vec<u8>,
}

impl Evaluator<'_> {
    /// Evaluates one AdmissionRequest given as raw JSON text (an `AdmissionReview` is
    /// unwrapped to its `request`) on a fresh instance. The text is spliced into the payload
    /// as is, so a request that is not JSON reaches the guest as it would reach a misbehaving
    /// server.
    pub fn validate_raw(&self, request: &[u8], host: Arc<dyn Host>) -> Result<Response> {
        let request = unwrap_review(request);
        let raw = self
            .policy
            .call("validate", &self.payload(&request)?, host)?;
        answer(&raw, &request)
    }

    /// The same on an instance the caller keeps (the checker reuses one per thread offline,
    /// where instantiating per document would dominate the run).
    pub fn validate_on(&self, instance: &Instance, request: &[u8]) -> Result<Response> {
        let request = unwrap_review(request);
        let raw = instance.call("validate", &self.payload(&request)?)?;
        answer(&raw, &request)
    }

    /// A fresh instance of the policy behind this evaluator.
    pub fn instantiate(&self, host: Arc<dyn Host>) -> Result<Instance> {
        self.policy.instantiate(host)
    }

    fn payload(&self, request: &[u8]) -> Result<Vec<u8>> {
        let settings = &self.settings;
        let mut payload = Vec::with_capacity(request.len() + settings.len() + 32);
        payload.extend_from_slice(b"{\"request\":");
        payload.extend_from_slice(request);
        payload.extend_from_slice(b",\"settings\":");
        payload.extend_from_slice(settings);
        payload.push(b'}');
        Ok(payload)
    }
}

/// Reads the guest's answer; the request's object is parsed only when the policy mutated it.
fn answer(raw: &[u8], request: &[u8]) -> Result<Response> {
    Response::from_guest_lazy(raw, || {
        serde_json::from_slice::<Value>(request)
            .ok()
            .and_then(|mut r| r.get_mut("object").map(Value::take))
    })
}

/// A recorded `AdmissionReview` carries the request under `request`; kwctl accepts both.
fn unwrap_review(request: &[u8]) -> Cow<'_, [u8]> {
    // Only a document that names the kind is worth parsing here.
    if !request.windows(17).any(|w| w == b"\"AdmissionReview\"") {
        return Cow::Borrowed(request);
    }
    if let Ok(Value::Object(mut review)) = serde_json::from_slice::<Value>(request)
        && review.get("kind").and_then(Value::as_str) == Some("AdmissionReview")
        && let Some(inner) = review.remove("request")
        && let Ok(bytes) = serde_json::to_vec(&inner)
    {
        return Cow::Owned(bytes);
    }
    Cow::Borrowed(request)
}
