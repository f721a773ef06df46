import FerryKube
import Testing

@testable import FerryCoordinator

/// Where the exposer looks for a pause pod's volume on its node: under the kubelet plugin that
/// attached the volume the claim was bound to.
@Suite struct KubeletPathTests {
    func volume(_ spec: JSONValue) -> PersistentVolumeView? {
        var object = KubeObject(apiVersion: "v1", kind: "PersistentVolume", name: "pv-1")
        object.json["spec"] = spec
        return PersistentVolumeView(object)
    }

    @Test func csiVolumesAreUnderTheCSIPluginAndItsMountDirectory() {
        let csi = volume(["csi": ["driver": "hostpath.csi.k8s.io", "volumeHandle": "h"]])
        #expect(
            SnapshotExposer.kubeletPath(root: "/k", podUID: "u", volume: csi, name: "pv-1", block: true, diskImage: false)
                == "/k/pods/u/volumeDevices/kubernetes.io~csi/pv-1")
        #expect(
            SnapshotExposer.kubeletPath(root: "/k", podUID: "u", volume: csi, name: "pv-1", block: false, diskImage: true)
                == "/k/pods/u/volumes/kubernetes.io~csi/pv-1/mount/disk.img")
    }

    @Test func localVolumesAreUnderTheLocalVolumePluginWithoutAMountDirectory() {
        let local = volume(["local": ["path": "/dev/loop3"]])
        #expect(
            SnapshotExposer.kubeletPath(root: "/k", podUID: "u", volume: local, name: "pv-1", block: true, diskImage: false)
                == "/k/pods/u/volumeDevices/kubernetes.io~local-volume/pv-1")
        #expect(
            SnapshotExposer.kubeletPath(root: "/k", podUID: "u", volume: local, name: "pv-1", block: false, diskImage: true)
                == "/k/pods/u/volumes/kubernetes.io~local-volume/pv-1/disk.img")
    }
}
