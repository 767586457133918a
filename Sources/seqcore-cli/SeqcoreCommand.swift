import ArgumentParser
import Foundation
import SeqCore

/// `seqcore`: the command-line program. `demo` is the default subcommand.
@main
struct SeqcoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seqcore",
        abstract: "Recurrent neural networks (RNN, GRU, LSTM) that train by backpropagation through time.",
        discussion: "Without a subcommand, runs `seqcore demo`.",
        subcommands: [DemoCommand.self, TrainCommand.self, SampleCommand.self, EvalCommand.self, InfoCommand.self, BenchCommand.self],
        defaultSubcommand: DemoCommand.self)

    /// Parses and runs; every failure becomes one line on stderr and a non-zero exit status.
    /// (ArgumentParser's own `main` would add the usage text under a parse error.)
    static func main() {
        // `seqcore help NAME` with an unknown NAME would print the general help and succeed.
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.count >= 2, arguments[0] == "help" {
            let names = configuration.subcommands.compactMap { $0.configuration.commandName }
            if !names.contains(arguments[1]) && arguments[1] != "help" {
                Console.error("seqcore: unknown subcommand '\(arguments[1])' for help (expected \(names.joined(separator: ", "))) (see seqcore --help)\n")
                Foundation.exit(ExitCode.validationFailure.rawValue)
            }
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))   // --help, --version
                Foundation.exit(0)
            }
            var message = Self.message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
            if error is SeqError { message = "error: " + message }
            if message.isEmpty { message = "error: \(error)" }
            message = message.split(separator: "\n").joined(separator: "; ")
            if code == .validationFailure { message += " (see seqcore --help)" }
            Console.flush()
            Console.error("seqcore: \(message)\n")
            Foundation.exit(code == .success ? 1 : code.rawValue)
        }
    }
}

/// Options every long-running subcommand shares.
struct CommonOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "No progress bars on stderr.")
    var quiet = false

    @Option(parsing: .unconditional, help: "Threads for the kernels (1 or 2).")
    var threads: Int?

    func apply() throws {
        if let threads {
            guard threads == 1 || threads == 2 else {
                throw ValidationError("--threads must be 1 or 2, got \(threads)")
            }
            Parallelism.threadCount = threads
        }
    }
}
