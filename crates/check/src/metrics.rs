//! `--output prometheus`: node-exporter's textfile format, for `history` and `live` with
//! `--verify-registry`, so the alerting stack pages before the registry's next garbage
//! collection.

/// One digest: its labels, and what the registry said (`Some(true)` present, `Some(false)`
/// gone, `None` not checked).
pub type Row = (Vec<(&'static str, String)>, Option<bool>);

/// `image_digest_present{…} 1|0` per checked digest, `image_digest_unchecked{…} 1` per one
/// that could not be asked (an outage never reads as "gone" nor as "present"); `whose` says
/// whose digests they are in the help text.
pub fn render(rows: &[Row], whose: &str) -> String {
    let escape = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut present = String::new();
    let mut unchecked = String::new();
    for (labels, state) in rows {
        let labels = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect::<Vec<_>>()
            .join(",");
        match state {
            Some(up) => present.push_str(&format!(
                "image_digest_present{{{labels}}} {}\n",
                u8::from(*up)
            )),
            None => unchecked.push_str(&format!("image_digest_unchecked{{{labels}}} 1\n")),
        }
    }
    format!(
        "# HELP image_digest_present Whether a digest {whose} can still be pulled from its registry.\n# TYPE image_digest_present gauge\n{present}# HELP image_digest_unchecked A digest {whose} that the registry could not be asked about.\n# TYPE image_digest_unchecked gauge\n{unchecked}"
    )
}
