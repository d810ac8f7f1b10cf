using System.Text.Json;
using Formanova.Modules.Shared.Rows;

namespace Formanova.Modules.Model.Inference;

/// <summary>The date parts a date-time feature becomes, for training rows and scoring rows alike.</summary>
internal static class DateFeatures
{
    public static DateTimeOffset? AsDate(object? value) => value switch
    {
        DateTimeOffset t => t,
        DateTime d => d.Kind == DateTimeKind.Unspecified
            ? new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc))
            : new DateTimeOffset(d.ToUniversalTime()),
        string s => ValueText.TryParseDate(s, out var parsed) ? parsed : null,
        JsonElement { ValueKind: JsonValueKind.String } json => AsDate(json.GetString()),
        _ => null,
    };

    public static double? Compute(object? value, DatePart part)
    {
        if (AsDate(value) is not { } date)
        {
            return null;
        }

        var utc = date.UtcDateTime;
        return part switch
        {
            DatePart.Year => utc.Year,
            DatePart.Month => utc.Month,
            DatePart.Day => utc.Day,
            DatePart.DayOfWeek => utc.DayOfWeek == System.DayOfWeek.Sunday ? 7 : (int)utc.DayOfWeek,
            DatePart.DayOfYear => utc.DayOfYear,
            DatePart.Hour => utc.Hour,
            _ => date.ToUnixTimeMilliseconds() / 1000.0,
        };
    }
}
