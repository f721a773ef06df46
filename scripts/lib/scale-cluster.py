#!/usr/bin/env python3
"""Writes the manifests of a synthetic cluster for the control-plane scale benchmark.

Usage: scale-cluster.py DIR NAMESPACES [CLAIMS_PER_NAMESPACE] [CONFIGMAPS_PER_NAMESPACE]

Each namespace `app-N` holds CLAIMS Block-mode claims (label tier=db) bound to local
PersistentVolumes on one of 8 nodes, and CONFIGMAPS ConfigMaps (label tier=db): the shape of
`ferry plan -A --selector tier=db` on a big cluster. One file per namespace, for
`ferry-testkube --load DIR`.
"""
import json
import os
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    directory, namespaces = sys.argv[1], int(sys.argv[2])
    claims = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    configmaps = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "000-storageclass.yaml"), "w") as out:
        json.dump({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-block"},
                   "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}, out)
    for n in range(namespaces):
        ns = f"app-{n:04d}"
        objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}]
        for c in range(claims):
            pv, claim, node = f"pv-{ns}-{c}", f"data-{c}", f"node-{(n * claims + c) % 8}"
            objects.append({
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                "spec": {"capacity": {"storage": "1Gi"}, "volumeMode": "Block", "accessModes": ["ReadWriteOnce"],
                         "storageClassName": "local-block", "local": {"path": f"/dev/disk/{pv}"},
                         "claimRef": {"namespace": ns, "name": claim},
                         "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                             {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}},
                "status": {"phase": "Bound"}})
            objects.append({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim, "namespace": ns, "labels": {"tier": "db"}},
                "spec": {"volumeMode": "Block", "accessModes": ["ReadWriteOnce"], "storageClassName": "local-block",
                         "volumeName": pv, "resources": {"requests": {"storage": "1Gi"}}},
                "status": {"phase": "Bound"}})
        for c in range(configmaps):
            objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": f"config-{c}", "namespace": ns, "labels": {"tier": "db"}},
                            "data": {"key": f"value-{c}"}})
        with open(os.path.join(directory, f"{ns}.yaml"), "w") as out:
            out.write("\n---\n".join(json.dumps(o) for o in objects) + "\n")


if __name__ == "__main__":
    main()
