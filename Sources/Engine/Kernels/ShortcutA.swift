/// ResNet "option A" shortcut over NHWC: keep every second row and column and zero-pad the channels,
/// PyTorch's `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))` with `p = planes / 4`.
public enum ShortcutA {
    /// Output height or width for an input of `size`: `⌈size / 2⌉`, as `x[::2]` gives.
    public static func outputSize(_ size: Int) -> Int { (size + 1) / 2 }

    /// `output[n, i, j, p + c] = input[n, 2i, 2j, c]`; the first and last `padding` channels are zero.
    ///
    /// - Parameters:
    ///   - input: N × H × W × C floats.
    ///   - output: N × ⌈H/2⌉ × ⌈W/2⌉ × (C + 2·padding) floats, overwritten.
    public static func forward(input: UnsafeBufferPointer<Float>, batch: Int, height: Int, width: Int,
                               channels: Int, padding: Int, output: UnsafeMutableBufferPointer<Float>,
                               pool: ThreadPool = .shared) {
        let oh = outputSize(height), ow = outputSize(width), oc = channels + 2 * padding
        check("ShortcutA.forward", input.count, output.count, batch, height, width, channels, padding)
        guard batch > 0 else { return }
        let x = input.baseAddress!, y = output.baseAddress!
        pool.parallelFor(count: batch * oh) { range in
            for row in range {
                let n = row / oh, i = row % oh
                for j in 0..<ow {
                    let dst = y + (row * ow + j) * oc
                    let src = x + ((n * height + 2 * i) * width + 2 * j) * channels
                    dst.update(repeating: 0, count: padding)
                    (dst + padding).update(from: src, count: channels)
                    (dst + padding + channels).update(repeating: 0, count: padding)
                }
            }
        }
    }

    /// `inputGradient[n, 2i, 2j, c] = outputGradient[n, i, j, p + c]`; odd rows and columns get zero.
    public static func backward(outputGradient: UnsafeBufferPointer<Float>, batch: Int, height: Int, width: Int,
                                channels: Int, padding: Int, inputGradient: UnsafeMutableBufferPointer<Float>,
                                pool: ThreadPool = .shared) {
        let oh = outputSize(height), ow = outputSize(width), oc = channels + 2 * padding
        check("ShortcutA.backward", inputGradient.count, outputGradient.count, batch, height, width, channels, padding)
        guard batch > 0 else { return }
        let dy = outputGradient.baseAddress!, dx = inputGradient.baseAddress!
        pool.parallelFor(count: batch * height) { range in
            for row in range {
                let n = row / height, h = row % height
                let dst = dx + row * width * channels
                guard h % 2 == 0 else {
                    dst.update(repeating: 0, count: width * channels)
                    continue
                }
                for w in 0..<width {
                    let d = dst + w * channels
                    if w % 2 == 0 {
                        d.update(from: dy + ((n * oh + h / 2) * ow + w / 2) * oc + padding, count: channels)
                    } else {
                        d.update(repeating: 0, count: channels)
                    }
                }
            }
        }
    }

    private static func check(_ op: String, _ input: Int, _ output: Int, _ batch: Int, _ height: Int,
                              _ width: Int, _ channels: Int, _ padding: Int) {
        precondition(batch >= 0 && height > 0 && width > 0 && channels > 0 && padding >= 0,
                     "\(op): invalid shape N\(batch) H\(height) W\(width) C\(channels) padding \(padding)")
        let expectedIn = batch * height * width * channels
        let expectedOut = batch * outputSize(height) * outputSize(width) * (channels + 2 * padding)
        precondition(input == expectedIn && output == expectedOut,
                     "\(op): N\(batch)×\(height)×\(width)×\(channels) padding \(padding) needs \(expectedIn) input and "
                        + "\(expectedOut) output floats, got \(input) and \(output)")
    }
}
