/// Depth-first walks of the stage graph, iterative so a hostile chain of thousands of stages
/// cannot exhaust the stack.
enum StageGraph {
    /// A topological order (inputs before consumers; otherwise file order, each stage's inputs in
    /// listed order) and every cycle found, each as the path `a -> b -> a`.
    static func walk(names: [String], inputs: [String: [String]]) -> (order: [String], cycles: [[String]]) {
        var state: [String: Int] = [:]  // 1 on the current path, 2 finished
        var order: [String] = []
        var cycles: [[String]] = []
        for root in names where state[root] == nil {
            // Each frame: a stage and the index of its next input to visit.
            var stack: [(name: String, next: Int)] = [(root, 0)]
            state[root] = 1
            while !stack.isEmpty {
                let (name, next) = stack[stack.count - 1]
                let children = inputs[name] ?? []
                if next < children.count {
                    stack[stack.count - 1].next += 1
                    let child = children[next]
                    guard inputs[child] != nil else { continue }  // unknown names are reported elsewhere
                    switch state[child] {
                    case nil:
                        state[child] = 1
                        stack.append((child, 0))
                    case 1?:
                        let path = stack.map(\.name)
                        cycles.append(Array(path[path.lastIndex(of: child)!...]) + [child])
                    default:
                        break
                    }
                } else {
                    stack.removeLast()
                    state[name] = 2
                    order.append(name)
                }
            }
        }
        return (order, cycles)
    }
}
