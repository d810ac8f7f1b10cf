using System.Globalization;
using System.Text;

namespace Formanova.Client.Http;

/// <summary>
/// Builds the query string of a paged or streamed read. The facade sets these itself rather than through the
/// generated query-parameter classes, whose property types follow the document's schemas and so may change when
/// the client is regenerated.
/// </summary>
internal sealed class QueryString
{
    private readonly StringBuilder _text = new();

    public QueryString Add(string name, string? value)
    {
        if (value is not null)
        {
            _text.Append(_text.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
        }

        return this;
    }

    public QueryString Add(string name, long? value) => Add(name, value?.ToString(CultureInfo.InvariantCulture));

    public QueryString Add(string name, DateTimeOffset? value) => Add(name, value?.ToString("O", CultureInfo.InvariantCulture));

    public QueryString Add(EventFilter? filter)
    {
        if (filter?.Types is { Count: > 0 } types)
        {
            Add("type", string.Join(',', types));
        }

        return Add("source", filter?.Source).Add("workflowId", filter?.WorkflowId);
    }

    public override string ToString() => _text.ToString();
}
