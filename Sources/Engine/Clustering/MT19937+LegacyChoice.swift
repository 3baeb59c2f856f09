extension MT19937 {
    /// `count` distinct indices of 0..<population as `np.random.choice(population, count,
    /// replace=False)` returns them from a legacy `RandomState`: the first `count` entries of
    /// `permutation(population)`, which is the legacy shuffle of 0..<population.
    mutating func legacyChoiceWithoutReplacement(population: Int, count: Int) -> [Int] {
        precondition(count >= 0 && count <= population,
                     "MT19937.legacyChoiceWithoutReplacement: \(count) of \(population) without replacement")
        var values = Array(0..<population)
        shuffle(&values)
        return Array(values.prefix(count))
    }
}
