import ArgumentParser
import FerryRepo

extension Compression: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }

    public static var defaultCompletionKind: CompletionKind { .list(["lz4", "zstd"]) }
}
