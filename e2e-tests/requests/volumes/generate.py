"""Writes the image-volume requests (one per kind that carries a Kubernetes Volume) and
prints their cases for ../../cases.yaml. Run it again after changing the volumes below:
  python3 e2e-tests/requests/volumes/generate.py > /tmp/cases.yaml

The pod is the Kubernetes documentation's image-volume example ("Use an Image Volume With a
Pod": a `shell` container mounting `quay.io/crio/artifact`), its container pinned, with one
image volume of each verdict the contract gives an image."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DIGEST = "sha256:96e72f5e649b1738ba4a48f9e786f5cdcb2ad5d63838d4009f5c71c80c2e6809"

VOLUMES = [
    {"name": "volume", "image": {"reference": "quay.io/crio/artifact:latest", "pullPolicy": "IfNotPresent"}},
    {"name": "config", "configMap": {"name": "shell-config"}},
    {"name": "pinned", "image": {"reference": f"quay.io/crio/artifact:v2@{DIGEST}", "pullPolicy": "IfNotPresent"}},
    {"name": "tools", "image": {"reference": "quay.io/crio/artifact:v2", "pullPolicy": "IfNotPresent"}},
    {"name": "broken", "image": {"reference": "Quay.io/Crio/Artifact:v2"}},
    {"name": "vendored", "image": {"reference": "registry.example.com/vendor/models:latest"}},
]


def pod_spec(volumes=VOLUMES):
    return {
        "containers": [{
            "name": "shell",
            "command": ["sleep", "infinity"],
            "image": f"debian:12@{DIGEST}",
            "volumeMounts": [{"name": v["name"], "mountPath": f"/{v['name']}"} for v in volumes],
        }],
        "volumes": volumes,
    }


def request(group, version, kind, resource, obj, operation="CREATE", old=None):
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    return {
        "uid": f"00000000-0000-4000-8000-{sum(map(ord, kind + operation)):012d}",
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": obj["metadata"]["name"], "namespace": "team", "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:authenticated"]},
        "object": obj, "oldObject": old, "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }


def obj(api_version, kind, spec):
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": "image-volume", "namespace": "team"}, "spec": spec}


def template(spec):
    return {"template": {"metadata": {"labels": {"app": "image-volume"}}, "spec": spec}}


def selector(spec):
    return {"selector": {"matchLabels": {"app": "image-volume"}}, **template(spec)}


# (file, group, version, kind, resource, object spec, where the Volume list is, preset)
KINDS = [
    ("pod", "", "v1", "Pod", "pods", pod_spec(), "spec", None),
    ("deployment", "apps", "v1", "Deployment", "deployments", selector(pod_spec()), "spec.template.spec", None),
    ("replicaset", "apps", "v1", "ReplicaSet", "replicasets", selector(pod_spec()), "spec.template.spec", None),
    ("statefulset", "apps", "v1", "StatefulSet", "statefulsets", {"serviceName": "x", **selector(pod_spec())}, "spec.template.spec", None),
    ("daemonset", "apps", "v1", "DaemonSet", "daemonsets", selector(pod_spec()), "spec.template.spec", None),
    ("job", "batch", "v1", "Job", "jobs", template({**pod_spec(), "restartPolicy": "Never"}), "spec.template.spec", None),
    ("replicationcontroller", "", "v1", "ReplicationController", "replicationcontrollers", template(pod_spec()), "spec.template.spec", None),
    ("cronjob", "batch", "v1", "CronJob", "cronjobs",
     {"schedule": "@hourly", "jobTemplate": {"spec": template({**pod_spec(), "restartPolicy": "Never"})}},
     "spec.jobTemplate.spec.template.spec", None),
    ("rollout", "argoproj.io", "v1alpha1", "Rollout", "rollouts",
     {"replicas": 1, "strategy": {"canary": {}}, **selector(pod_spec())}, "spec.template.spec", "argo-rollouts"),
    ("scaledjob", "keda.sh", "v1alpha1", "ScaledJob", "scaledjobs",
     {"jobTargetRef": template({**pod_spec(), "restartPolicy": "Never"}), "triggers": []},
     "spec.jobTargetRef.template.spec", "keda"),
    ("knative-service", "serving.knative.dev", "v1", "Service", "services", template(pod_spec()), "spec.template.spec", "knative-serving"),
    # Argo Workflows: the workflow's `spec.volumes` (Kubernetes Volumes given to its pods).
    ("argo-workflow", "argoproj.io", "v1alpha1", "Workflow", "workflows",
     {"entrypoint": "main", "volumes": VOLUMES,
      "templates": [{"name": "main", "container": {"image": f"debian:12@{DIGEST}", "command": ["ls", "/volume"]}}]},
     "spec", "argo-workflows"),
    # Tekton: a Task's `spec.volumes`.
    ("tekton-task", "tekton.dev", "v1", "Task", "tasks",
     {"steps": [{"name": "list", "image": f"debian:12@{DIGEST}", "script": "ls /volume"}], "volumes": VOLUMES},
     "spec", "tekton-pipelines"),
]


def write(name, value):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def case(name, req, settings, allowed, message=(), warnings=(), patch=None, replay=None):
    c = {"name": name, "request": f"volumes/{req}", "settings": settings, "allowed": allowed}
    if message:
        c["message"] = list(message)
    if warnings:
        c["warnings"] = list(warnings)
    if replay:
        c["replay"] = replay
    if patch is not None:
        c["patch"] = patch
    return c


def main():
    cases = []
    for (file, group, version, kind, resource, spec, at, preset) in KINDS:
        api = f"{group}/{version}" if group else version
        write(f"{file}.json", request(group, version, kind, resource, obj(api, kind, spec)))
        settings = {"exemptImages": ["registry.example.com/vendor/*"]}
        if preset:
            settings["presets"] = [preset]
        cases.append(case(
            f"image volumes of a {kind}: latest and an invalid reference rejected, tag-only warned, pinned and exempt pass",
            f"{file}.json", settings, False,
            message=[
                f"{kind} team/image-volume: 2 container images break",
                f"- {at}.volumes[0].image.reference (volume \"volume\"): image \"quay.io/crio/artifact:latest\": tag `latest` is mutable and no digest pins it (drift). Fix: pin it as quay.io/crio/artifact:<tag>@sha256:<digest>.",
                f"- {at}.volumes[4].image.reference (volume \"broken\"): image \"Quay.io/Crio/Artifact:v2\"",
            ],
            warnings=[f"{at}.volumes[3].image.reference (volume \"tools\"): image \"quay.io/crio/artifact:v2\" is not pinned by a digest"],
        ))
    # The pinned and exempt volumes alone pass requireDigest.
    good = [VOLUMES[1], VOLUMES[2], VOLUMES[5]]
    write("pod-pinned.json", request("", "v1", "Pod", "pods", obj("v1", "Pod", pod_spec(good))))
    cases.append(case("a pinned image volume passes requireDigest", "pod-pinned.json",
                      {"requireDigest": True, "exemptImages": ["registry.example.com/vendor/*"]}, True))
    cases.append(case("an exempt image volume on latest is not exempt without the exemption", "pod-pinned.json",
                      {"requireDigest": True}, False,
                      message=["- spec.volumes[2].image.reference (volume \"vendored\"): image \"registry.example.com/vendor/models:latest\""]))
    # A tag-only volume: warned, rejected under requireDigest, pinned by pinDigests.
    tag_only = [VOLUMES[3]]
    write("pod-tag-only.json", request("", "v1", "Pod", "pods", obj("v1", "Pod", pod_spec(tag_only))))
    cases.append(case("a tag-only image volume is rejected under requireDigest", "pod-tag-only.json",
                      {"requireDigest": True}, False,
                      message=["Pod team/image-volume: 1 container image breaks",
                               "- spec.volumes[0].image.reference (volume \"tools\"): image \"quay.io/crio/artifact:v2\": no digest, and requireDigest is on"]))
    pinned = f"quay.io/crio/artifact:v2@{DIGEST}"
    cases.append(case("pinDigests pins a tag-only image volume", "pod-tag-only.json",
                      {"pinDigests": True, "requireDigest": True}, True, replay="pin-artifact.yml",
                      patch=[{"op": "replace", "path": "/spec/volumes/0/image/reference", "value": pinned}]))
    cases.append(case("pinDigests: pods pins a Pod's image volume", "pod-tag-only.json",
                      {"pinDigests": "pods"}, True, replay="pin-artifact.yml",
                      patch=[{"op": "replace", "path": "/spec/volumes/0/image/reference", "value": pinned}]))
    cases.append(case("verifyTagDigest checks a pinned image volume's tag", "pod-pinned.json",
                      {"verifyTagDigest": "reject", "exemptImages": ["registry.example.com/vendor/*"]}, False,
                      replay="artifact-tag-moved.yml",
                      message=["- spec.volumes[1].image.reference (volume \"pinned\"): image \"quay.io/crio/artifact:v2@sha256:96e72f5e649b1738ba4a48f9e786f5cdcb2ad5d63838d4009f5c71c80c2e6809\": tag `v2` now points to sha256:"]))
    # UPDATE: a volume already on latest is kept under allowExistingViolations; a new one is not.
    latest = [VOLUMES[0]]
    old = obj("v1", "Pod", pod_spec(latest))
    new = obj("v1", "Pod", pod_spec(latest))
    new["metadata"]["labels"] = {"touched": "yes"}
    write("pod-update-existing.json", request("", "v1", "Pod", "pods", new, "UPDATE", old))
    cases.append(case("an image volume already on latest is kept by allowExistingViolations", "pod-update-existing.json",
                      {"allowExistingViolations": True}, True,
                      warnings=["existing violation kept by allowExistingViolations: spec.volumes[0].image.reference (volume \"volume\"): image \"quay.io/crio/artifact:latest\""]))
    old_clean = obj("v1", "Pod", pod_spec([VOLUMES[2]]))
    write("pod-update-new.json", request("", "v1", "Pod", "pods", new, "UPDATE", old_clean))
    cases.append(case("a new image volume on latest is rejected on UPDATE despite allowExistingViolations", "pod-update-new.json",
                      {"allowExistingViolations": True}, False,
                      message=["- spec.volumes[0].image.reference (volume \"volume\"): image \"quay.io/crio/artifact:latest\""]))
    cases.append(case("an image volume outside the namespaces checked is not judged", "pod.json",
                      {"namespaces": {"include": ["prod"]}}, True))
    print("  # --- Image volumes (written by requests/volumes/generate.py) ----------------------------")
    for c in cases:
        print("  - " + json.dumps(c))


if __name__ == "__main__":
    main()
