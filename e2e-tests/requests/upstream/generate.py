"""Writes the AdmissionRequests of the manifests in ../../upstream/ (each written from a
project's own published example) and prints their cases for ../../cases.yaml:
  python3 e2e-tests/requests/upstream/generate.py > /tmp/cases.yaml

Every case runs with its preset on and requireDigest: true, so each image the kubelet would
pull must be found (a tag-only image is then a finding): the checker, the wasm and kwctl
must all name it at its own path."""

import json
import os
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import admission  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM = os.path.join(HERE, "..", "..", "upstream")

# file -> (preset, [(path of each image, image)] per document)
EXPECTED = {
    "argo-dag-inline.yaml": ("argo-workflows", [[
        ("spec.templates[0].dag.tasks[0].inline.container.image", "argoproj/argosay:v2"),
    ]]),
    "argo-steps-inline.yaml": ("argo-workflows", [[
        ("spec.templates[0].steps[0][0].inline.container.image", "argoproj/argosay:v2"),
        ("spec.templates[0].steps[1][0].inline.script.image", "python:alpine3.6"),
    ]]),
    "tekton-pipelines-in-pipelines.yaml": ("tekton-pipelines", [[
        ("spec.tasks[0].pipelineSpec.tasks[0].taskSpec.steps[0].image", "mirror.gcr.io/busybox"),
    ]]),
    "tekton-pipelinerun-nested.yaml": ("tekton-pipelines", [[
        ("spec.pipelineSpec.tasks[0].pipelineSpec.finally[0].taskSpec.steps[0].image", "mirror.gcr.io/busybox:latest"),
        ("spec.pipelineSpec.tasks[0].pipelineSpec.tasks[0].pipelineSpec.tasks[0].taskSpec.steps[0].image", "mirror.gcr.io/busybox:1.36"),
    ]]),
    "tekton-stepaction.yaml": ("tekton-pipelines", [[("spec.image", "bash:3.2")]]),
    "rollouts-analysis-templates.yaml": ("argo-rollouts", [
        [("spec.metrics[0].provider.job.spec.template.spec.containers[0]", "alpine:3.8")],
        [("spec.metrics[0].provider.job.spec.template.spec.containers[0]", "alpine:3.8")],
    ]),
    "rollouts-experiment.yaml": ("argo-rollouts", [[
        ("spec.templates[0].template.spec.containers[0]", "argoproj/rollouts-demo:blue"),
        ("spec.templates[1].template.spec.containers[0]", "argoproj/rollouts-demo:yellow"),
    ]]),
}

PLURAL = {"Workflow": "workflows", "Pipeline": "pipelines", "PipelineRun": "pipelineruns",
          "StepAction": "stepactions", "AnalysisTemplate": "analysistemplates",
          "ClusterAnalysisTemplate": "clusteranalysistemplates", "Experiment": "experiments"}


def main():
    for file, (preset, per_doc) in EXPECTED.items():
        with open(os.path.join(UPSTREAM, file)) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        assert len(docs) == len(per_doc), file
        for i, (doc, images) in enumerate(zip(docs, per_doc)):
            name = file.removesuffix(".yaml") + (f"-{i}" if len(docs) > 1 else "")
            with open(os.path.join(HERE, name + ".json"), "w") as out:
                json.dump(admission.request(doc, PLURAL[doc["kind"]]), out, indent=2)
                out.write("\n")
            n = len(images)
            noun = "image breaks" if n == 1 else "images break"
            message = [f"{n} container {noun} the image tag/digest contract"]
            message += [f"- {path} " for path, _ in images]
            message += [f'image "{image}"' for _, image in images]
            case = {"name": f"{preset} finds every image of upstream {name}",
                    "request": f"upstream/{name}.json",
                    "settings": {"presets": [preset], "requireDigest": True},
                    "allowed": False, "message": message}
            sys.stdout.write("  - " + json.dumps(case) + "\n")


main()
