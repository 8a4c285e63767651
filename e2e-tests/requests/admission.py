"""The AdmissionRequest the API server sends for a CREATE of `obj`, shared by the request
generators (upstream/, operators/): one shape for every fixture."""


def request(obj, resource):
    group, version = obj["apiVersion"].split("/")
    kind = obj["kind"]
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    meta = obj["metadata"]
    return {
        "uid": f"00000000-0000-4000-8000-{sum(map(ord, kind + meta.get('name', meta.get('generateName', '')))):012d}",
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": meta.get("name", ""), "namespace": meta.get("namespace", ""),
        "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:authenticated"]},
        "object": obj, "oldObject": None, "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }
