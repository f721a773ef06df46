import FerryKubeTestServer
import FerryTestSupport

typealias Fixtures = KubeFixtures
typealias TemporaryDirectory = FerryTestSupport.TemporaryDirectory
