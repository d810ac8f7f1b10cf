using System.Globalization;

namespace Formanova.Modules.Shared.Rows;

/// <summary>The one textual form of each value type, shared by CSV import, export and entity keys.</summary>
internal static class ValueText
{
    public static bool TryParseNumber(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    public static bool TryParseBoolean(string text, out bool value)
    {
        var span = text.AsSpan().Trim();
        value = true;
        if (Is(span, "true") || Is(span, "1") || Is(span, "yes") || Is(span, "y") || Is(span, "t"))
        {
            return true;
        }

        value = false;
        return Is(span, "false") || Is(span, "0") || Is(span, "no") || Is(span, "n") || Is(span, "f");

        static bool Is(ReadOnlySpan<char> span, string word) => span.Equals(word, StringComparison.OrdinalIgnoreCase);
    }

    public static bool TryParseDate(string text, out DateTimeOffset value)
    {
        if (TryParseIsoDate(text, out value))
        {
            return true;
        }

        if (DateTimeOffset.TryParse(
            text,
            CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
            out value))
        {
            value = value.ToUniversalTime();
            return true;
        }

        return false;
    }

    /// <summary>
    /// The common shapes (<c>yyyy-MM-dd</c>, <c>yyyy-MM-ddTHH:mm:ss</c> with an optional fraction and <c>Z</c> or
    /// <c>±hh:mm</c>) without the general parser, which costs more than the rest of a row's validation together.
    /// </summary>
    private static bool TryParseIsoDate(ReadOnlySpan<char> s, out DateTimeOffset value)
    {
        value = default;
        if (s.Length < 10 || s[4] != '-' || s[7] != '-'
            || !Digits(s[..4], out var year) || !Digits(s.Slice(5, 2), out var month) || !Digits(s.Slice(8, 2), out var day)
            || month is < 1 or > 12 || year is < 2 or > 9998 || day < 1 || day > DateTime.DaysInMonth(year, month))
        {
            return false;
        }

        var hour = 0;
        var minute = 0;
        var second = 0;
        long fractionTicks = 0;
        var offset = TimeSpan.Zero;
        var rest = s[10..];
        if (!rest.IsEmpty)
        {
            if (rest.Length < 9 || rest[0] is not ('T' or ' ') || rest[3] != ':' || rest[6] != ':'
                || !Digits(rest.Slice(1, 2), out hour) || !Digits(rest.Slice(4, 2), out minute) || !Digits(rest.Slice(7, 2), out second)
                || hour > 23 || minute > 59 || second > 59)
            {
                return false;
            }

            rest = rest[9..];
            if (!rest.IsEmpty && rest[0] == '.')
            {
                var digits = 1;
                long scale = TimeSpan.TicksPerSecond;
                while (digits < rest.Length && char.IsAsciiDigit(rest[digits]))
                {
                    scale /= 10;
                    fractionTicks += (rest[digits] - '0') * scale;
                    digits++;
                }

                if (digits == 1 || digits > 8)
                {
                    return false;
                }

                rest = rest[digits..];
            }

            if (rest.Length == 1 && rest[0] is 'Z' or 'z')
            {
                rest = [];
            }
            else if (rest.Length == 6 && rest[0] is '+' or '-' && rest[3] == ':'
                && Digits(rest.Slice(1, 2), out var oh) && Digits(rest.Slice(4, 2), out var om) && oh <= 14 && om <= 59)
            {
                offset = new TimeSpan(oh, om, 0) * (rest[0] == '-' ? -1 : 1);
                rest = [];
            }

            if (!rest.IsEmpty)
            {
                return false;
            }
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(fractionTicks);
        // Years 1 and 9999 go to the general parser, so shifting by an offset of at most 14 hours cannot overflow.
        value = new DateTimeOffset(local - offset, TimeSpan.Zero);
        return true;

        static bool Digits(ReadOnlySpan<char> span, out int number)
        {
            number = 0;
            foreach (var c in span)
            {
                if (!char.IsAsciiDigit(c))
                {
                    return false;
                }

                number = (number * 10) + (c - '0');
            }

            return true;
        }
    }

    /// <summary>FNV-1a over the key's UTF-16 code units: stable across processes, unlike <see cref="string.GetHashCode()"/>.</summary>
    public static long EntityHash(string key)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return unchecked((long)hash);
    }

    public static string? Format(object? value) => value switch
    {
        null => null,
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        DateTimeOffset t => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture),
        string s => s,
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };
}
