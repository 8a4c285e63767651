//! Prints the e2e table as one JSON object per line, for the kwctl bats flow (which reads it
//! with jq, since shells do not read YAML).

fn main() -> anyhow::Result<()> {
    let dir = image_digest_runner::cases::e2e_dir();
    for case in image_digest_runner::cases::load(&dir)? {
        let line = serde_json::json!({
            "name": case.name,
            "request": case.request_path(&dir),
            "settings": case.settings,
            "settings_valid": case.settings_valid,
            "allowed": case.allowed,
            "message": case.message,
            "warnings": case.warnings,
            "kwctl": case.kwctl,
            "replay": case.replay_path(&dir),
        });
        println!("{line}");
    }
    Ok(())
}
