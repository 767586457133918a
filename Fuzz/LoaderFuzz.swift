// libFuzzer target: arbitrary bytes as a model file. Parsing, model construction, checkpoint
// loading and one forward pass must either succeed or throw a SeqError — never crash, trap, leak
// unboundedly or allocate beyond the memory cap. Built with SeqCore's sources in one module by
// scripts/fuzz (swiftc -sanitize=fuzzer,address).

@_cdecl("LLVMFuzzerTestOneInput")
public func loaderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    Limits.memoryCapBytes = 64 << 20
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafeTensorsFile(bytes: bytes) else { return 0 }
    _ = try? file.encoded()
    _ = try? TrainingCheckpoint<Float>(contentsOf: file)
    _ = try? RecurrentLayer<Float>(contentsOf: file)
    guard let model = try? SequenceModel<Float>(contentsOf: file) else { return 0 }
    // A loaded model must run: one short batch through it.
    let input: SequenceInput<Float>
    if model.config.usesTokens {
        input = .tokens([0, 0], steps: 2, batch: 1)
    } else {
        input = .features(Tensor(zeros: [2, 1, model.config.rnn.inputSize]))
    }
    if model.config.architecture == .seq2seq {
        _ = try? model.decode(input, maxLength: 3)
    } else {
        _ = try? model.predict(input)
    }
    return 0
}
