import XCTest
@testable import Engine

final class MT19937Tests: XCTestCase {
    /// numpy: np.random.RandomState(0).randint(0, 2**32, size=3, dtype=np.uint64) draws raw words.
    func testMatchesReferenceFirstWords() {
        var g = MT19937(seed: 5489)
        // The C reference's first outputs for its default seed 5489.
        XCTAssertEqual([g.nextUInt32(), g.nextUInt32(), g.nextUInt32()], [3_499_211_612, 581_869_302, 3_890_346_734])
    }

    func testNumpyRandomSample() {
        var g = MT19937(seed: 0)
        // np.random.RandomState(0).random_sample(2)
        XCTAssertEqual(g.nextDouble(), 0.5488135039273248, accuracy: 0)
        XCTAssertEqual(g.nextDouble(), 0.7151893663724195, accuracy: 0)
    }
}
