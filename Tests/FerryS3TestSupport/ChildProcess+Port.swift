import FerryTestSupport
import Foundation

extension ChildProcess {
    /// Waits until something accepts connections on 127.0.0.1:`port`, or the process died.
    public func waitForPort(_ port: Int, attempts: Int = 600) throws {
        for _ in 0..<attempts {
            if let socket = try? Socket.connect(port: port) {
                socket.close()
                return
            }
            if !isRunning {
                let name = process.executableURL?.lastPathComponent ?? "process"
                throw TestServerError.setup("\(name) exited before listening on \(port): \(log.suffix(2000))")
            }
            usleep(50_000)
        }
        throw TestServerError.timeout("nothing listened on port \(port): \(log.suffix(2000))")
    }
}
