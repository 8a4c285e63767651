"""Writes the AdmissionRequests of the manifests in ../../operators/ (each written from an
operator project's own published example) and prints their cases for ../../cases.yaml:
  python3 e2e-tests/requests/operators/generate.py > /tmp/cases.yaml

Every case runs with its preset on (the composed Gateway with its customKinds) and
requireDigest: true: an unpinned image is a finding at its own path, a pinned document is
accepted, and a container an operator completes (no image, in a pod template it patches) is
not a finding. The checker, the wasm and kwctl must all agree."""

import json
import os
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import admission  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OPERATORS = os.path.join(HERE, "..", "..", "operators")

# file -> (settings, [(path, image) of each finding] per document; [] is accepted)
def preset(name):
    return {"presets": [name], "requireDigest": True}


with open(os.path.join(OPERATORS, "composed", "settings.json")) as f:
    COMPOSED = json.load(f)

EXPECTED = {
    "prometheus-operator.yaml": (preset("prometheus-operator"), [[
        ("spec.containers[1]", "quay.io/oauth2-proxy/oauth2-proxy:v7.9.0"),
        ("spec.image", "quay.io/prometheus/prometheus:v3.5.0"),
        ("spec.thanos.image", "quay.io/thanos/thanos:latest"),
    ], []]),
    "cloudnative-pg.yaml": (preset("cloudnative-pg"), [[
        ("spec.imageName", "ghcr.io/cloudnative-pg/postgresql:18.0-minimal-trixie"),
        ("spec.postgresql.extensions[0].image.reference", "ghcr.io/cloudnative-pg/postgis-extension:latest"),
    ], [], []]),
    "opentelemetry-operator.yaml": (preset("opentelemetry-operator"), [[
        ("spec.image", "ghcr.io/open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib:0.129.1"),
        ("spec.targetAllocator.image", "ghcr.io/open-telemetry/opentelemetry-operator/target-allocator:latest"),
    ], [
        ("spec.java.image", "ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-java:latest"),
    ], []]),
    "eck.yaml": (preset("eck"), [[
        ("spec.image", "docker.elastic.co/elasticsearch/elasticsearch:9.1.0"),
    ], []]),
    "crossplane.yaml": (preset("crossplane"), [[
        ("spec.package", "xpkg.crossplane.io/crossplane-contrib/provider-nop:v0.4.0"),
    ], [], []]),
    "kubevirt.yaml": (preset("kubevirt"), [[
        ("spec.template.spec.volumes[0].containerDisk.image", "quay.io/kubevirt/cirros-container-disk-demo:latest"),
    ], []]),
    "strimzi.yaml": (preset("strimzi"), [[
        ("spec.kafka.image", "quay.io/strimzi/kafka:0.48.0-kafka-4.1.0"),
        ("spec.entityOperator.userOperator.image", "quay.io/strimzi/operator:latest"),
    ], []]),
    "defaults.yaml": ({"presets": ["cloudnative-pg", "eck", "strimzi"], "requireDigest": True}, [[
        ("spec.imageName", None),
    ], [
        ("spec.image", None),
    ], [
        ("spec.kafka.image", None),
        ("spec.entityOperator.topicOperator.image", None),
        ("spec.entityOperator.userOperator.image", None),
    ], []]),
    "composed/gateway.yaml": (COMPOSED, [[
        ('metadata.annotations["example.com/sidecar-image"]', "docker.io/istio/proxyv2:1.27.0"),
        ("spec.tag", "docker.io/istio/proxyv2:1.27.0"),
    ], []]),
}

PLURAL = {"Prometheus": "prometheuses", "Alertmanager": "alertmanagers", "Cluster": "clusters",
          "ImageCatalog": "imagecatalogs", "Pooler": "poolers",
          "OpenTelemetryCollector": "opentelemetrycollectors",
          "Instrumentation": "instrumentations", "Elasticsearch": "elasticsearches",
          "Kibana": "kibanas", "Provider": "providers", "Function": "functions",
          "DeploymentRuntimeConfig": "deploymentruntimeconfigs",
          "VirtualMachine": "virtualmachines", "VirtualMachineInstance": "virtualmachineinstances",
          "Kafka": "kafkas", "KafkaBridge": "kafkabridges", "Gateway": "gateways"}


def main():
    for file, (settings, per_doc) in EXPECTED.items():
        with open(os.path.join(OPERATORS, file)) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        assert len(docs) == len(per_doc), file
        for i, (doc, images) in enumerate(zip(docs, per_doc)):
            name = file.removesuffix(".yaml").replace("/", "-") + f"-{i}"
            with open(os.path.join(HERE, name + ".json"), "w") as out:
                json.dump(admission.request(doc, PLURAL[doc["kind"]]), out, indent=2)
                out.write("\n")
            label = f"{doc['kind']} {doc['metadata']['name']} of operators/{file}"
            case = {"request": f"operators/{name}.json", "settings": settings}
            if images:
                n = len(images)
                noun = "image breaks" if n == 1 else "images break"
                message = [f"{n} container {noun} the image tag/digest contract"]
                message += [f"- {path} " for path, _ in images]
                message += [f'image "{image}"' for _, image in images if image]
                if not all(image for _, image in images):
                    message.append("not set: the operator runs its own default image here")
                case = {"name": f"every image of {label} is found", **case,
                        "allowed": False, "message": message}
            else:
                case = {"name": f"{label} is accepted: pinned, or patched by the operator",
                        **case, "allowed": True}
            sys.stdout.write("  - " + json.dumps(case) + "\n")


main()
