import CKernels
import Foundation

/// Which inner loops the convolution kernels run.
///
/// The register tiles for wider instruction sets are C functions in `CKernels` compiled with
/// per-function target attributes; Swift calls them only after a cpuid + xgetbv check says the CPU
/// has the instructions and the OS saves their registers. The portable Swift SIMD tiles run
/// everywhere and stay as the fallback (and the reference the others are tested against).
public enum ConvKernelSet: String, Sendable, CaseIterable {
    /// The portable Swift SIMD tiles (SSE on x86-64 without `-target-cpu`): every CPU.
    case portable
    /// AVX2 + FMA tiles: 8-wide fused multiply-adds, 6 pixels × 16 output channels.
    case avx2
    /// AVX-512 tiles: 16-wide fused multiply-adds, 12 pixels × 16 output channels.
    case avx512

    /// True when this CPU and its OS can run the set.
    public var isSupported: Bool {
        switch self {
        case .portable: return true
        case .avx2: return ConvKernelSet.hasAVX2
        case .avx512: return ConvKernelSet.hasAVX512
        }
    }

    private static let hasAVX2 = sbcl_cpu_has_avx2_fma() != 0
    private static let hasAVX512 = sbcl_cpu_has_avx512() != 0

    /// Every set this machine can run, narrowest first.
    public static var supported: [ConvKernelSet] { allCases.filter(\.isSupported) }

    /// The widest set this machine can run: the default of `ConvKernels`.
    public static var widest: ConvKernelSet { supported.last ?? .portable }

    /// The set a name asks for (`portable`, `avx2` or `avx512`, any case; the executables read it
    /// from `SBCL_KERNELS`), or why it cannot be used here — refused before any work rather than
    /// crashing on an illegal instruction later.
    public static func resolve(_ name: String) -> Result<ConvKernelSet, KernelSetError> {
        guard let set = ConvKernelSet(rawValue: name.lowercased()) else {
            return .failure(KernelSetError("SBCL_KERNELS=\(name) is not a kernel set; use portable, avx2 or avx512"))
        }
        guard set.isSupported else {
            let available = supported.map(\.rawValue).joined(separator: ", ")
            return .failure(KernelSetError(
                "SBCL_KERNELS=\(name): this CPU or its OS cannot run the \(name) tiles (available here: \(available))"))
        }
        return .success(set)
    }
}

/// Why an `SBCL_KERNELS` value was refused.
public struct KernelSetError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The register-tile geometry of a wide kernel set, and its two C tile functions.
struct WideTiles {
    let set: ConvKernelSet
    /// Output channels per packed weight block (one tile's width).
    let width: Int
    /// Output pixels per convolution tile.
    let rows: Int
    /// Input channels per weight-gradient tile.
    let weightRows: Int

    /// The tiles of `set` (`avx2` or `avx512`). Both take 16 output channels per tile: AVX-512 fills its 32 registers with 12 pixels (one
    /// vector each); 12 pixels × 32 channels measured at half the speed (see conv_avx512.c).
    init(_ set: ConvKernelSet) {
        precondition(set != .portable, "the portable set has no wide tiles")
        self.set = set
        if set == .avx512 {
            width = 16
            rows = 12
            weightRows = 12
        } else {
            width = 16
            rows = 6
            weightRows = 6
        }
    }

    /// Most pointers a tile call takes (the pointer table needs room for twice this).
    static let maximumRows = 12

    @inline(__always)
    func conv(_ inputs: UnsafePointer<UnsafePointer<Float>?>, pixels: Int, offsets: UnsafePointer<Int>, taps: Int,
              channels: Int, weights: UnsafePointer<Float>, outputs: UnsafePointer<UnsafeMutablePointer<Float>?>, lanes: Int) {
        if set == .avx512 {
            sbcl_conv_tile_avx512(inputs, Int32(pixels), offsets, Int32(taps), Int32(channels), weights, Int32(width),
                                  outputs, Int32(lanes))
        } else {
            sbcl_conv_tile_avx2(inputs, Int32(pixels), offsets, Int32(taps), Int32(channels), weights, outputs, Int32(lanes))
        }
    }

    @inline(__always)
    func weightTile(input: UnsafePointer<Float>, rowStep: Int, pixelStep: Int, rows: Int, columns: Int, channels: Int,
                    gradient: UnsafePointer<Float>, gradientStride: Int, partial: UnsafeMutablePointer<Float>, partialStride: Int) {
        if set == .avx512 {
            sbcl_conv_weight_tile_avx512(input, rowStep, pixelStep, Int32(rows), Int32(columns), Int32(channels), gradient,
                                         gradientStride, Int32(width), partial, partialStride)
        } else {
            sbcl_conv_weight_tile_avx2(input, rowStep, pixelStep, Int32(rows), Int32(columns), Int32(channels), gradient,
                                       gradientStride, partial, partialStride)
        }
    }
}
