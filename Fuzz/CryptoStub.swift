// Stands in for swift-crypto's SHA256 in the recipe fuzz build (scripts/fuzz.sh), compiled as
// a module named Crypto: an FNV-1a-based 32-byte digest, deterministic and fast. Not a
// cryptographic hash; nothing but the fuzz target uses it.
import Foundation

public struct SHA256 {
    private var state: [UInt64] = [0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4, 0x1000_0000_01b3, 0x01b3_1000_0000]

    public init() {}

    public mutating func update(data: Data) {
        for byte in data {
            for lane in 0..<4 { state[lane] = (state[lane] ^ UInt64(byte &+ UInt8(lane))) &* 0x100_0000_01b3 }
        }
    }

    public func finalize() -> [UInt8] {
        state.flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
    }

    public static func hash(data: Data) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: data)
        return hasher.finalize()
    }
}
