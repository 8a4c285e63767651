//! The WASI preview 1 calls a Rust waPC guest built for `wasm32-wasip1` imports, and nothing
//! more: no files, no arguments, no environment, stdout and stderr forwarded to ours (as
//! policy-server's `inherit_stdio`). `wasmtime-wasi` would bring tokio, cap-std and the
//! preview 2 stack for these five functions. Any other WASI import still links, and traps
//! with its name if the guest calls it.

use crate::wapc::{State, read, write};
use std::io::Write;
use wasmtime::{Caller, Linker, Module};

const MODULE: &str = "wasi_snapshot_preview1";
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;

/// Raised by `proc_exit`; a zero code during start-up is a normal end (TinyGo's `main`).
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the guest exited with status {}", self.0)
    }
}

impl std::error::Error for Exit {}

type Result<T> = wasmtime::Result<T>;

pub fn add_to_linker(linker: &mut Linker<State>, module: &Module) -> Result<()> {
    linker.func_wrap(MODULE, "random_get", random_get)?;
    linker.func_wrap(
        MODULE,
        "environ_sizes_get",
        |mut c: Caller<'_, State>, count: i32, size: i32| {
            write(&mut c, count, &0u32.to_le_bytes())?;
            write(&mut c, size, &0u32.to_le_bytes())?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "environ_get",
        |_: Caller<'_, State>, _: i32, _: i32| ERRNO_SUCCESS,
    )?;
    linker.func_wrap(MODULE, "fd_write", fd_write)?;
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_: Caller<'_, State>, code: i32| -> Result<()> { Err(wasmtime::Error::new(Exit(code))) },
    )?;
    linker.define_unknown_imports_as_traps(module)?;
    Ok(())
}

/// Random bytes for the guest's hash seeds, from the standard library's per-process keys.
fn random_get(mut c: Caller<'_, State>, ptr: i32, len: i32) -> Result<i32> {
    use std::hash::{BuildHasher, Hasher};
    let n = u32::try_from(len)? as usize;
    let mut bytes = Vec::with_capacity(n + 8);
    let state = std::collections::hash_map::RandomState::new();
    let mut counter = 0u64;
    while bytes.len() < n {
        let mut h = state.build_hasher();
        h.write_u64(counter);
        bytes.extend_from_slice(&h.finish().to_le_bytes());
        counter += 1;
    }
    bytes.truncate(n);
    write(&mut c, ptr, &bytes)?;
    Ok(ERRNO_SUCCESS)
}

/// Writes the guest's stdout and stderr (a panic message, say) to our stderr, so they never
/// mix with a tool's report on stdout.
fn fd_write(
    mut c: Caller<'_, State>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    written: i32,
) -> Result<i32> {
    if fd != 1 && fd != 2 {
        return Ok(ERRNO_BADF);
    }
    let table = read(&mut c, iovs, iovs_len.checked_mul(8).unwrap_or(-1))?;
    let mut total = 0u32;
    for iov in table.chunks_exact(8) {
        let field = |i: usize| {
            let b: [u8; 4] = iov
                .get(i..i + 4)
                .and_then(|s| s.try_into().ok())
                .unwrap_or_default();
            i32::from_le_bytes(b)
        };
        let bytes = read(&mut c, field(0), field(4))?;
        let _ = std::io::stderr().write_all(&bytes);
        total = total.saturating_add(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    }
    write(&mut c, written, &total.to_le_bytes())?;
    Ok(ERRNO_SUCCESS)
}
