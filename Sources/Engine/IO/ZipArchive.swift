/// The entries of a ZIP archive held in memory, as `torch.save` writes them (stored entries,
/// aligned data, ZIP64 records for large files). Deflated entries are refused: PyTorch never
/// compresses a checkpoint, and the engine carries no zlib.
struct ZipArchive {
    /// One file of the archive: where its data lies in the archive's bytes.
    struct Entry {
        var name: String
        var method: UInt16
        var dataRange: Range<Int>
    }

    let path: String
    let bytes: [UInt8]
    /// Entries in central-directory order.
    private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    /// Whether `bytes` starts like a ZIP archive (a local file header).
    static func isZip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4b && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    /// Reads the central directory of `bytes`; `path` names the file in errors.
    /// - Throws: `TensorFileError` for a truncated or inconsistent archive.
    init(bytes: [UInt8], path: String) throws {
        self.path = path
        self.bytes = bytes
        let (count, directoryOffset) = try Self.endOfDirectory(bytes, fail: fail)
        var cursor = directoryOffset
        // Every central entry takes at least 46 bytes: a declared count the file cannot hold is damage.
        guard count <= (bytes.count - min(directoryOffset, bytes.count)) / 46 else {
            throw fail(.truncated, "the ZIP directory declares \(count) entries but the file ends before them")
        }
        for _ in 0..<count {
            guard cursor + 46 <= bytes.count, u32(cursor) == 0x0201_4b50 else {
                throw fail(.truncated, "the ZIP directory is cut short or damaged at byte \(cursor)")
            }
            let method = u16(cursor + 10)
            var compressed = UInt64(u32(cursor + 20)), size = UInt64(u32(cursor + 24))
            let nameLength = Int(u16(cursor + 28)), extraLength = Int(u16(cursor + 30)), commentLength = Int(u16(cursor + 32))
            var localOffset = UInt64(u32(cursor + 42))
            let nameStart = cursor + 46
            guard nameStart + nameLength + extraLength + commentLength <= bytes.count else {
                throw fail(.truncated, "the ZIP directory entry at byte \(cursor) runs past the end of the file")
            }
            let name = String(decoding: bytes[nameStart..<nameStart + nameLength], as: UTF8.self)
            // ZIP64: the fields saturated at 0xffffffff are in the extra block 0x0001, in this order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = u16(extra), length = Int(u16(extra + 2))
                var field = extra + 4
                if id == 0x0001 {
                    func next() -> UInt64? {
                        guard field + 8 <= extra + 4 + length, field + 8 <= extraEnd else { return nil }
                        defer { field += 8 }
                        return u64(field)
                    }
                    if size == 0xffff_ffff, let v = next() { size = v }
                    if compressed == 0xffff_ffff, let v = next() { compressed = v }
                    if localOffset == 0xffff_ffff, let v = next() { localOffset = v }
                }
                extra += 4 + length
            }
            cursor = extraEnd + commentLength
            guard localOffset < UInt64(bytes.count), compressed <= UInt64(bytes.count) else {
                throw fail(.truncated, "entry '\(name)' lies past the end of the \(bytes.count)-byte file")
            }
            let local = Int(localOffset)
            guard local + 30 <= bytes.count, u32(local) == 0x0403_4b50 else {
                throw fail(.inconsistent, "entry '\(name)': no local header at byte \(local)")
            }
            let dataStart = local + 30 + Int(u16(local + 26)) + Int(u16(local + 28))
            let (dataEnd, overflow) = dataStart.addingReportingOverflow(Int(compressed))
            guard !overflow, dataEnd <= bytes.count else {
                throw fail(.truncated, "entry '\(name)' (\(compressed) bytes) runs past the end of the \(bytes.count)-byte file")
            }
            if method == 0, compressed != size {
                throw fail(.inconsistent, "stored entry '\(name)' declares \(size) bytes but holds \(compressed)")
            }
            index[name] = entries.count
            entries.append(Entry(name: name, method: method, dataRange: dataStart..<dataEnd))
        }
    }

    /// The bytes of the entry called `name`, or nil when there is none.
    /// - Throws: `TensorFileError.unsupported` for a compressed entry.
    func data(_ name: String) throws -> ArraySlice<UInt8>? {
        guard let k = index[name] else { return nil }
        let entry = entries[k]
        guard entry.method == 0 else {
            throw fail(.unsupported, "entry '\(name)' is compressed (ZIP method \(entry.method)); only stored entries are read, as torch.save writes them — re-save the file with torch.save")
        }
        return bytes[entry.dataRange]
    }

    private func fail(_ kind: TensorFileError.Kind, _ message: String) -> TensorFileError {
        TensorFileError(path: path, kind: kind, message: message)
    }

    /// The number of entries and the offset of the central directory, from the end records.
    private static func endOfDirectory(_ bytes: [UInt8], fail: (TensorFileError.Kind, String) -> TensorFileError) throws -> (Int, Int) {
        guard bytes.count >= 22 else { throw fail(.truncated, "the ZIP archive is \(bytes.count) bytes, too short for its end record") }
        let lowest = max(0, bytes.count - 22 - 65_535)
        var at = bytes.count - 22
        while at >= lowest, !(bytes[at] == 0x50 && bytes[at + 1] == 0x4b && bytes[at + 2] == 0x05 && bytes[at + 3] == 0x06) { at -= 1 }
        guard at >= lowest else {
            throw fail(.truncated, "no ZIP end-of-directory record: the file is cut short (an interrupted torch.save?)")
        }
        let read16 = { (i: Int) in Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        let read32 = { (i: Int) in UInt64(read16(i)) | UInt64(read16(i + 2)) << 16 }
        let read64 = { (i: Int) in read32(i) | read32(i + 4) << 32 }
        var count = UInt64(read16(at + 10)), offset = read32(at + 16)
        if count == 0xffff || offset == 0xffff_ffff {
            // ZIP64 locator just before the end record, pointing at the ZIP64 end record.
            let locator = at - 20
            guard locator >= 0, read32(locator) == 0x0706_4b50 else {
                throw fail(.inconsistent, "the ZIP end record asks for a ZIP64 record that is not there")
            }
            let record64 = read64(locator + 8)
            guard bytes.count >= 56, record64 <= UInt64(bytes.count - 56), read32(Int(record64)) == 0x0606_4b50 else {
                throw fail(.inconsistent, "the ZIP64 end record is missing or damaged")
            }
            count = read64(Int(record64) + 32)
            offset = read64(Int(record64) + 48)
        }
        guard offset <= UInt64(bytes.count), count <= UInt64(bytes.count) else {
            throw fail(.truncated, "the ZIP directory (at byte \(offset), \(count) entries) lies past the end of the \(bytes.count)-byte file")
        }
        return (Int(count), Int(offset))
    }

    private func u16(_ i: Int) -> UInt16 { UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 }
    private func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
    private func u64(_ i: Int) -> UInt64 { UInt64(u32(i)) | UInt64(u32(i + 4)) << 32 }
}
