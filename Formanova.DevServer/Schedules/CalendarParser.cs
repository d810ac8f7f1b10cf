using System.Globalization;
using Formanova.DevServer.Engine;
using Google.Protobuf.WellKnownTypes;
using Temporalio.Api.Schedule.V1;
using SpecRange = Temporalio.Api.Schedule.V1.Range;

namespace Formanova.DevServer.Schedules;

/// <summary>
/// Calendar strings (<c>CalendarSpec</c>) and cron strings into structured calendars. A field is a comma list of
/// <c>*</c>, <c>n</c>, <c>a-b</c>, each optionally <c>/step</c>; months and weekdays also take English names.
/// </summary>
internal static class CalendarParser
{
    private static readonly string[] MonthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    private static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    public static StructuredCalendarSpec ToStructured(CalendarSpec spec) => Build(
        Or(spec.Second, "0"),
        Or(spec.Minute, "0"),
        Or(spec.Hour, "0"),
        Or(spec.DayOfMonth, "*"),
        Or(spec.Month, "*"),
        Or(spec.Year, "*"),
        Or(spec.DayOfWeek, "*"),
        spec.Comment);

    public static StructuredCalendarSpec Build(
        string second,
        string minute,
        string hour,
        string dayOfMonth,
        string month,
        string year,
        string dayOfWeek,
        string comment)
    {
        var result = new StructuredCalendarSpec { Comment = comment ?? "" };
        result.Second.Add(Field(second, 0, 59, null));
        result.Minute.Add(Field(minute, 0, 59, null));
        result.Hour.Add(Field(hour, 0, 23, null));
        result.DayOfMonth.Add(Field(dayOfMonth, 1, 31, null));
        result.Month.Add(Field(month, 1, 12, MonthNames));
        result.DayOfWeek.Add(Field(dayOfWeek, 0, 7, DayNames));
        // "*" years is an empty list: any year.
        if (year.Trim() != "*")
        {
            result.Year.Add(Field(year, 1970, 9999, null));
        }

        return result;
    }

    private static string Or(string value, string fallback) => string.IsNullOrWhiteSpace(value) ? fallback : value;

    private static IEnumerable<SpecRange> Field(string text, int min, int max, string[]? names)
    {
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var item = raw;
            var step = 1;
            var slash = item.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0)
            {
                step = Number(item[(slash + 1)..], 1, int.MaxValue, null, text);
                item = item[..slash];
            }

            int start;
            int end;
            if (item is "*" or "?")
            {
                (start, end) = (min, max);
            }
            else if (item.IndexOf('-', StringComparison.Ordinal) is var dash and > 0)
            {
                start = Number(item[..dash], min, max, names, text);
                end = Number(item[(dash + 1)..], min, max, names, text);
            }
            else
            {
                start = Number(item, min, max, names, text);
                end = slash >= 0 ? max : start;
            }

            if (end < start)
            {
                throw Errors.InvalidArgument($"Invalid calendar range \"{text}\".");
            }

            yield return new SpecRange { Start = start, End = end, Step = step };
        }
    }

    private static int Number(string text, int min, int max, string[]? names, string field)
    {
        if (names is not null)
        {
            var lower = text.Trim().ToLowerInvariant();
            for (var i = 0; i < names.Length; i++)
            {
                if (lower.StartsWith(names[i], StringComparison.Ordinal))
                {
                    return names.Length == 12 ? i + 1 : i;
                }
            }
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw Errors.InvalidArgument($"Invalid calendar value \"{text}\" in \"{field}\".");
        }

        return value;
    }
}

/// <summary>
/// Temporal's cron strings: 5 fields (minute hour day-of-month month day-of-week), 6 (plus year) or 7 (second first,
/// year last); <c>@hourly</c>, <c>@daily</c> and friends; <c>@every 1h30m[/phase]</c>; a <c>CRON_TZ=</c> or <c>TZ=</c>
/// prefix; a <c>#</c> comment.
/// </summary>
internal static class CronParser
{
    public static (StructuredCalendarSpec? Calendar, IntervalSpec? Interval, string? Zone) Parse(string cron)
    {
        var text = cron;
        var hash = text.IndexOf('#', StringComparison.Ordinal);
        var comment = hash >= 0 ? text[(hash + 1)..].Trim() : "";
        text = (hash >= 0 ? text[..hash] : text).Trim();
        string? zone = null;
        if (text.StartsWith("CRON_TZ=", StringComparison.Ordinal) || text.StartsWith("TZ=", StringComparison.Ordinal))
        {
            var space = text.IndexOf(' ', StringComparison.Ordinal);
            if (space < 0)
            {
                throw Errors.InvalidArgument($"Invalid cron string \"{cron}\".");
            }

            zone = text[(text.IndexOf('=', StringComparison.Ordinal) + 1)..space];
            text = text[(space + 1)..].Trim();
        }

        if (text.StartsWith("@every ", StringComparison.Ordinal))
        {
            var parts = text["@every ".Length..].Trim().Split('/');
            var interval = new IntervalSpec { Interval = Duration.FromTimeSpan(GoDuration(parts[0], cron)) };
            if (parts.Length > 1)
            {
                interval.Phase = Duration.FromTimeSpan(GoDuration(parts[1], cron));
            }

            return (null, interval, zone);
        }

        text = text switch
        {
            "@yearly" or "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" or "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ => text,
        };
        var f = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var calendar = f.Length switch
        {
            5 => CalendarParser.Build("0", f[0], f[1], f[2], f[3], "*", f[4], comment),
            6 => CalendarParser.Build("0", f[0], f[1], f[2], f[3], f[5], f[4], comment),
            7 => CalendarParser.Build(f[0], f[1], f[2], f[3], f[4], f[6], f[5], comment),
            _ => throw Errors.InvalidArgument($"Invalid cron string \"{cron}\": expected 5, 6 or 7 fields."),
        };
        return (calendar, null, zone);
    }

    /// <summary>Go duration syntax, as Temporal reads it: a sequence of number and unit (h, m, s, ms, us, ns), or d for days.</summary>
    private static TimeSpan GoDuration(string text, string cron)
    {
        var total = TimeSpan.Zero;
        var i = 0;
        text = text.Trim();
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            var unitStart = i;
            while (i < text.Length && char.IsLetter(text[i]))
            {
                i++;
            }

            if (!double.TryParse(text[start..unitStart], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                throw Errors.InvalidArgument($"Invalid duration in cron string \"{cron}\".");
            }

            total += text[unitStart..i] switch
            {
                "d" => TimeSpan.FromDays(value),
                "h" => TimeSpan.FromHours(value),
                "m" => TimeSpan.FromMinutes(value),
                "s" => TimeSpan.FromSeconds(value),
                "ms" => TimeSpan.FromMilliseconds(value),
                "us" or "µs" => TimeSpan.FromMicroseconds(value),
                "ns" => TimeSpan.FromTicks((long)(value / 100)),
                _ => throw Errors.InvalidArgument($"Invalid duration unit in cron string \"{cron}\"."),
            };
        }

        return total;
    }
}
