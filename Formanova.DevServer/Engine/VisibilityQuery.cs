using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Temporalio.Api.Enums.V1;

namespace Formanova.DevServer.Engine;

/// <summary>A search attribute a query names, with the type its values are compared as.</summary>
internal sealed record QueryField(string Name, IndexedValueType Type);

/// <summary>One ORDER BY item; results then fall back to the default order (start time descending, run id).</summary>
internal sealed record QueryOrder(QueryField Field, bool Descending);

/// <summary>
/// Temporal's visibility query language, as far as the dev server answers it: comparisons (=, !=, &lt;&gt;, &lt;, &lt;=, &gt;,
/// &gt;=), [NOT] IN, [NOT] BETWEEN … AND …, [NOT] STARTS_WITH, IS [NOT] NULL, joined by AND / OR with parentheses, on
/// system attributes and the namespace's registered custom ones; then ORDER BY a sortable attribute, or (counts only)
/// GROUP BY ExecutionStatus. Values compare as the attribute's type. As in Temporal's SQL visibility, a run without a
/// value for the attribute matches only IS NULL; Text compares by words (every word of the value present), KeywordList
/// by membership.
/// </summary>
internal sealed partial class VisibilityQuery
{
    private readonly Func<Func<string, object?>, bool>? _filter;

    private VisibilityQuery(Func<Func<string, object?>, bool>? filter, IReadOnlyList<QueryOrder> order, QueryField? groupBy)
    {
        _filter = filter;
        OrderBy = order;
        GroupBy = groupBy;
    }

    public IReadOnlyList<QueryOrder> OrderBy { get; }

    public QueryField? GroupBy { get; }

    /// <summary>Every attribute the filter and the ORDER BY read, so the caller reads each run's values once.</summary>
    public IReadOnlyCollection<QueryField> Fields { get; private init; } = [];

    /// <param name="query">The query text; empty matches every run.</param>
    /// <param name="typeOf">The type of an attribute the namespace knows, or null for an unknown name.</param>
    public static VisibilityQuery Parse(string? query, Func<string, IndexedValueType?> typeOf)
    {
        var parser = new Parser(Tokenize(query ?? ""), typeOf);
        return parser.ParseQuery();
    }

    /// <summary>Whether a run matches; <paramref name="read"/> gives an attribute's value (null when the run has none).</summary>
    public bool Matches(Func<string, object?> read) => _filter is null || _filter(read);

    // ---- Values ----

    /// <summary>Orders two values of one attribute; null (no value) sorts after every value in either direction.</summary>
    public static int CompareValues(object? a, object? b) => (a, b) switch
    {
        (null, null) => 0,
        (null, _) => 1,
        (_, null) => -1,
        (string x, string y) => string.CompareOrdinal(x, y),
        (long x, long y) => x.CompareTo(y),
        (double x, double y) => x.CompareTo(y),
        (bool x, bool y) => x.CompareTo(y),
        (DateTime x, DateTime y) => x.CompareTo(y),
        _ => throw new InvalidOperationException($"Values {a} and {b} have different types."),
    };

    [GeneratedRegex(@"[\p{L}\p{N}]+", RegexOptions.CultureInvariant)]
    private static partial Regex WordRegex();

    private static HashSet<string> Words(string text) =>
        [.. WordRegex().Matches(text).Select(m => m.Value.ToLowerInvariant())];

    // ---- Tokens ----

    private enum TokenKind
    {
        Identifier,
        String,
        Number,
        Symbol,
        End,
    }

    private readonly record struct Token(TokenKind Kind, string Text, bool Quoted = false)
    {
        public bool Is(string keyword) =>
            Kind == TokenKind.Identifier && !Quoted && string.Equals(Text, keyword, StringComparison.OrdinalIgnoreCase);

        public bool IsSymbol(string symbol) => Kind == TokenKind.Symbol && Text == symbol;

        public override string ToString() => Kind == TokenKind.End ? "end of query" : $"'{Text}'";
    }

    private static List<Token> Tokenize(string query)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < query.Length)
        {
            var c = query[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c is '\'' or '"' or '`')
            {
                var text = new StringBuilder();
                var j = i + 1;
                while (true)
                {
                    if (j >= query.Length)
                    {
                        throw Errors.InvalidArgument($"Invalid query: unterminated {c} at position {i}.");
                    }

                    if (query[j] == '\\' && j + 1 < query.Length && c != '`')
                    {
                        text.Append(query[j + 1]);
                        j += 2;
                    }
                    else if (query[j] == c && j + 1 < query.Length && query[j + 1] == c)
                    {
                        text.Append(c);
                        j += 2;
                    }
                    else if (query[j] == c)
                    {
                        break;
                    }
                    else
                    {
                        text.Append(query[j++]);
                    }
                }

                tokens.Add(c == '`'
                    ? new Token(TokenKind.Identifier, text.ToString(), Quoted: true)
                    : new Token(TokenKind.String, text.ToString()));
                i = j + 1;
            }
            else if (char.IsAsciiDigit(c) || (c is '-' or '.' && i + 1 < query.Length && char.IsAsciiDigit(query[i + 1])))
            {
                var j = i + 1;
                while (j < query.Length && (char.IsAsciiDigit(query[j]) || query[j] is '.' or 'e' or 'E'
                    || (query[j] is '+' or '-' && query[j - 1] is 'e' or 'E')))
                {
                    j++;
                }

                tokens.Add(new Token(TokenKind.Number, query[i..j]));
                i = j;
            }
            else if (char.IsLetter(c) || c == '_')
            {
                var j = i + 1;
                while (j < query.Length && (char.IsLetterOrDigit(query[j]) || query[j] is '_' or '.'))
                {
                    j++;
                }

                tokens.Add(new Token(TokenKind.Identifier, query[i..j]));
                i = j;
            }
            else
            {
                var two = i + 1 < query.Length ? query.Substring(i, 2) : "";
                if (two is "!=" or "<>" or "<=" or ">=")
                {
                    tokens.Add(new Token(TokenKind.Symbol, two == "<>" ? "!=" : two));
                    i += 2;
                }
                else if (c is '=' or '<' or '>' or '(' or ')' or ',')
                {
                    tokens.Add(new Token(TokenKind.Symbol, c.ToString()));
                    i++;
                }
                else
                {
                    throw Errors.InvalidArgument($"Invalid query: unexpected character '{c}' at position {i}.");
                }
            }
        }

        tokens.Add(new Token(TokenKind.End, ""));
        return tokens;
    }

    // ---- Parser ----

    private sealed class Parser(List<Token> tokens, Func<string, IndexedValueType?> typeOf)
    {
        private readonly Dictionary<string, QueryField> _fields = new(StringComparer.Ordinal);
        private int _position;

        private Token Current => tokens[_position];

        public VisibilityQuery ParseQuery()
        {
            Func<Func<string, object?>, bool>? filter = null;
            if (!Current.Is("ORDER") && !Current.Is("GROUP") && Current.Kind != TokenKind.End)
            {
                filter = ParseOr();
            }

            var order = new List<QueryOrder>();
            QueryField? groupBy = null;
            if (Current.Is("GROUP"))
            {
                Next();
                Expect("BY");
                groupBy = Field();
                if (groupBy.Name != "ExecutionStatus" || Current.IsSymbol(","))
                {
                    throw Errors.InvalidArgument("'GROUP BY' clause is only supported for ExecutionStatus.");
                }
            }

            if (Current.Is("ORDER"))
            {
                if (groupBy is not null)
                {
                    throw Errors.InvalidArgument("'ORDER BY' clause cannot be combined with 'GROUP BY'.");
                }

                Next();
                Expect("BY");
                do
                {
                    var field = Field();
                    if (field.Type is IndexedValueType.Text or IndexedValueType.KeywordList)
                    {
                        throw Errors.InvalidArgument($"Unable to sort by search attribute {field.Name} of type {field.Type}.");
                    }

                    var descending = false;
                    if (Current.Is("DESC") || Current.Is("ASC"))
                    {
                        descending = Current.Is("DESC");
                        Next();
                    }

                    order.Add(new QueryOrder(field, descending));
                }
                while (Accept(","));
            }

            if (Current.Kind != TokenKind.End)
            {
                throw Errors.InvalidArgument($"Invalid query: unexpected {Current}.");
            }

            return new VisibilityQuery(filter, order, groupBy) { Fields = _fields.Values };
        }

        private Func<Func<string, object?>, bool> ParseOr()
        {
            var terms = new List<Func<Func<string, object?>, bool>> { ParseAnd() };
            while (Accept("OR"))
            {
                terms.Add(ParseAnd());
            }

            return terms.Count == 1 ? terms[0] : read => terms.Any(t => t(read));
        }

        private Func<Func<string, object?>, bool> ParseAnd()
        {
            var terms = new List<Func<Func<string, object?>, bool>> { ParsePrimary() };
            while (Accept("AND"))
            {
                terms.Add(ParsePrimary());
            }

            return terms.Count == 1 ? terms[0] : read => terms.All(t => t(read));
        }

        private Func<Func<string, object?>, bool> ParsePrimary()
        {
            if (Current.IsSymbol("("))
            {
                Next();
                var inner = ParseOr();
                if (!Current.IsSymbol(")"))
                {
                    throw Errors.InvalidArgument($"Invalid query: expected ')' but found {Current}.");
                }

                Next();
                return inner;
            }

            var field = Field();
            var name = field.Name;
            if (Accept("IS"))
            {
                var isNot = Accept("NOT");
                Expect("NULL");
                return read => (read(name) is null) != isNot;
            }

            var negate = Accept("NOT");
            if (Accept("IN"))
            {
                Require(field, "IN", IndexedValueType.Keyword, IndexedValueType.KeywordList, IndexedValueType.Int,
                    IndexedValueType.Double, IndexedValueType.Datetime, IndexedValueType.Bool);
                ExpectSymbol("(");
                var values = new List<object>();
                do
                {
                    values.Add(Value(field));
                }
                while (Accept(","));
                ExpectSymbol(")");
                return read => read(name) is { } actual && values.Any(v => Equal(field, actual, v)) != negate;
            }

            if (Accept("BETWEEN"))
            {
                RequireOrdered(field, "BETWEEN");
                var low = Value(field);
                Expect("AND");
                var high = Value(field);
                return read => read(name) is { } actual
                    && (CompareValues(actual, low) >= 0 && CompareValues(actual, high) <= 0) != negate;
            }

            if (Accept("STARTS_WITH"))
            {
                Require(field, "STARTS_WITH", IndexedValueType.Keyword, IndexedValueType.KeywordList);
                var prefix = (string)Value(field);
                return read => read(name) switch
                {
                    string s => s.StartsWith(prefix, StringComparison.Ordinal) != negate,
                    string[] list => list.Any(s => s.StartsWith(prefix, StringComparison.Ordinal)) != negate,
                    _ => false,
                };
            }

            if (negate)
            {
                throw Errors.InvalidArgument($"Invalid query: NOT must be followed by IN, BETWEEN or STARTS_WITH, found {Current}.");
            }

            if (Current.Is("LIKE"))
            {
                throw Errors.InvalidArgument("Operator 'LIKE' is not supported; use STARTS_WITH.");
            }

            if (Current.Kind != TokenKind.Symbol || Current.Text is "(" or ")" or ",")
            {
                throw Errors.InvalidArgument($"Invalid query: expected an operator after {name} but found {Current}.");
            }

            var op = Current.Text;
            Next();
            if (op is "<" or "<=" or ">" or ">=")
            {
                RequireOrdered(field, op);
            }

            var value = Value(field);
            return op switch
            {
                "=" => read => read(name) is { } actual && Equal(field, actual, value),
                "!=" => read => read(name) is { } actual && !Equal(field, actual, value),
                "<" => read => read(name) is { } actual && CompareValues(actual, value) < 0,
                "<=" => read => read(name) is { } actual && CompareValues(actual, value) <= 0,
                ">" => read => read(name) is { } actual && CompareValues(actual, value) > 0,
                _ => read => read(name) is { } actual && CompareValues(actual, value) >= 0,
            };
        }

        private static bool Equal(QueryField field, object actual, object value) => (field.Type, actual) switch
        {
            (IndexedValueType.KeywordList, string[] list) => list.Contains((string)value, StringComparer.Ordinal),
            (IndexedValueType.Text, string text) => Words((string)value).IsSubsetOf(Words(text)),
            _ => CompareValues(actual, value) == 0,
        };

        private static void RequireOrdered(QueryField field, string op) =>
            Require(field, op, IndexedValueType.Keyword, IndexedValueType.Int, IndexedValueType.Double, IndexedValueType.Datetime);

        private static void Require(QueryField field, string op, params IndexedValueType[] types)
        {
            if (!types.Contains(field.Type))
            {
                throw Errors.InvalidArgument($"Operator '{op}' is not supported for search attribute {field.Name} of type {field.Type}.");
            }
        }

        private QueryField Field()
        {
            var token = Current;
            if (token.Kind != TokenKind.Identifier)
            {
                throw Errors.InvalidArgument($"Invalid query: expected a search attribute name but found {token}.");
            }

            Next();
            if (_fields.TryGetValue(token.Text, out var known))
            {
                return known;
            }

            var type = typeOf(token.Text)
                ?? throw Errors.InvalidArgument($"Invalid query: search attribute {token.Text} is not defined.");
            var field = new QueryField(token.Text, type);
            _fields[field.Name] = field;
            return field;
        }

        /// <summary>A literal, converted to the attribute's type so the comparisons need no conversion per run.</summary>
        private object Value(QueryField field)
        {
            var token = Current;
            if (token.Kind is not (TokenKind.String or TokenKind.Number) && !token.Is("true") && !token.Is("false"))
            {
                throw Errors.InvalidArgument($"Invalid query: expected a value for {field.Name} but found {token}.");
            }

            Next();
            var text = token.Text;
            object? value = field.Type switch
            {
                IndexedValueType.Int when field.Name == "ExecutionDuration" => ParseDuration(text),
                IndexedValueType.Int => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : null,
                IndexedValueType.Double => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null,
                IndexedValueType.Bool => bool.TryParse(text, out var b) ? b : null,
                IndexedValueType.Datetime => SearchAttributeValues.ParseDateTime(text),
                _ when field.Name == "ExecutionStatus" =>
                    Enum.TryParse<WorkflowExecutionStatus>(text, true, out var status) && status != WorkflowExecutionStatus.Unspecified
                        ? status.ToString()
                        : null,
                _ => text,
            };
            return value ?? throw Errors.InvalidArgument(
                $"Invalid query: {text} is not a valid value for search attribute {field.Name} of type {field.Type}.");
        }

        /// <summary>ExecutionDuration is nanoseconds; Temporal also accepts a duration such as '1h' or '150ms'.</summary>
        private static long? ParseDuration(string text)
        {
            if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var nanos))
            {
                return nanos;
            }

            var match = DurationRegex().Match(text);
            if (!match.Success)
            {
                return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) ? span.Ticks * 100 : null;
            }

            var total = 0.0;
            foreach (Capture part in match.Groups["part"].Captures)
            {
                var unit = UnitRegex().Match(part.Value);
                var amount = double.Parse(unit.Groups[1].Value, CultureInfo.InvariantCulture);
                total += amount * unit.Groups[2].Value switch
                {
                    "ns" => 1,
                    "us" or "µs" => 1e3,
                    "ms" => 1e6,
                    "s" => 1e9,
                    "m" => 60e9,
                    _ => 3600e9,
                };
            }

            return (long)total;
        }

        private void Next() => _position++;

        private bool Accept(string keywordOrSymbol)
        {
            if (Current.Is(keywordOrSymbol) || Current.IsSymbol(keywordOrSymbol))
            {
                Next();
                return true;
            }

            return false;
        }

        private void Expect(string keyword)
        {
            if (!Accept(keyword))
            {
                throw Errors.InvalidArgument($"Invalid query: expected {keyword} but found {Current}.");
            }
        }

        private void ExpectSymbol(string symbol)
        {
            if (!Current.IsSymbol(symbol))
            {
                throw Errors.InvalidArgument($"Invalid query: expected '{symbol}' but found {Current}.");
            }

            Next();
        }
    }

    [GeneratedRegex(@"^(?<part>\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationRegex();

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$", RegexOptions.CultureInvariant)]
    private static partial Regex UnitRegex();
}
