//! Prints what the web build's Node tests compare against: every e2e and adversarial case
//! that needs no host capability (the browser has none), and every adversarial image as a
//! Pod under the default settings, each with the verdict of the native core and of
//! `policy.wasm` in wasmtime, which must agree (else this exits non-zero), and the Helm values
//! cases for the npx parity test. One JSON document.

use anyhow::{Result, bail};
use image_digest_testkit::cases::{self, Outcome};
use image_digest_testkit::policy as testkit;
use serde_json::{Value, json};

fn outcome(o: &Outcome) -> Value {
    match o {
        Outcome::SettingsRefused(m) => json!({"settingsValid": false, "message": m}),
        Outcome::Evaluated {
            accepted,
            message,
            warnings,
            ..
        } => {
            json!({"settingsValid": true, "accepted": accepted, "message": message, "warnings": warnings})
        }
    }
}

fn main() -> Result<()> {
    let policy = testkit::load_policy();
    let root = cases::e2e_dir();
    let mut table = Vec::new();
    let mut host_only = 0;
    for dir in [root.clone(), root.join("adversarial")] {
        for case in cases::load(&dir)? {
            if case.replay.is_some() {
                host_only += 1;
                continue;
            }
            let native = outcome(&cases::native_outcome(&case, &dir)?);
            let wasm = outcome(&cases::wasm_outcome(&policy, &case, &dir)?);
            if native != wasm {
                bail!("case {:?}: native {native} != wasm {wasm}", case.name);
            }
            let request = String::from_utf8_lossy(&case.request_bytes(&dir)?).into_owned();
            table.push(json!({"name": case.name, "request": request, "settings": case.settings, "expected": native}));
        }
    }
    let mut images = Vec::new();
    for entry in cases::image_corpus()? {
        let request = cases::pod_request(vec![json!({"name": "c", "image": entry.image})]);
        let bytes = serde_json::to_vec(&request)?;
        let payload = image_digest_runner::payload(&bytes, b"{}");
        let n = image_digest_policy::validate(&payload);
        let raw = policy.call(
            "validate",
            &payload,
            std::sync::Arc::new(image_digest_runner::NoCapabilities),
        )?;
        let w = image_digest_runner::Response::from_guest(&raw, None)?;
        let native = json!({"settingsValid": true, "accepted": n.accepted, "message": n.message, "warnings": n.warning_texts()});
        let wasm = json!({"settingsValid": true, "accepted": w.accepted, "message": w.message, "warnings": w.warnings});
        if native != wasm {
            bail!("image {:?}: native {native} != wasm {wasm}", entry.image);
        }
        images.push(json!({"image": entry.image, "verdict": entry.verdict, "request": request.to_string(), "expected": native}));
    }
    // The Helm values cases (files, settings, namespace), for the npx parity test.
    let text = std::fs::read_to_string(root.join("values/cases.yaml"))?;
    let values: Value = serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = json!({"cases": table, "hostOnlyCasesLeftOut": host_only, "images": images, "valuesCases": values.get("cases")});
    println!("{out}");
    Ok(())
}
