"""What kwctl 1.35 refuses in `kwctl run --request-path FILE` before the policy sees the
request, with kwctl's words, so the stand-in is never more lenient than kwctl.

kwctl reads the file with serde_json (recursion limit 128: the 128th nested array or object
is an error at its line and column) into its typed AdmissionRequest (an AdmissionReview's
`request`, or the request itself), whose `operation` and `userInfo` are required and whose
`kind`, `operation` and `namespace` are typed. Exit 1 with the message on stderr; exit 0
when kwctl would pass the request to the policy."""

import json
import sys

LIMIT = 128


def nesting_error(data: bytes):
    """serde_json's recursion-limit error, or None: depth counted from the file's root,
    strings skipped, line and column (1-based, in bytes) of the bracket that reaches LIMIT."""
    depth, in_string, escaped, line, column = 0, False, False, 1, 0
    for byte in data:
        column += 1
        ch = chr(byte)
        if ch == "\n":
            line, column = line + 1, 0
            continue
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth >= LIMIT:
                return f"recursion limit exceeded at line {line} column {column}"
        elif ch in "]}":
            depth -= 1
    return None


def type_name(value):
    return {dict: "map", list: "sequence", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")


def typed_errors(request):
    """What kwctl's typed AdmissionRequest refuses, in serde's words."""
    if not isinstance(request, dict):
        return f"invalid type: {type_name(request)}, expected struct AdmissionRequest"
    for field in ("operation", "userInfo", "kind"):
        if field not in request:
            return f"missing field `{field}`"
    expected = {"operation": (str, "a string"), "kind": (dict, "struct GroupVersionKind"),
                "userInfo": (dict, "struct UserInfo"), "namespace": (str, "a string")}
    for field, (kind, words) in expected.items():
        if field in request and not isinstance(request[field], kind):
            return f"invalid type: {type_name(request[field])}, expected {words}"
    return None


def refuse(message):
    print(f"Error: {message}", file=sys.stderr)
    sys.exit(1)


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    error = nesting_error(data)
    if error:
        refuse(error)

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        for k in keys:
            if keys.count(k) > 1 and k in ("operation", "kind", "namespace", "userInfo"):
                raise ValueError(f"duplicate field `{k}`")
        return dict(pairs)

    try:
        document = json.loads(data, object_pairs_hook=no_duplicates)
    except ValueError as e:
        refuse(f"cannot parse the request: {e}")
    request = document.get("request", document) if isinstance(document, dict) else document
    error = typed_errors(request)
    if error:
        refuse(f"cannot build the admission request: {error}")


if __name__ == "__main__":
    main(sys.argv[1])
