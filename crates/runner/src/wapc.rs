//! The waPC conversation, host side, on wasmtime directly.
//!
//! A waPC guest exports `__guest_call(op_len, msg_len) -> i32`; during that call it pulls the
//! operation and payload with `__guest_request`, may call the host with `__host_call`, and
//! answers with `__guest_response` or `__guest_error`. These few imports are all the protocol
//! is: writing them here (instead of linking `wapc` + `wasmtime-provider`, which turn on
//! wasmtime's cache, profiling, GC, threads and the component model) keeps the runner's build
//! small while the guest runs exactly as under policy-server.

use crate::host::{Host, HostCall};
use std::sync::Arc;
use wasmtime::{Caller, Linker, Memory, StoreLimits};

/// The import module every waPC guest links against.
const NAMESPACE: &str = "wapc";

/// What kwctl and policy-server put before the reason of a host call that failed: the guest
/// sees the same text here as in the cluster.
pub const CALLBACK_FAILURE: &str = "Callback evaluation failure: ";

/// Everything one instance's conversation needs; the store's data.
pub struct State {
    pub host: Arc<dyn Host>,
    pub limits: StoreLimits,
    pub operation: Vec<u8>,
    pub message: Vec<u8>,
    pub guest_response: Option<Vec<u8>>,
    pub guest_error: Option<String>,
    host_response: Option<Vec<u8>>,
    host_error: Option<String>,
}

impl State {
    pub fn new(host: Arc<dyn Host>, limits: StoreLimits) -> State {
        State {
            host,
            limits,
            operation: Vec::new(),
            message: Vec::new(),
            guest_response: None,
            guest_error: None,
            host_response: None,
            host_error: None,
        }
    }

    /// Sets up one guest call: the invocation in, every earlier answer out.
    pub fn begin(&mut self, operation: &str, payload: &[u8]) {
        self.operation = operation.as_bytes().to_vec();
        self.message = payload.to_vec();
        self.guest_response = None;
        self.guest_error = None;
        self.host_response = None;
        self.host_error = None;
    }
}

type Result<T> = wasmtime::Result<T>;

/// Adds the waPC imports to `linker`.
pub fn add_to_linker(linker: &mut Linker<State>) -> Result<()> {
    linker.func_wrap(NAMESPACE, "__guest_request", guest_request)?;
    linker.func_wrap(
        NAMESPACE,
        "__guest_response",
        |mut c: Caller<'_, State>, ptr: i32, len: i32| {
            let bytes = read(&mut c, ptr, len)?;
            c.data_mut().guest_response = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__guest_error",
        |mut c: Caller<'_, State>, ptr: i32, len: i32| {
            let bytes = read(&mut c, ptr, len)?;
            c.data_mut().guest_error = Some(String::from_utf8_lossy(&bytes).into_owned());
            Ok(())
        },
    )?;
    linker.func_wrap(NAMESPACE, "__host_call", host_call)?;
    linker.func_wrap(NAMESPACE, "__host_response_len", |c: Caller<'_, State>| {
        len_i32(c.data().host_response.as_deref().unwrap_or_default().len())
    })?;
    linker.func_wrap(
        NAMESPACE,
        "__host_response",
        |mut c: Caller<'_, State>, ptr: i32| {
            let bytes = c.data_mut().host_response.take().unwrap_or_default();
            let written = write(&mut c, ptr, &bytes);
            c.data_mut().host_response = Some(bytes);
            written
        },
    )?;
    linker.func_wrap(NAMESPACE, "__host_error_len", |c: Caller<'_, State>| {
        len_i32(c.data().host_error.as_deref().unwrap_or_default().len())
    })?;
    linker.func_wrap(
        NAMESPACE,
        "__host_error",
        |mut c: Caller<'_, State>, ptr: i32| {
            let text = c.data_mut().host_error.take().unwrap_or_default();
            let written = write(&mut c, ptr, text.as_bytes());
            c.data_mut().host_error = Some(text);
            written
        },
    )?;
    linker.func_wrap(
        NAMESPACE,
        "__console_log",
        |mut c: Caller<'_, State>, ptr: i32, len: i32| {
            let bytes = read(&mut c, ptr, len)?;
            eprintln!("guest: {}", String::from_utf8_lossy(&bytes));
            Ok(())
        },
    )?;
    Ok(())
}

fn guest_request(mut c: Caller<'_, State>, op_ptr: i32, msg_ptr: i32) -> Result<()> {
    let message = std::mem::take(&mut c.data_mut().message);
    let operation = std::mem::take(&mut c.data_mut().operation);
    let written = write(&mut c, msg_ptr, &message).and_then(|()| write(&mut c, op_ptr, &operation));
    c.data_mut().message = message;
    c.data_mut().operation = operation;
    written
}

#[allow(clippy::too_many_arguments)] // the waPC ABI: four (pointer, length) pairs
fn host_call(
    mut c: Caller<'_, State>,
    bd_ptr: i32,
    bd_len: i32,
    ns_ptr: i32,
    ns_len: i32,
    op_ptr: i32,
    op_len: i32,
    ptr: i32,
    len: i32,
) -> Result<i32> {
    let binding = read_str(&mut c, bd_ptr, bd_len)?;
    let namespace = read_str(&mut c, ns_ptr, ns_len)?;
    let operation = read_str(&mut c, op_ptr, op_len)?;
    let payload = read(&mut c, ptr, len)?;
    let call = HostCall {
        binding: &binding,
        namespace: &namespace,
        operation: &operation,
        payload: &payload,
    };
    let answer = c.data().host.call(&call);
    let state = c.data_mut();
    state.host_response = None;
    state.host_error = None;
    Ok(match answer {
        Ok(bytes) => {
            state.host_response = Some(bytes);
            1
        }
        Err(reason) => {
            state.host_error = Some(format!("{CALLBACK_FAILURE}{reason}"));
            0
        }
    })
}

fn memory(c: &mut Caller<'_, State>) -> Result<Memory> {
    c.get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmtime::format_err!("the guest exports no memory named `memory`"))
}

/// Guest memory at `ptr..ptr+len`; out of bounds is a trap, never a host panic.
pub fn read(c: &mut Caller<'_, State>, ptr: i32, len: i32) -> Result<Vec<u8>> {
    let memory = memory(c)?;
    let start = u32::try_from(ptr)? as usize;
    let end = start.checked_add(u32::try_from(len)? as usize);
    end.and_then(|end| memory.data(&c).get(start..end))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| wasmtime::format_err!("the guest passed memory out of bounds"))
}

fn read_str(c: &mut Caller<'_, State>, ptr: i32, len: i32) -> Result<String> {
    String::from_utf8(read(c, ptr, len)?)
        .map_err(|_| wasmtime::format_err!("the guest passed a host call name that is not UTF-8"))
}

pub fn write(c: &mut Caller<'_, State>, ptr: i32, bytes: &[u8]) -> Result<()> {
    let memory = memory(c)?;
    let start = u32::try_from(ptr)? as usize;
    memory
        .write(c, start, bytes)
        .map_err(|_| wasmtime::format_err!("the guest asked for a write out of its memory"))
}

fn len_i32(n: usize) -> Result<i32> {
    i32::try_from(n)
        .map_err(|_| wasmtime::format_err!("a message over 2 GiB cannot reach the guest"))
}
