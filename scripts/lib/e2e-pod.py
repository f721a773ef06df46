#!/usr/bin/env python3
"""Plays the kubelet for one of Ferry's own pods in the cluster in a box (scripts/e2e.sh).

Reads the workload the chart installed (a Deployment or DaemonSet, as `kubectl get -o json`
prints it) and replaces itself (exec) with its first container, run as the kubelet would run it:

  container  `podman run` of the image with the container's security context (user, read-only
             root, privileged, capabilities, no privilege escalation), its hostPath volumes at the
             same host paths, emptyDir volumes as tmpfs, the service account's token, CA and
             namespace where in-cluster clients look, and the pod's environment (fieldRef values
             included). The network is the host's: every server listens on 127.0.0.1.
  process    the `ferry` binary with the chart's arguments and environment, on the host itself
             (no /host prefix: it is "on the node"), authenticated by the same service account
             token through a kubeconfig.

The chart's metrics address (every interface) becomes 127.0.0.1:--metrics-port. A field of the
container this script does not know how to honour is an error, never silently dropped.
"""
import argparse
import json
import os
import sys

KNOWN_CONTEXT = {"runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem", "privileged",
                 "allowPrivilegeEscalation", "capabilities"}
KNOWN_CONTAINER = {"name", "image", "imagePullPolicy", "args", "env", "ports", "securityContext", "resources",
                   "volumeMounts", "livenessProbe", "readinessProbe"}
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def fail(message):
    print(f"e2e-pod: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", required=True, help="the workload's JSON file")
    parser.add_argument("--mode", choices=["container", "process"], required=True)
    parser.add_argument("--pod-name", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--service-account-dir", required=True, help="token, ca.crt, namespace")
    parser.add_argument("--api-port", required=True)
    parser.add_argument("--metrics-port", required=True)
    parser.add_argument("--state-dir", required=True, help="the pod's emptyDir volumes live here (process mode)")
    parser.add_argument("--podman", help="the podman command (container mode)")
    parser.add_argument("--ferry", help="the ferry binary (process mode)")
    args = parser.parse_args()

    with open(args.workload) as f:
        workload = json.load(f)
    pod = workload["spec"]["template"]["spec"]
    container = pod["containers"][0]
    unknown = set(container) - KNOWN_CONTAINER
    if unknown:
        fail(f"{workload['kind']} {workload['metadata']['name']}: container fields {sorted(unknown)} are not played")
    namespace = workload["metadata"]["namespace"]
    fields = {"metadata.name": args.pod_name, "metadata.namespace": namespace, "spec.nodeName": args.node,
              "spec.serviceAccountName": pod.get("serviceAccountName", "default")}

    arguments = []
    for argument in container.get("args", []):
        if argument.startswith("--metrics-address="):
            argument = f"--metrics-address=127.0.0.1:{args.metrics_port}"
        if args.mode == "process" and argument == "--host-root=/host":
            continue  # on the node itself: its own root
        arguments.append(argument)

    environment = {}
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        elif "fieldRef" in variable.get("valueFrom", {}):
            path = variable["valueFrom"]["fieldRef"]["fieldPath"]
            if path not in fields:
                fail(f"environment {variable['name']} refers to pod field {path}, which is not played")
            environment[variable["name"]] = fields[path]
        else:
            fail(f"environment {variable['name']}: only values and fieldRefs are played")

    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    mounts = []
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"]) or fail(f"volume {mount['name']} is mounted but not declared")
        if "hostPath" in volume:
            mounts.append(("host", volume["hostPath"]["path"], mount))
        elif "emptyDir" in volume:
            mounts.append(("empty", os.path.join(args.state_dir, mount["name"]), mount))
        else:
            fail(f"volume {mount['name']} is neither hostPath nor emptyDir")

    if args.mode == "process":
        run_process(args, arguments, environment, mounts)
    else:
        run_container(args, pod, container, arguments, environment, mounts)


def run_process(args, arguments, environment, mounts):
    # The emptyDir mounts (cache, /tmp) become directories of the pod's own.
    for kind, path, mount in mounts:
        if kind == "empty":
            os.makedirs(path, exist_ok=True)
            for name, value in list(environment.items()):
                if value == mount["mountPath"]:
                    environment[name] = path
    with open(os.path.join(args.service_account_dir, "token")) as f:
        token = f.read().strip()
    kubeconfig = os.path.join(args.state_dir, "kubeconfig")
    with open(kubeconfig, "w") as f:
        json.dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "pod",
            "clusters": [{"name": "box", "cluster": {
                "server": f"https://127.0.0.1:{args.api_port}",
                "certificate-authority": os.path.join(args.service_account_dir, "ca.crt")}}],
            "users": [{"name": "pod", "user": {"token": token}}],
            "contexts": [{"name": "pod", "context": {"cluster": "box", "user": "pod"}}],
        }, f)
    os.chmod(kubeconfig, 0o600)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KUBECONFIG": kubeconfig}
    env.update(environment)
    os.execve(args.ferry, [args.ferry] + arguments, env)


def run_container(args, pod, container, arguments, environment, mounts):
    context = container.get("securityContext", {})
    pod_context = pod.get("securityContext", {})
    unknown = set(context) - KNOWN_CONTEXT
    if unknown:
        fail(f"securityContext fields {sorted(unknown)} are not played")
    options = ["run", "--rm", "--name", args.pod_name, "--network", "host", "--stop-timeout", "10"]
    uid = context.get("runAsUser", pod_context.get("runAsUser"))
    gid = context.get("runAsGroup", pod_context.get("runAsGroup"))
    if uid is not None:
        options += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) and uid == 0:
        fail("runAsNonRoot with runAsUser 0")
    if "fsGroup" in pod_context:
        options += ["--group-add", str(pod_context["fsGroup"])]
    if context.get("readOnlyRootFilesystem"):
        options += ["--read-only", "--read-only-tmpfs=false"]
    if context.get("privileged"):
        options.append("--privileged")
    if context.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    for capability in context.get("capabilities", {}).get("drop", []):
        options += ["--cap-drop", capability]
    for capability in context.get("capabilities", {}).get("add", []):
        options += ["--cap-add", capability]
    for kind, path, mount in mounts:
        if kind == "host":
            flags = ["ro" if mount.get("readOnly") else "rw"]
            if mount.get("mountPropagation") == "HostToContainer":
                flags.append("rslave")
            options += ["--volume", f"{path}:{mount['mountPath']}:{','.join(flags)}"]
        else:
            options += ["--tmpfs", f"{mount['mountPath']}:rw,mode=0777"]
    options += ["--volume", f"{args.service_account_dir}:{SERVICE_ACCOUNT_DIR}:ro"]
    environment.update({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(args.api_port)})
    for name in sorted(environment):
        options += ["--env", f"{name}={environment[name]}"]
    command = [args.podman] + options + [container["image"]] + arguments
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
