import FerryKubeTestServer

typealias Fixtures = KubeFixtures
typealias TemporaryDirectory = KubeScratchDirectory
