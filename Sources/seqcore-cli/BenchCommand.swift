import ArgumentParser
import SeqCore

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Throughput of RNN, GRU and LSTM.")
    mutating func run() throws {}
}
