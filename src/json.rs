//! JSON helpers shared by the readers (settings, kinds, workloads): a leaf module, so that
//! none of them has to reach into another for them.

use serde_json::Value;

/// How a JSON value's type reads in a message.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
