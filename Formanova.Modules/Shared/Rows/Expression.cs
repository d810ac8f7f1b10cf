using System.Globalization;
using System.Text;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Shared.Rows;

internal enum ExprType
{
    Number,
    String,
    Boolean,
    Datetime,
    Null,
}

/// <summary>A typed expression node evaluated against one row (values in the pipeline's current column order).</summary>
internal abstract class Expr(ExprType type)
{
    public ExprType Type { get; } = type;

    public abstract object? Evaluate(object?[] row);
}

/// <summary>A column as the expression parser sees it.</summary>
internal readonly record struct ExprColumn(string Name, ScalarType Type);

/// <summary>
/// Parses the small typed language used by filter and derive steps:
/// <c>or</c>/<c>and</c>/<c>not</c> (also <c>||</c>, <c>&amp;&amp;</c>, <c>!</c>), comparisons (<c>== != &lt; &lt;= &gt; &gt;=</c>),
/// arithmetic (<c>+ - * /</c>), parentheses, numbers, "strings", <c>true</c>, <c>false</c>, <c>null</c>, and columns by bare
/// name or as <c>[any name]</c> (<c>]]</c> escapes a bracket). Types are checked when parsing, so a bad expression is a 400
/// before any row is read. Comparisons with a missing value are false, except <c>== null</c>; arithmetic with one is null.
/// </summary>
internal sealed class ExpressionParser
{
    private readonly string _text;
    private readonly IReadOnlyList<ExprColumn> _columns;
    private readonly string _field;
    private int _position;

    private ExpressionParser(string text, IReadOnlyList<ExprColumn> columns, string field)
    {
        _text = text;
        _columns = columns;
        _field = field;
    }

    public static Expr Parse(string? text, IReadOnlyList<ExprColumn> columns, string field)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw ModuleException.Invalid(field, "An expression is required.");
        }

        if (text.Length > 4000)
        {
            throw ModuleException.Invalid(field, "An expression has at most 4000 characters.");
        }

        var parser = new ExpressionParser(text, columns, field);
        var expr = parser.ParseOr(0);
        parser.SkipSpace();
        if (parser._position < text.Length)
        {
            throw parser.Error($"Unexpected '{text[parser._position]}'");
        }

        return expr;
    }

    private Expr ParseOr(int depth)
    {
        var left = ParseAnd(depth);
        while (Keyword("or") || Symbol("||"))
        {
            var right = ParseAnd(depth);
            RequireBoolean(left, "or");
            RequireBoolean(right, "or");
            left = new Logical(left, right, isAnd: false);
        }

        return left;
    }

    private Expr ParseAnd(int depth)
    {
        var left = ParseNot(depth);
        while (Keyword("and") || Symbol("&&"))
        {
            var right = ParseNot(depth);
            RequireBoolean(left, "and");
            RequireBoolean(right, "and");
            left = new Logical(left, right, isAnd: true);
        }

        return left;
    }

    private Expr ParseNot(int depth)
    {
        if (Keyword("not") || (Peek("!") && !Peek("!=") && Symbol("!")))
        {
            var operand = ParseNot(depth);
            RequireBoolean(operand, "not");
            return new Not(operand);
        }

        return ParseComparison(depth);
    }

    private Expr ParseComparison(int depth)
    {
        var left = ParseAdditive(depth);
        foreach (var op in new[] { "==", "!=", "<=", ">=", "<", ">" })
        {
            if (Symbol(op))
            {
                var right = ParseAdditive(depth);
                return Comparison.Create(left, right, op, message => Error(message));
            }
        }

        return left;
    }

    private Expr ParseAdditive(int depth)
    {
        var left = ParseMultiplicative(depth);
        while (true)
        {
            char op;
            if (Symbol("+"))
            {
                op = '+';
            }
            else if (Symbol("-"))
            {
                op = '-';
            }
            else
            {
                return left;
            }

            left = Arithmetic(left, ParseMultiplicative(depth), op);
        }
    }

    private Expr ParseMultiplicative(int depth)
    {
        var left = ParseUnary(depth);
        while (true)
        {
            char op;
            if (Symbol("*"))
            {
                op = '*';
            }
            else if (Symbol("/"))
            {
                op = '/';
            }
            else
            {
                return left;
            }

            left = Arithmetic(left, ParseUnary(depth), op);
        }
    }

    private Expr ParseUnary(int depth)
    {
        if (Symbol("-"))
        {
            return Arithmetic(new Constant(0.0, ExprType.Number), ParseUnary(depth), '-');
        }

        return ParsePrimary(depth);
    }

    private Expr ParsePrimary(int depth)
    {
        SkipSpace();
        if (_position >= _text.Length)
        {
            throw Error("The expression ends too early");
        }

        var c = _text[_position];
        if (c == '(')
        {
            if (depth > 50)
            {
                throw Error("The expression is nested too deeply");
            }

            _position++;
            var inner = ParseOr(depth + 1);
            if (!Symbol(")"))
            {
                throw Error("Expected ')'");
            }

            return inner;
        }

        if (c == '"' || c == '\'')
        {
            return new Constant(ReadString(c), ExprType.String);
        }

        if (char.IsAsciiDigit(c) || (c == '.' && _position + 1 < _text.Length && char.IsAsciiDigit(_text[_position + 1])))
        {
            var start = _position;
            while (_position < _text.Length && (char.IsAsciiDigit(_text[_position]) || _text[_position] is '.' or 'e' or 'E'
                || (_text[_position] is '+' or '-' && _text[_position - 1] is 'e' or 'E')))
            {
                _position++;
            }

            if (!double.TryParse(_text.AsSpan(start, _position - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                throw Error($"'{_text[start.._position]}' is not a number");
            }

            if (!double.IsFinite(number))
            {
                // A derived value must be storable and serialisable, and JSON has no infinity.
                throw Error($"'{_text[start.._position]}' is beyond the range of a number");
            }

            return new Constant(number, ExprType.Number);
        }

        string name;
        if (c == '[')
        {
            name = ReadBracketed();
        }
        else if (char.IsLetter(c) || c == '_')
        {
            var start = _position;
            while (_position < _text.Length && (char.IsLetterOrDigit(_text[_position]) || _text[_position] is '_' or '.'))
            {
                _position++;
            }

            name = _text[start.._position];
            switch (name.ToLowerInvariant())
            {
                case "true":
                    return new Constant(true, ExprType.Boolean);
                case "false":
                    return new Constant(false, ExprType.Boolean);
                case "null":
                    return new Constant(null, ExprType.Null);
            }
        }
        else
        {
            throw Error($"Unexpected '{c}'");
        }

        for (var i = 0; i < _columns.Count; i++)
        {
            if (_columns[i].Name == name)
            {
                return new ColumnRef(i, _columns[i].Type switch
                {
                    ScalarType.Numeric => ExprType.Number,
                    ScalarType.Boolean => ExprType.Boolean,
                    ScalarType.Datetime => ExprType.Datetime,
                    _ => ExprType.String,
                });
            }
        }

        var columns = string.Join(", ", _columns.Take(20).Select(x => x.Name));
        throw ModuleException.Invalid(_field, $"The expression refers to '{name}', which is not a column here (columns: {columns}).");
    }

    private Expr Arithmetic(Expr left, Expr right, char op)
    {
        if (left.Type is not (ExprType.Number or ExprType.Null) || right.Type is not (ExprType.Number or ExprType.Null))
        {
            throw Error(
                $"'{op}' needs numbers, not {left.Type.ToString().ToLowerInvariant()} and {right.Type.ToString().ToLowerInvariant()}");
        }

        return new Binary(left, right, op);
    }

    private void RequireBoolean(Expr expr, string op)
    {
        if (expr.Type != ExprType.Boolean)
        {
            throw Error($"'{op}' needs true/false operands, not {expr.Type.ToString().ToLowerInvariant()}");
        }
    }

    private string ReadString(char quote)
    {
        var builder = new StringBuilder();
        _position++;
        while (_position < _text.Length)
        {
            var c = _text[_position++];
            if (c == '\\' && _position < _text.Length)
            {
                builder.Append(_text[_position++]);
            }
            else if (c == quote)
            {
                return builder.ToString();
            }
            else
            {
                builder.Append(c);
            }
        }

        throw Error("A string literal is not closed");
    }

    private string ReadBracketed()
    {
        var builder = new StringBuilder();
        _position++;
        while (_position < _text.Length)
        {
            var c = _text[_position++];
            if (c == ']')
            {
                if (_position < _text.Length && _text[_position] == ']')
                {
                    builder.Append(']');
                    _position++;
                    continue;
                }

                return builder.ToString();
            }

            builder.Append(c);
        }

        throw Error("A [column name] is not closed");
    }

    public void SkipSpace()
    {
        while (_position < _text.Length && char.IsWhiteSpace(_text[_position]))
        {
            _position++;
        }
    }

    private bool Peek(string symbol)
    {
        SkipSpace();
        return string.CompareOrdinal(_text, _position, symbol, 0, symbol.Length) == 0;
    }

    private bool Symbol(string symbol)
    {
        if (!Peek(symbol))
        {
            return false;
        }

        _position += symbol.Length;
        return true;
    }

    private bool Keyword(string word)
    {
        SkipSpace();
        var end = _position + word.Length;
        if (end > _text.Length || string.Compare(_text, _position, word, 0, word.Length, StringComparison.OrdinalIgnoreCase) != 0
            || (end < _text.Length && (char.IsLetterOrDigit(_text[end]) || _text[end] == '_')))
        {
            return false;
        }

        _position = end;
        return true;
    }

    private ModuleException Error(string message)
        => ModuleException.Invalid(_field, $"{message} at position {_position + 1} of the expression.");

    private sealed class Constant(object? value, ExprType type) : Expr(type)
    {
        public object? Value { get; } = value;

        public override object? Evaluate(object?[] row) => Value;
    }

    private sealed class ColumnRef(int index, ExprType type) : Expr(type)
    {
        public override object? Evaluate(object?[] row) => row[index];
    }

    private sealed class Binary(Expr left, Expr right, char op) : Expr(ExprType.Number)
    {
        public override object? Evaluate(object?[] row)
        {
            if (left.Evaluate(row) is not double a || right.Evaluate(row) is not double b)
            {
                return null;
            }

            var result = op switch
            {
                '+' => a + b,
                '-' => a - b,
                '*' => a * b,
                _ => a / b,
            };
            return double.IsFinite(result) ? result : null;
        }
    }

    private sealed class Logical(Expr left, Expr right, bool isAnd) : Expr(ExprType.Boolean)
    {
        public override object? Evaluate(object?[] row)
        {
            var a = left.Evaluate(row) is true;
            return isAnd ? a && right.Evaluate(row) is true : a || right.Evaluate(row) is true;
        }
    }

    private sealed class Not(Expr operand) : Expr(ExprType.Boolean)
    {
        public override object? Evaluate(object?[] row) => operand.Evaluate(row) is not true;
    }

    private sealed class Comparison(Expr left, Expr right, string op) : Expr(ExprType.Boolean)
    {
        public static Expr Create(Expr left, Expr right, string op, Func<string, ModuleException> error)
        {
            if (left.Type == ExprType.Null || right.Type == ExprType.Null)
            {
                if (op is not ("==" or "!="))
                {
                    throw error($"null can only be compared with == or !=");
                }

                var other = left.Type == ExprType.Null ? right : left;
                return new NullCheck(other, op == "==");
            }

            // A date column compared with a string literal: the literal is a date, checked now rather than per row.
            if (left.Type == ExprType.Datetime && right is Constant { Type: ExprType.String } r)
            {
                right = AsDate(r, error);
            }
            else if (right.Type == ExprType.Datetime && left is Constant { Type: ExprType.String } l)
            {
                left = AsDate(l, error);
            }

            if (left.Type != right.Type)
            {
                throw error($"Cannot compare {left.Type.ToString().ToLowerInvariant()} with {right.Type.ToString().ToLowerInvariant()}");
            }

            if (left.Type == ExprType.Boolean && op is not ("==" or "!="))
            {
                throw error($"Booleans can only be compared with == or !=");
            }

            return new Comparison(left, right, op);
        }

        private static Constant AsDate(Constant literal, Func<string, ModuleException> error) =>
            ValueText.TryParseDate((string)literal.Value!, out var date)
                ? new Constant(date, ExprType.Datetime)
                : throw error($"'{literal.Value}' is not an ISO 8601 date-time");

        public override object? Evaluate(object?[] row)
        {
            var a = left.Evaluate(row);
            var b = right.Evaluate(row);
            if (a is null || b is null)
            {
                return false;
            }

            var order = a switch
            {
                double x => x.CompareTo((double)b),
                string s => string.CompareOrdinal(s, (string)b),
                DateTimeOffset t => t.CompareTo((DateTimeOffset)b),
                bool f => f.CompareTo((bool)b),
                _ => 0,
            };
            return op switch
            {
                "==" => order == 0,
                "!=" => order != 0,
                "<" => order < 0,
                "<=" => order <= 0,
                ">" => order > 0,
                _ => order >= 0,
            };
        }
    }

    private sealed class NullCheck(Expr operand, bool isNull) : Expr(ExprType.Boolean)
    {
        public override object? Evaluate(object?[] row) => operand.Evaluate(row) is null == isNull;
    }
}
