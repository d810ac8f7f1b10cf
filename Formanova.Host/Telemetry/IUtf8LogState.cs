using System.Text.Json;

namespace Formanova.Host.Telemetry;

/// <summary>
/// A log state that writes its own JSON console line, straight to UTF-8: <see cref="BatchedConsoleLoggerProvider"/> then
/// skips the framework's JSON formatter, which renders the message to a string, boxes every field, writes the line to
/// UTF-8 and transcodes it back to a string for the writer to encode once more. The request line is the only one
/// written on every request, and its formatting was a tenth of an authenticated GET's CPU (docs/benchmarks.md). The
/// line is the formatter's own: the same members in the same order, checked against it by the tests.
/// </summary>
internal interface IUtf8LogState
{
    /// <summary>
    /// Formats the message: the text both the state's formatter delegate and its <c>ToString()</c> return, which the
    /// formatter writes twice (the line's <c>Message</c> and the state's). False when it does not fit.
    /// </summary>
    bool TryFormatMessage(Span<char> destination, out int written);

    /// <summary>Writes the members of the <c>State</c> object, as the formatter writes the state's key-value pairs.</summary>
    void WriteFields(Utf8JsonWriter writer);
}
