using System.Text.Json;
using System.Text.RegularExpressions;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Json;

namespace Formanova.Modules.Event.Log;

/// <summary>The validation every entry point shares: publish from a workflow, POST /events, query filters.</summary>
internal static partial class EventRules
{
    public const int MaxTypeLength = 100;
    public const int MaxSourceLength = 512;
    public const int MaxSubjectLength = 512;
    public const int MaxKeyLength = 200;
    public const int MaxFilterTypes = 20;

    [GeneratedRegex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")]
    private static partial Regex TypePattern();

    public static string? TypeError(string? type) => type switch
    {
        null or "" => "An event type is required.",
        { Length: > MaxTypeLength } => $"An event type has at most {MaxTypeLength} characters.",
        _ when !TypePattern().IsMatch(type) => $"'{Truncate(type)}' is not an UPPER_SNAKE event type (e.g. WORKFLOW_STARTED).",
        _ => null,
    };

    public static string? SourceError(string? source) => source switch
    {
        _ when string.IsNullOrWhiteSpace(source) => "A source is required (e.g. /workflows/{id}/runs/{runId} or /modules/model).",
        { Length: > MaxSourceLength } => $"A source has at most {MaxSourceLength} characters.",
        _ when HasControlOrSpace(source) || !Uri.IsWellFormedUriString(source, UriKind.RelativeOrAbsolute) =>
            $"'{Truncate(source)}' is not a URI reference.",
        _ => null,
    };

    public static string? TextError(string? value, int maxLength, string what) => value switch
    {
        null => null,
        "" => $"{what} must not be empty when given.",
        _ when value.Length > maxLength => $"{what} has at most {maxLength} characters.",
        _ when HasControl(value) => $"{what} must not contain control characters.",
        _ => null,
    };

    /// <summary>Checks a publish and returns the data text to log: the data itself, or its summary when it is too large.</summary>
    public static string? Validate(PublishEventRequest request, int maxDataBytes)
    {
        var errors = new Dictionary<string, string[]>();
        Add(errors, "type", TypeError(request.Type));
        Add(errors, "source", SourceError(request.Source));
        Add(errors, "subject", TextError(request.Subject, MaxSubjectLength, "The subject"));
        Add(errors, "idempotencyKey", TextError(request.IdempotencyKey, MaxKeyLength, "The idempotency key"));
        Add(errors, "correlationId", TextError(request.CorrelationId, MaxKeyLength, "The correlation id"));
        if (request.DataRef is not null)
        {
            Add(errors, "dataRef", SourceError(request.DataRef)?.Replace("A source", "A data reference", StringComparison.Ordinal));
        }

        string? text = null;
        var tooLarge = false;
        if (request.Data is { } data)
        {
            if (data.ValueKind == JsonValueKind.Undefined)
            {
                Add(errors, "data", "The data is not a JSON value.");
            }
            else if (System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(data) is var raw
                && JsonInput.FindProblem(raw) is { } problem)
            {
                // The log must never hold what it cannot serve back: such a value would fail every later read.
                Add(errors, "data" + problem.Path[1..], problem.Reason);
            }
            else if (raw.Length <= maxDataBytes)
            {
                text = data.GetRawText();
            }
            else if (request.DataRef is not null)
            {
                text = Summarize(data, maxDataBytes);
            }
            else
            {
                tooLarge = true;
                Add(errors, "data", $"The data is larger than {maxDataBytes} bytes (Event:MaxDataBytes); give a dataRef to log a summary.");
            }
        }

        return errors.Count switch
        {
            0 => text,
            1 when tooLarge => throw new ModuleException(
                ErrorKind.TooLarge,
                $"The event's data is larger than {maxDataBytes} bytes (Event:MaxDataBytes).",
                errors),
            _ => throw new ModuleException(ErrorKind.Invalid, "The event is invalid.", errors),
        };
    }

    /// <summary>
    /// What an event logs in place of data too large for the log, next to its <c>dataref</c>: the top-level numbers,
    /// booleans and short strings of an object (ids, model, version, decision, score), which is what most consumers
    /// route on, within half the limit. Anything else is left for the reader to fetch from the reference.
    /// </summary>
    public static string? Summarize(JsonElement data, int maxDataBytes)
    {
        if (data.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var summary = new System.Text.Json.Nodes.JsonObject();
        var budget = maxDataBytes / 2;
        foreach (var property in data.EnumerateObject())
        {
            var keep = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString()!.Length <= MaxSummaryString,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null => true,
                _ => false,
            };
            if (keep && (budget -= property.Name.Length + property.Value.GetRawText().Length + 4) >= 0)
            {
                summary[property.Name] = System.Text.Json.Nodes.JsonNode.Parse(property.Value.GetRawText());
            }
        }

        return summary.ToJsonString();
    }

    private const int MaxSummaryString = 256;

    /// <summary>Parses a comma-separated and/or repeated <c>type</c> filter.</summary>
    public static IReadOnlyList<string> ParseTypes(IEnumerable<string?> values, string field = "type")
    {
        var types = values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries)).ToList();
        if (types.Count > MaxFilterTypes)
        {
            throw ModuleException.Invalid(field, $"At most {MaxFilterTypes} event types can be given.");
        }

        foreach (var type in types)
        {
            if (TypeError(type) is { } error)
            {
                throw ModuleException.Invalid(field, error);
            }
        }

        return types.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Exact match, or a path prefix: <c>/workflows/abc</c> covers <c>/workflows/abc/runs/1</c>.</summary>
    public static bool SourceMatches(string source, string? filter) =>
        filter is null
        || string.Equals(source, filter, StringComparison.Ordinal)
        || (source.Length > filter.Length && source.StartsWith(filter, StringComparison.Ordinal)
            && (filter.EndsWith('/') || source[filter.Length] == '/'));

    /// <summary>
    /// The prefix that <see cref="SourceMatches"/> accepts besides the exact source (compared with SUBSTR, which is
    /// case-sensitive on both providers, unlike SQLite's LIKE).
    /// </summary>
    public static string SourcePrefix(string filter) => filter.EndsWith('/') ? filter : filter + "/";

    private static void Add(Dictionary<string, string[]> errors, string field, string? error)
    {
        if (error is not null)
        {
            errors[field] = [error];
        }
    }

    private static bool HasControl(string value) => value.Any(char.IsControl);

    private static bool HasControlOrSpace(string value) => value.Any(c => char.IsControl(c) || char.IsWhiteSpace(c));

    private static string Truncate(string value) => value.Length <= 60 ? value : value[..60] + "…";
}
