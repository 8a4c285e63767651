//! A run's end: why a run without rejections can still not be a pass, and the exit code.

use crate::report::Summary;
use image_digest_policy::settings::NamespaceScope;

/// 2 when anything could not be checked (input errors, runner errors, an empty run), else 1
/// when anything was rejected, else 0.
pub fn exit_code(summary: &Summary, notes: &[String]) -> u8 {
    if summary.input_errors > 0 || summary.errored > 0 || !notes.is_empty() {
        2
    } else if summary.rejected > 0 {
        1
    } else {
        0
    }
}

/// Why a run without rejections is still not a pass.
pub fn notes(summary: &Summary, scope: &NamespaceScope, allow_empty: bool) -> Vec<String> {
    let judged_images = summary.workloads > summary.imageless;
    if judged_images || summary.errored > 0 || summary.input_errors > 0 || allow_empty {
        return Vec::new();
    }
    // In the run's own words: documents and workloads, or values files and images.
    let judged = summary.words.judged.trim_end_matches('s');
    let mut why = if summary.imageless > 0 {
        format!(
            "nothing was checked: {} {} read; {} {} of a custom kind, in which none of the kind's paths reached an image",
            summary.documents, summary.words.read, summary.imageless, summary.words.judged
        )
    } else {
        format!(
            "nothing was checked: {} {} read, no {judged} in scope",
            summary.documents, summary.words.read
        )
    };
    if summary.skipped > 0 {
        why.push_str(&format!(
            "; {} skipped ({}: {})",
            summary.skipped,
            summary.words.skipped,
            summary
                .skipped_kinds
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if summary.out_of_scope > 0 {
        why.push_str(&format!(
            "; {} outside the settings' namespaces (include {:?}, exclude {:?})",
            summary.out_of_scope, scope.include, scope.exclude
        ));
    }
    why.push_str(
        ". Check the paths and --namespace, or pass --allow-empty if an empty run is expected",
    );
    vec![why]
}
