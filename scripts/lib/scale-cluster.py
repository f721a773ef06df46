#!/usr/bin/env python3
"""Writes the manifests of a synthetic cluster for the control-plane scale benchmarks.

Usage: scale-cluster.py DIR NAMESPACES [CLAIMS_PER_NAMESPACE] [CONFIGMAPS_PER_NAMESPACE]
                        [--nodes N] [--volumes-dir D] [--applications]

Each namespace `app-N` (label ferry-bench=scale) holds CLAIMS Block-mode claims (label tier=db)
bound to local PersistentVolumes spread over N nodes (default 8), and CONFIGMAPS ConfigMaps (label
tier=db): the shape of `ferry plan -A --selector tier=db` on a big cluster. One file per
namespace, for `ferry-testkube --load DIR`.

--volumes-dir D: each volume is a 1 MiB sparse file under D holding 4 KiB of data (tiny volumes,
so that a backup's cost is the control plane's).
--applications: also a Helm release (real release Secret, a Deployment, a Service and a ConfigMap
its manifest names) in every second namespace, a KubeVirt VirtualMachine on the namespace's first
claim in every fifth, and a custom resource of an operator's kind (bench.ferry.dev Widget) in
every tenth; the CustomResourceDefinitions go into 000-crds.yaml.
"""
import base64
import gzip
import json
import os
import sys

VOLUME_SIZE = 1 << 20


def namespaced(kind, api_version, name, namespace, **fields):
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}, **fields}


def helm_release(namespace, name):
    """A deployed Helm release as helm 3/4 stores it: a Secret whose `release` is base64(gzip(JSON))."""
    labels = {"app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "Helm"}
    annotations = {"meta.helm.sh/release-name": name, "meta.helm.sh/release-namespace": namespace}
    objects = [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": f"{name}-web", "namespace": namespace, "labels": labels, "annotations": annotations},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": f"{name}-web"}},
                  "template": {"metadata": {"labels": {"app": f"{name}-web"}},
                               "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": f"{name}-web", "namespace": namespace, "labels": labels, "annotations": annotations},
         "spec": {"selector": {"app": f"{name}-web"}, "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"{name}-settings", "namespace": namespace, "labels": labels, "annotations": annotations},
         "data": {"mode": "fast"}},
    ]
    manifest = "".join(f"---\n# Source: shop/templates/{o['kind'].lower()}.yaml\n{json.dumps(o)}\n" for o in objects)
    release = {"name": name, "namespace": namespace, "version": 1,
               "info": {"status": "deployed", "first_deployed": "2026-12-01T00:00:00Z",
                        "last_deployed": "2026-12-01T00:00:00Z", "description": "Install complete"},
               "chart": {"metadata": {"name": "shop", "version": "1.0.0", "apiVersion": "v2"}},
               "config": {}, "manifest": manifest}
    encoded = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
              "metadata": {"name": f"sh.helm.release.v1.{name}.v1", "namespace": namespace,
                           "labels": {"owner": "helm", "name": name, "status": "deployed", "version": "1"}},
              "data": {"release": base64.b64encode(encoded.encode()).decode()}}
    return objects + [secret]


def crds():
    widget = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.bench.ferry.dev"},
        "spec": {"group": "bench.ferry.dev", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "Tests", "Fixtures", "kube", "crds", "kubevirt.yaml")) as f:
        kubevirt = f.read()
    return json.dumps(widget) + "\n---\n" + kubevirt


def main():
    arguments = [a for a in sys.argv[1:]]
    options = {"--nodes": "8", "--volumes-dir": None}
    applications = "--applications" in arguments
    arguments = [a for a in arguments if a != "--applications"]
    positional = []
    while arguments:
        argument = arguments.pop(0)
        if argument in options:
            if not arguments:
                sys.exit(f"{argument} needs a value")
            options[argument] = arguments.pop(0)
        elif argument.startswith("--"):
            sys.exit(f"unknown option {argument}\n{__doc__}")
        else:
            positional.append(argument)
    if len(positional) < 2:
        sys.exit(__doc__)
    directory, namespaces = positional[0], int(positional[1])
    claims = int(positional[2]) if len(positional) > 2 else 10
    configmaps = int(positional[3]) if len(positional) > 3 else 10
    nodes, volumes = int(options["--nodes"]), options["--volumes-dir"]
    os.makedirs(directory, exist_ok=True)
    if volumes:
        os.makedirs(volumes, exist_ok=True)
    with open(os.path.join(directory, "000-storageclass.yaml"), "w") as out:
        json.dump({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-block"},
                   "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}, out)
    if applications:
        with open(os.path.join(directory, "000-crds.yaml"), "w") as out:
            out.write(crds())
    for n in range(namespaces):
        ns = f"app-{n:04d}"
        objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"ferry-bench": "scale"}}}]
        for c in range(claims):
            pv, claim, node = f"pv-{ns}-{c}", f"data-{c}", f"node-{(n * claims + c) % nodes}"
            path = f"/dev/disk/{pv}"
            if volumes:
                path = os.path.join(volumes, pv)
                with open(path, "wb") as f:
                    f.write(os.urandom(4096))
                    f.truncate(VOLUME_SIZE)
            objects.append({
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                "spec": {"capacity": {"storage": "1Mi" if volumes else "1Gi"}, "volumeMode": "Block", "accessModes": ["ReadWriteOnce"],
                         "storageClassName": "local-block", "local": {"path": path},
                         "claimRef": {"namespace": ns, "name": claim},
                         "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                             {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}},
                "status": {"phase": "Bound"}})
            objects.append({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim, "namespace": ns, "labels": {"tier": "db"}},
                "spec": {"volumeMode": "Block", "accessModes": ["ReadWriteOnce"], "storageClassName": "local-block",
                         "volumeName": pv, "resources": {"requests": {"storage": "1Mi" if volumes else "1Gi"}}},
                "status": {"phase": "Bound"}})
        for c in range(configmaps):
            objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": f"config-{c}", "namespace": ns, "labels": {"tier": "db"}},
                            "data": {"key": f"value-{c}"}})
        if applications and n % 2 == 0:
            objects += helm_release(ns, "shop")
        if applications and n % 5 == 0 and claims > 0:
            objects.append(namespaced(
                "VirtualMachine", "kubevirt.io/v1", "vm", ns,
                spec={"runStrategy": "Halted", "template": {"spec": {
                    "domain": {"devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]}},
                    "volumes": [{"name": "root", "persistentVolumeClaim": {"claimName": "data-0"}}]}}}))
        if applications and n % 10 == 0:
            objects.append(namespaced("Widget", "bench.ferry.dev/v1", "widget", ns, spec={"size": n}))
        with open(os.path.join(directory, f"{ns}.yaml"), "w") as out:
            out.write("\n---\n".join(json.dumps(o) for o in objects) + "\n")


if __name__ == "__main__":
    main()
