#!/usr/bin/env python3
"""Writes Tests/Fixtures/kube/openapi/definitions-v1.33.0.json.gz: the Kubernetes v1.33 API
definitions as OpenAPI v3 schemas, for the API test server's /openapi/v3 documents and its
server-side field validation of built-in kinds.

Source: the PyPI package kubernetes-validate (its kubernetes-json-schema/v1.33.0-local/
_definitions.json, 707 definitions converted from the Kubernetes OpenAPI spec to JSON Schema).
This script undoes that conversion:
- "type": [T, "null"] becomes "type": T (OpenAPI has no null type; the fields are optional);
- "$ref": "#/$defs/X" becomes "#/components/schemas/X", and a $ref with siblings (a
  description) is wrapped as {"allOf": [{"$ref": ...}], ...}, the form kube-apiserver publishes;
- the enums the conversion put on apiVersion and kind of top-level kinds are removed;
- IntOrString regains "format": "int-or-string" next to its oneOf (integer, string).

Usage: python3 scripts/openapi-definitions.py [path/to/_definitions.json]
(without an argument, the installed kubernetes-validate package is used).
"""
import gzip
import json
import os
import sys

VERSION = "v1.33.0"
OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "kube", "openapi",
                   f"definitions-{VERSION}.json.gz")


def source_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    import kubernetes_validate
    base = os.path.dirname(kubernetes_validate.__file__)
    return os.path.join(base, "kubernetes-json-schema", f"{VERSION}-local", "_definitions.json")


def convert(node):
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            kinds = [kind for kind in value if kind != "null"]
            out[key] = kinds[0] if len(kinds) == 1 else kinds
        elif key == "$ref":
            out[key] = value.replace("#/$defs/", "#/components/schemas/")
        elif key == "properties":
            out[key] = {name: convert(schema) for name, schema in value.items()}
        else:
            out[key] = convert(value)
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}]
    return out


def main():
    with open(source_path()) as handle:
        definitions = json.load(handle)["$defs"]
    converted = {name: convert(schema) for name, schema in definitions.items()}
    for schema in converted.values():
        if "x-kubernetes-group-version-kind" not in schema:
            continue
        for field in ("apiVersion", "kind"):
            schema.get("properties", {}).get(field, {}).pop("enum", None)
    converted["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {
        "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
    data = json.dumps(converted, sort_keys=True, separators=(",", ":")).encode()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as handle:
        handle.write(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{len(converted)} definitions, {len(data)} bytes, written to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
