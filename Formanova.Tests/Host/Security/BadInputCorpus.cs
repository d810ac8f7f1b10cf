using System.Text;

namespace Formanova.Tests.Host.Security;

/// <summary>
/// Hostile values for route parameters and request bodies. Generated rather than listed per endpoint, so an endpoint
/// added later is attacked with the same corpus without anyone remembering to add it.
/// </summary>
internal static class BadInputCorpus
{
    /// <summary>Values for one path segment, already percent-encoded where the raw form cannot travel in a URL.</summary>
    public static IReadOnlyList<string> RouteValues { get; } =
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "%2e%2e%2f%2e%2e%2fwindows",
        "%2Fetc%2Fpasswd",
        "C:%5Cwindows%5Csystem32",
        Uri.EscapeDataString("' OR 1=1 --"),
        Uri.EscapeDataString("1; DROP TABLE data_datasets; --"),
        Uri.EscapeDataString("%s%s%s%n{0}{1}"),
        "%00",
        "%ED%A0%80",
        Uri.EscapeDataString("\u202Egnp.exe"),
        Uri.EscapeDataString("名前🚀"),
        "-1",
        "0",
        "99999999999999999999999999",
        "NaN",
        new string('a', 3000),
        "%20",
    ];

    public static readonly string[] CommonFields =
    [
        "name", "version", "scopes", "columns", "inputs", "rows", "model", "datasetId", "url", "types", "type", "source",
        "data", "transforms", "limit", "task", "trainer", "alias", "description", "expiresAt", "secret", "entityId", "params",
    ];

    private static readonly string[] HostileStrings =
    [
        "",
        new string('x', 200_000),
        "\u0000",
        "\uD800",
        "\u202E\u202D",
        "../../etc/passwd",
        "/etc/passwd",
        "' OR '1'='1",
        "%s%n{0}",
        "名前🚀",
    ];

    private static readonly string[] HostileJsonValues =
    [
        "null", "true", "-1", "0", "1e309", "-1e309", "123456789012345678901234567890", "1.5", "[]", "{}", "[null]",
        "\"NaN\"", "\"Infinity\"", "\"2026-13-45T99:99:99Z\"",
    ];

    /// <summary>(content type, body, what it is) for endpoints that take a body.</summary>
    public static IEnumerable<(string ContentType, byte[] Body, string Case)> Bodies(IReadOnlyList<string> fields)
    {
        const string json = "application/json";
        yield return (json, Utf8("{"), "truncated JSON");
        yield return (json, Utf8("{\"name\": tru}"), "bad literal");
        yield return (json, Utf8("NaN"), "NaN token");
        yield return (json, Utf8("{\"a\":Infinity}"), "Infinity token");
        yield return (json, Utf8("null"), "null body");
        yield return (json, Utf8("[]"), "array body");
        yield return (json, Utf8("\"text\""), "string body");
        yield return (json, Utf8("42"), "number body");
        yield return (json, Utf8("{}"), "empty object");
        yield return (json, [], "empty body");
        yield return (json, [0xEF, 0xBB, 0xBF, 0x7B, 0xFF, 0xFE, 0x7D], "invalid UTF-8");
        yield return (json, Utf8(string.Concat(Enumerable.Repeat("[", 5000)) + string.Concat(Enumerable.Repeat("]", 5000))), "deep nesting");
        yield return (json, Utf8("{\"name\":\"a\",\"name\":\"b\"}"), "duplicate keys");
        yield return (json, Utf8("{\"rows\":[" + string.Join(',', Enumerable.Repeat("{\"a\":1}", 200_000)) + "]}"), "oversized batch");
        yield return ("text/plain", Utf8("{\"name\":\"x\"}"), "wrong content type");
        yield return ("application/xml", Utf8("<name>x</name>"), "xml");
        yield return ("multipart/form-data; boundary=zzz", Utf8("--zzz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n{\r\n--zzz--"), "broken multipart");
        yield return ("text/csv", Utf8("a,b\n\"unbalanced,2\n"), "unbalanced CSV");

        // Type confusion: every field at once, set to one hostile value.
        yield return (json, Utf8(Everywhere(fields, "null")), "nulls everywhere");
        foreach (var value in HostileJsonValues)
        {
            yield return (json, Utf8(Everywhere(fields, value)), $"every field = {value}");
        }

        foreach (var value in HostileStrings)
        {
            yield return (json, Utf8(Everywhere(fields, System.Text.Json.JsonSerializer.Serialize(value))), $"every field = string of {value.Length}");
        }

        var hostileArray = "[" + string.Join(',', HostileStrings.Where(v => v.Length < 100).Select(v => System.Text.Json.JsonSerializer.Serialize(v))) + "]";
        yield return (json, Utf8(Everywhere(fields, hostileArray)), "every field = array of hostile strings");
    }

    private static string Everywhere(IReadOnlyList<string> fields, string value) => "{" + string.Join(',', fields.Select(f => $"\"{f}\":{value}")) + "}";

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
