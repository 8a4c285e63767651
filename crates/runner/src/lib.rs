//! A waPC host that runs `policy.wasm` the way Kubewarden's policy-server does: the module is
//! compiled once, every evaluation gets a fresh instance, settings are validated with the
//! guest's own `validate_settings` before use, and a trap is an error, never an accept.
//!
//! The tests, the offline checker and the benchmarks all evaluate the real wasm through it.

pub mod cache;
pub use cache::Cache;
mod error;
mod host;
pub mod replay;
mod response;
mod wapc;
mod wasi;

pub use host::{Host, HostCall, HostResolver, NoCapabilities};
pub use response::{Response, SettingsResponse};
pub use wapc::CALLBACK_FAILURE;

pub use error::{Error, Result};
use serde_json::Value;
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wapc::State;
use wasmtime::{Engine, InstancePre, Store, StoreLimitsBuilder, Trap, TypedFunc};

/// How often the engine's epoch advances: the unit of the deadlines below.
const TICK: Duration = Duration::from_millis(10);

/// The start functions a waPC host runs once per instance, in this order, when exported.
const STARTS: [&str; 2] = ["_start", "wapc_init"];

/// Limits that keep a runaway or hostile policy from hanging or exhausting the host.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock budget of one guest call (policy-server's default timeout is 10 s).
    pub timeout: Duration,
    /// Linear memory a single instance may grow to.
    pub max_memory: usize,
}

/// The address space reserved per linear memory when the process's address space is limited.
const RESERVATION_UNDER_LIMIT: u64 = 64 << 20;

/// The process's address-space limit (`ulimit -v`, RLIMIT_AS) in bytes, when there is one:
/// read from `/proc/self/limits`, which needs no libc binding.
fn address_space_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft = line
        .trim_start_matches("Max address space")
        .split_whitespace()
        .next()?;
    soft.parse().ok()
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
    pre: InstancePre<State>,
    engine: Engine,
    limits: Limits,
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
    /// Compiles the module at `path` with the default limits.
    pub fn load(path: &Path) -> Result<Policy> {
        Policy::load_cached(path, None)
    }

    /// Loads `path`, its compiled code kept in `cache` when one is given (see `cache.rs` for
    /// when a directory is trusted).
    pub fn load_cached(path: &Path, cache: Option<&Cache>) -> Result<Policy> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Policy::build(&bytes, Limits::default(), cache).map_err(|e| match e {
            Error::Load(why) => Error::Load(format!("{}: {why}", path.display())),
            e => e,
        })
    }

    /// Compiles a module from its bytes, with `limits` for every instance.
    pub fn from_bytes(bytes: &[u8], limits: Limits) -> Result<Policy> {
        Policy::build(bytes, limits, None)
    }

    /// A module held in memory (the checker's embedded one), its compiled code kept in
    /// `cache` when a directory is given.
    pub fn from_bytes_cached(bytes: &[u8], cache: Option<&Cache>) -> Result<Policy> {
        Policy::build(bytes, Limits::default(), cache)
    }

    fn build(bytes: &[u8], limits: Limits, cache: Option<&Cache>) -> Result<Policy> {
        let mut config = wasmtime::Config::default();
        config.epoch_interruption(true);
        if let Some(limit) = address_space_limit() {
            // wasmtime reserves 4 GiB and a 32 MiB guard of address space per linear memory
            // by default, so bounds checks cost nothing; under `ulimit -v` (a CI container, a
            // shared host) that reservation alone fails every instance. Then reserve what the
            // module needs (it starts at 18 pages, about 1.1 MiB) and let memory move when it
            // grows: explicit bounds checks, slower, but it runs.
            config.memory_reservation(RESERVATION_UNDER_LIMIT.min(limit / 8));
            config.memory_guard_size(64 << 10);
            config.memory_reservation_for_growth(RESERVATION_UNDER_LIMIT.min(limit / 8));
        }
        let load = |e: wasmtime::Error| Error::Load(format!("{e:#}"));
        let engine = Engine::new(&config).map_err(load)?;
        let module = match cache {
            Some(cache) => cache.module(&engine, bytes).map_err(load)?,
            None => wasmtime::Module::new(&engine, bytes).map_err(load)?,
        };
        let mut linker = wasmtime::Linker::new(&engine);
        wapc::add_to_linker(&mut linker).map_err(load)?;
        wasi::add_to_linker(&mut linker, &module).map_err(load)?;
        let pre = linker.instantiate_pre(&module).map_err(load)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (stop, engine) = (stop.clone(), engine.clone());
            std::thread::Builder::new()
                .name("epoch-ticker".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| Error::Load(format!("cannot start the epoch ticker: {e}")))?
        };
        Ok(Policy {
            pre,
            engine,
            limits,
            ticker: Some(ticker),
            stop,
        })
    }

    /// Calls `operation` on a fresh instance, answering host calls with `host`: the
    /// policy-server model, where every request pays instantiation and `wapc_init`.
    pub fn call(&self, operation: &str, payload: &[u8], host: Arc<dyn Host>) -> Result<Vec<u8>> {
        self.instantiate(host)?.call(operation, payload)
    }

    /// A live instance, its start functions run, for callers that reuse one.
    pub fn instantiate(&self, host: Arc<dyn Host>) -> Result<Instance> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.max_memory)
            .table_elements(100_000)
            .build();
        let mut store = Store::new(&self.engine, State::new(host, limits));
        store.limiter(|s| &mut s.limits);
        let ticks = self.ticks();
        store.set_epoch_deadline(ticks);
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| Error::Instantiate(format!("{e:#}")))?;
        for start in STARTS {
            let Ok(func) = instance.get_typed_func::<(), ()>(&mut store, start) else {
                continue;
            };
            store.set_epoch_deadline(ticks);
            if let Err(e) = func.call(&mut store, ())
                && !matches!(e.downcast_ref::<wasi::Exit>(), Some(wasi::Exit(0)))
            {
                return Err(Error::Instantiate(format!(
                    "`{start}` failed: {}",
                    describe(&e)
                )));
            }
        }
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")
            .map_err(|_| {
                Error::Instantiate(
                    "the module is not a waPC guest: it exports no `__guest_call`".into(),
                )
            })?;
        let memory = instance.get_memory(&mut store, "memory");
        Ok(Instance {
            memory,
            store: std::cell::RefCell::new(store),
            guest_call,
            ticks,
        })
    }

    fn ticks(&self) -> u64 {
        u64::try_from(self.limits.timeout.as_millis() / TICK.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// The guest's `protocol_version`, e.g. `v1`.
    pub fn protocol_version(&self) -> Result<String> {
        let raw = self.call("protocol_version", b"", Arc::new(NoCapabilities))?;
        serde_json::from_slice(&raw).map_err(|_| Error::Answer {
            operation: "protocol_version",
            expected: "a JSON string",
            answer: String::from_utf8_lossy(&raw).into_owned(),
        })
    }

    /// The guest's verdict on `settings` (its `validate_settings`).
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsResponse> {
        let raw = self.call(
            "validate_settings",
            settings.to_string().as_bytes(),
            Arc::new(NoCapabilities),
        )?;
        serde_json::from_slice(&raw).map_err(|_| Error::Answer {
            operation: "validate_settings",
            expected: "a settings response",
            answer: String::from_utf8_lossy(&raw).into_owned(),
        })
    }

    /// Validates `settings` once, as the server does when it loads a policy, and returns an
    /// evaluator that uses them for every request.
    pub fn with_settings(&self, settings: Value) -> Result<Evaluator<'_>> {
        let verdict = self.validate_settings(&settings)?;
        if !verdict.valid {
            return Err(Error::Settings(
                verdict
                    .message
                    .unwrap_or_else(|| "the policy refused its settings".into()),
            ));
        }
        Ok(Evaluator {
            policy: self,
            settings: settings.to_string().into_bytes(),
        })
    }
}

/// A trap in words; the deadline gets the words policy-server uses.
fn describe(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => "guest code interrupted, execution deadline exceeded".to_owned(),
        _ => format!("{e:#}"),
    }
}

/// One instantiated module.
pub struct Instance {
    store: std::cell::RefCell<Store<State>>,
    guest_call: TypedFunc<(i32, i32), i32>,
    ticks: u64,
    memory: Option<wasmtime::Memory>,
}

impl Instance {
    /// The guest's linear memory in bytes, `None` when it exports none. A fresh instance
    /// starts with the module's initial memory; a request that needs more pays a
    /// `memory.grow`, which the benchmarks' budget test watches (`build.rs`).
    pub fn memory_bytes(&self) -> Option<usize> {
        let store = self.store.try_borrow().ok()?;
        self.memory.map(|m| m.data_size(&*store))
    }

    /// One waPC guest call; a trap, a deadline or a guest error is an `Err`, never an answer.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        let failed = |why: String| {
            // waPC guests answer an operation they do not register with this error.
            if why.starts_with("No handler registered for function") {
                Error::NoFunction {
                    operation: operation.to_owned(),
                    version: image_digest_policy::VERSION,
                }
            } else {
                Error::Guest {
                    operation: operation.to_owned(),
                    why,
                }
            }
        };
        let mut store = self
            .store
            .try_borrow_mut()
            .map_err(|_| failed("the instance is already in a call".into()))?;
        let op_len =
            i32::try_from(operation.len()).map_err(|_| failed("operation too long".into()))?;
        let msg_len =
            i32::try_from(payload.len()).map_err(|_| failed("payload over 2 GiB".into()))?;
        store.data_mut().begin(operation, payload);
        store.set_epoch_deadline(self.ticks);
        let code = self
            .guest_call
            .call(&mut *store, (op_len, msg_len))
            .map_err(|e| failed(describe(&e)))?;
        let state = store.data_mut();
        match (code, state.guest_response.take(), state.guest_error.take()) {
            (0, _, Some(error)) => Err(failed(error)),
            (0, _, None) => Err(failed("no error message set for call failure".into())),
            (_, Some(response), _) => Ok(response),
            (_, None, Some(error)) => Err(failed(error)),
            (_, None, None) => Err(failed(
                "no error message or response set for call success".into(),
            )),
        }
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

    /// The module's `report` on a fresh instance: the verdict `validate` would give (read as
    /// its response, so the patch and the strictness are the same), and the findings and
    /// warnings as data, from one evaluation.
    pub fn report_raw(&self, request: &[u8], host: Arc<dyn Host>) -> Result<Reported> {
        let request = unwrap_review(request);
        let raw = self.policy.call("report", &self.payload(&request)?, host)?;
        reported(&raw, &request)
    }

    /// The same on an instance the caller keeps.
    pub fn report_on(&self, instance: &Instance, request: &[u8]) -> Result<Reported> {
        let request = unwrap_review(request);
        let raw = instance.call("report", &self.payload(&request)?)?;
        reported(&raw, &request)
    }

    /// A fresh instance of the policy behind this evaluator.
    pub fn instantiate(&self, host: Arc<dyn Host>) -> Result<Instance> {
        self.policy.instantiate(host)
    }

    fn payload(&self, request: &[u8]) -> Result<Vec<u8>> {
        Ok(payload(request, &self.settings))
    }

    /// The payload `validate` receives for `request` (an `AdmissionReview` unwrapped), for a
    /// caller that runs the native core on exactly what the wasm got.
    pub fn payload_for(&self, request: &[u8]) -> Vec<u8> {
        payload(&unwrap_review(request), &self.settings)
    }
}

pub use image_digest_policy::request::payload;

/// What a module's `report` answered: the response `validate` would have given, and the
/// verdict as data.
#[derive(Debug, Clone)]
pub struct Reported {
    /// The verdict as policy-server would forward it.
    pub response: Response,
    /// The findings and warnings, with their rules.
    pub data: image_digest_policy::report::ReportData,
}

fn reported(raw: &[u8], request: &[u8]) -> Result<Reported> {
    let response = answer(raw, request)?;
    let data = serde_json::from_slice(raw).map_err(|_| Error::Answer {
        operation: "report",
        expected: "a report",
        answer: String::from_utf8_lossy(raw).into_owned(),
    })?;
    Ok(Reported { response, data })
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
