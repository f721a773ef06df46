#!/usr/bin/env python3
"""Writes the manifests of the agents-at-scale benchmark (scripts/lib/bench-agents.sh) for
`ferry-testkube --load DIR`.

Usage: agents-cluster.py DIR --volumes LIST [--path REPO | --s3 ENDPOINT,BUCKET,PREFIX]
                         [--ranges N] [--minimum-range-size Q]

Namespace db holds one Block claim `data-N` (label app=db) per line of LIST (a file of device
or image paths), each bound to a local PersistentVolume on node-1 whose path is that line; the
repository's password Secret; Target `repo` (a local directory, or S3 with the credentials
Secret `s3-credentials` from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); and BackupPlan `db`
over the claims, split into up to N ranges of at least Q when --ranges is given. The repository
must exist already (the Target does not initialize it: the benchmark chooses its format).
"""
import argparse
import base64
import json
import os


def b64(text):
    return base64.b64encode(text.encode()).decode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--volumes", required=True, help="a file: one device or image path a line")
    parser.add_argument("--path", help="the Target's local repository directory")
    parser.add_argument("--s3", help="ENDPOINT,BUCKET,PREFIX of the Target's S3 repository")
    parser.add_argument("--ranges", type=int)
    parser.add_argument("--minimum-range-size", default="1Gi")
    parser.add_argument("--password", default="bench-password")
    args = parser.parse_args()
    if bool(args.path) == bool(args.s3):
        parser.error("give exactly one of --path and --s3")

    with open(args.volumes) as f:
        paths = [line.strip() for line in f if line.strip()]
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ferry"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "db"}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-block"},
         "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ferry-repository", "namespace": "db"},
         "data": {"password": b64(args.password)}},
    ]
    if args.path:
        target = {"path": args.path}
    else:
        endpoint, bucket, prefix = args.s3.split(",")
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-credentials", "namespace": "db"},
                        "data": {"AWS_ACCESS_KEY_ID": b64(os.environ["AWS_ACCESS_KEY_ID"]),
                                 "AWS_SECRET_ACCESS_KEY": b64(os.environ["AWS_SECRET_ACCESS_KEY"])}})
        target = {"s3": {"endpoint": endpoint, "bucket": bucket, "prefix": prefix, "addressing": "path",
                         "region": "us-east-1", "credentialsSecret": {"name": "s3-credentials"}}}
    target.update({"encryptionSecret": {"name": "ferry-repository"}, "initialize": False})
    objects.append({"apiVersion": "ferry.dev/v1alpha1", "kind": "Target", "metadata": {"name": "repo", "namespace": "db"},
                    "spec": target})
    plan = {"target": "repo", "components": {"labelSelector": {"matchLabels": {"app": "db"}}}}
    if args.ranges:
        plan["parallelism"] = {"rangesPerVolume": args.ranges, "minimumRangeSize": args.minimum_range_size}
    objects.append({"apiVersion": "ferry.dev/v1alpha1", "kind": "BackupPlan", "metadata": {"name": "db", "namespace": "db"},
                    "spec": plan})
    for n, path in enumerate(paths):
        size = os.stat(path).st_size if os.path.isfile(path) else 0
        if size == 0:
            with open(path, "rb") as device:
                size = device.seek(0, os.SEEK_END)
        quantity = f"{size // 1024}Ki"
        pv, claim = f"pv-data-{n}", f"data-{n}"
        objects.append({
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
            "spec": {"capacity": {"storage": quantity}, "volumeMode": "Block", "accessModes": ["ReadWriteOnce"],
                     "storageClassName": "local-block", "local": {"path": path},
                     "claimRef": {"namespace": "db", "name": claim},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-1"]}]}]}}},
            "status": {"phase": "Bound"}})
        objects.append({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": "db", "labels": {"app": "db"}},
            "spec": {"volumeMode": "Block", "accessModes": ["ReadWriteOnce"], "storageClassName": "local-block",
                     "volumeName": pv, "resources": {"requests": {"storage": quantity}}},
            "status": {"phase": "Bound", "capacity": {"storage": quantity}}})
    os.makedirs(args.directory, exist_ok=True)
    with open(os.path.join(args.directory, "zz-bench.yaml"), "w") as out:
        out.write("\n---\n".join(json.dumps(o) for o in objects) + "\n")


if __name__ == "__main__":
    main()
