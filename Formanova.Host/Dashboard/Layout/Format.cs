using System.Globalization;

namespace Formanova.Host.Dashboard.Layout;

/// <summary>How the pages write numbers, times and states: in UTC and invariant culture, so every viewer reads the same.</summary>
public static class Format
{
    public static string Time(DateTime? time) =>
        time is { } t ? DateTime.SpecifyKind(t, DateTimeKind.Utc).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "—";

    public static string Time(DateTimeOffset? time) => Time(time?.UtcDateTime);

    /// <summary>For the <c>datetime</c> attribute of a <c>time</c> element.</summary>
    public static string Iso(DateTime time) =>
        DateTime.SpecifyKind(time, DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    public static string Duration(TimeSpan? span) => span switch
    {
        null => "—",
        { TotalMilliseconds: < 1000 } s => $"{s.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms",
        { TotalSeconds: < 60 } s => $"{s.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s",
        { TotalMinutes: < 60 } s => $"{(int)s.TotalMinutes} min {s.Seconds} s",
        var s => $"{(int)s.Value.TotalHours} h {s.Value.Minutes} min",
    };

    public static string Percent(double? ratio) =>
        ratio is { } r ? (r * 100).ToString(r is > 0 and < 0.1 ? "0.0" : "0", CultureInfo.InvariantCulture) + " %" : "—";

    public static string Milliseconds(double? ms) => ms switch
    {
        null => "—",
        < 10 => $"{ms.Value.ToString("0.0", CultureInfo.InvariantCulture)} ms",
        < 10_000 => $"{ms.Value.ToString("0", CultureInfo.InvariantCulture)} ms",
        _ => $"{(ms.Value / 1000).ToString("0.0", CultureInfo.InvariantCulture)} s",
    };

    public static string Number(double value) => value.ToString(value is > 0 and < 10 ? "0.##" : "#,0", CultureInfo.InvariantCulture);

    public static string Number(long value) => value.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>The badge class of a run status: it repeats in colour what the badge says in words.</summary>
    public static string StatusClass(string status) => status switch
    {
        "completed" or "activated" => "ok",
        "running" => "info",
        "paused" or "cancelled" or "continuedAsNew" => "warn",
        "failed" or "terminated" or "timedOut" => "bad",
        _ => "",
    };
}
