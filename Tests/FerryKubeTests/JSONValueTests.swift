import FerryKube
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func parsesScalarsWithExactIntegers() throws {
        let value = try JSONValue(parsing: #"{"a": 9223372036854775807, "b": -1.5e3, "c": 1e400, "d": true, "e": null, "f": "x"}"#)
        #expect(value["a"] == .int(Int64.max))
        #expect(value["b"] == .double(-1500))
        #expect(value["c"]?.doubleValue == .infinity)
        #expect(value["d"] == .bool(true))
        #expect(value["e"] == .null)
        #expect(value["f"] == "x")
        // Past Int64 a number is a double, not a wrapped integer.
        #expect(try JSONValue(parsing: "9223372036854775808") == .double(9223372036854775808))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue(parsing: #""a\"b\\c\/d\n\u00e9\ud83d\ude00""#)
        #expect(value == .string("a\"b\\c/d\né😀"))
        let round = try JSONValue(parsing: value.serialized())
        #expect(round == value)
    }

    @Test(arguments: [
        ("", "unexpected end of input"), ("{", "expected a member name"), (#"{"a" 1}"#, "expected ':'"),
        ("[1,]", "unexpected character"), ("01", "leading zero"), (#""\ud800""#, "unpaired surrogate"),
        ("nul", "unexpected end"), (#""a"#, "unterminated string"), ("1 2", "unexpected data after"),
        ("\"\u{01}\"", "control character"), ("-", "invalid number"),
    ])
    func rejectsInvalidInputWithAReason(input: String, reason: String) {
        do {
            _ = try JSONValue(parsing: input)
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.message.contains(reason), "\(error)")
        }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22, 0xFF, 0x22]) }
    }

    @Test func limitsNestingDepth() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        _ = try JSONValue(parsing: fine)
    }

    @Test func serializesDeterministicallyWithSortedKeys() throws {
        let value: JSONValue = ["b": 1, "a": ["z": .null, "y": [true, 2.5, "q\u{7}"]]]
        #expect(value.serializedString() == #"{"a":{"y":[true,2.5,"q\u0007"],"z":null},"b":1}"#)
    }

    @Test func everyRecordedJSONFixtureParsesAndRoundTrips() throws {
        let directories = ["discovery", "objects/kubeclient-recorded", "objects/kubectl-neat"]
        var count = 0
        for directory in directories {
            for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.url(directory).path) where name.hasSuffix(".json") {
                // These two are deliberately not single JSON documents.
                if ["watch_stream.json", "service_illegal_json_404.json"].contains(name) { continue }
                let value = try Fixtures.json("\(directory)/\(name)")
                #expect(try JSONValue(parsing: value.serialized()) == value, "\(name)")
                count += 1
            }
        }
        #expect(count >= 25)
    }

    @Test func pathAccessorsAndMutation() {
        var value: JSONValue = [:]
        value.setValue("x", at: ["metadata", "labels", "app"])
        #expect(value.value(at: ["metadata", "labels", "app"]) == "x")
        value.setValue(nil, at: ["metadata", "labels", "app"])
        #expect(value["metadata"]?["labels"] == .object([:]))
    }
}
