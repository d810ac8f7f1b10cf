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

    /// <summary>
    /// Hostile JSON values for one field, as raw UTF-8 so that what no serializer writes can be sent: a lone
    /// surrogate escape, invalid UTF-8 bytes, numbers beyond double. The label starts with the variant's class.
    /// </summary>
    public static IReadOnlyList<(string Label, byte[] Json)> JsonValues { get; } =
    [
        .. HostileJsonValues.Concat(["false", "\"fuzz\"", "9223372036854775808"]).Select(v => (Class(v), Utf8(v))),
        .. HostileStrings.Where(v => !char.IsSurrogate(v.FirstOrDefault()))
            .Select(v => ("text:" + Label(v), Utf8(System.Text.Json.JsonSerializer.Serialize(v)))),
        ("utf16:lone high surrogate", Utf8("\"\\ud800\"")),
        ("utf16:lone low surrogate", Utf8("\"a\\udfffb\"")),
        ("utf16:reversed pair", Utf8("\"\\udc00\\ud800\"")),
        ("utf8:0xFF byte", [0x22, 0x61, 0xFF, 0x22]),
        ("utf8:overlong slash", [0x22, 0xC0, 0xAF, 0x22]),
        ("utf8:encoded surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22]),
        ("utf8:truncated sequence", [0x22, 0xE2, 0x82, 0x22]),
        ("nonfinite:\"-Infinity\"", Utf8("\"-Infinity\"")),
        ("nonfinite:1e999", Utf8("1e999")),
        ("nonfinite:\"1e999\"", Utf8("\"1e999\"")),
        ("huge:array of 10000", Utf8("[" + string.Join(',', Enumerable.Repeat("1", 10_000)) + "]")),
        ("huge:object of 2000 members", Utf8("{" + string.Join(',', Enumerable.Range(0, 2000).Select(i => $"\"k{i}\":{i}")) + "}")),
        ("deep:arrays 200", Utf8(new string('[', 200) + new string(']', 200))),
        ("deep:objects 40", Utf8(string.Concat(Enumerable.Repeat("{\"a\":", 40)) + "1" + new string('}', 40))),
        ("traversal:../", Utf8("\"../../../../etc/passwd\"")),
        ("traversal:..\\", Utf8("\"..\\\\..\\\\windows\\\\win.ini\"")),
        ("traversal:%2e%2e", Utf8("\"%2e%2e%2f%2e%2e%2fetc%2fpasswd\"")),
        ("traversal:....//", Utf8("\"....//....//etc/passwd\"")),
        ("text:whitespace", Utf8("\" \\t\"")),
    ];

    /// <summary>Members to add to a JSON object: an unknown name, and names that are not valid text.</summary>
    public static IReadOnlyList<(string Label, byte[] Member)> UnknownMembers { get; } =
    [
        ("unknown:field", Utf8("\"fuzzUnknownField\":1")),
        ("unknown:lone surrogate name", Utf8("\"\\ud800\":1")),
        ("unknown:invalid UTF-8 name", [0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31]),
        ("unknown:empty name", Utf8("\"\":1")),
    ];

    /// <summary>Query values, percent-encoded: the route values and what only a query carries.</summary>
    public static IReadOnlyList<string> QueryValues { get; } =
    [
        .. RouteValues, "", "abc", "1.5", "true", "Infinity", "1e999", "-9223372036854775809", "%FF", "%C0%AF", "../../etc/passwd",
    ];

    /// <summary>
    /// Header values, one character per byte (sent as Latin-1): invalid UTF-8, an encoded surrogate, UTF-8 text,
    /// and one line past Kestrel's 32 KB header limit.
    /// </summary>
    public static IReadOnlyList<string> HeaderValues { get; } =
    [
        "", " ", "NaN", "-1", "../../etc/passwd", "%00", new string('k', 5000), new string('k', 40_000),
        Encoding.Latin1.GetString(Encoding.UTF8.GetBytes("名前🚀")), "\u00ff\u00fe", "\u00ed\u00a0\u0080",
    ];

    /// <summary>Media types that claim JSON but cannot be read as the body that follows, or claim something else.</summary>
    public static IReadOnlyList<string> ContentTypes { get; } =
    [
        "application/json; charset=utf-16", "application/json; charset=bogus", "application/json;;;=", "application/*", "text/plain",
        "multipart/form-data", "application/x-www-form-urlencoded",
    ];

    /// <summary>Raw CSV cells: non-finite and out-of-range numbers, invalid UTF-8, control characters, formulas, a 100 KB cell.</summary>
    public static IReadOnlyList<(string Label, byte[] Cell)> CsvCells { get; } =
    [
        ("nonfinite:NaN", Utf8("NaN")),
        ("nonfinite:Infinity", Utf8("Infinity")),
        ("nonfinite:-Infinity", Utf8("-Infinity")),
        ("nonfinite:1e999", Utf8("1e999")),
        ("nonfinite:-1e309", Utf8("-1e309")),
        ("huge:100 KB cell", Utf8(new string('x', 100_000))),
        ("huge:30 digits", Utf8("123456789012345678901234567890")),
        ("utf8:0xFF byte", [0x61, 0xFF]),
        ("utf8:encoded surrogate", [0xED, 0xA0, 0x80]),
        ("utf8:overlong slash", [0xC0, 0xAF]),
        ("text:NUL", [0x00]),
        ("text:unbalanced quote", Utf8("\"abc")),
        ("text:formula", Utf8("=cmd|' /C calc'!A0")),
        ("traversal:../", Utf8("../../etc/passwd")),
        ("type:empty", []),
        ("type:true", Utf8("true")),
        ("type:word", Utf8("fuzz")),
    ];

    /// <summary>Broken multipart bodies (content type, body, what it is) around one part named <paramref name="field"/>.</summary>
    public static IEnumerable<(string ContentType, byte[] Body, string Case)> MultipartBodies(string field, byte[] content)
    {
        const string type = "multipart/form-data; boundary=fuzz";
        var head = $"--fuzz\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"part.csv\"\r\nContent-Type: text/csv\r\n\r\n";
        byte[] Part(string headers) => [.. Utf8(headers), .. content];
        var close = Utf8("\r\n--fuzz--\r\n");
        yield return (type, Part(head), "multipart:unterminated (no closing boundary)");
        yield return (type, [.. Part(head), .. Utf8("\r\n--fuzz")], "multipart:cut after the boundary");
        yield return (type, Utf8($"--fuzz\r\nContent-Disposition: form-data; name=\"{field}\""), "multipart:part headers cut off");
        yield return (type, [], "multipart:empty body");
        yield return (type, Utf8("--fuzz--\r\n"), "multipart:no parts");
        yield return ("multipart/form-data", [.. Part(head), .. close], "multipart:no boundary parameter");
        yield return ("multipart/form-data; boundary=other", [.. Part(head), .. close], "multipart:boundary mismatch");
        var longBoundary = new string('b', 200);
        yield return ("multipart/form-data; boundary=" + longBoundary, Utf8($"--{longBoundary}--\r\n"), "multipart:boundary over 70 chars");
        yield return (type, [
            .. Part(
            head.Replace("part.csv", new string('n', 100_000), StringComparison.Ordinal)), .. close
        ], "multipart:100 KB header line");
        yield return (type, [
            .. Part(
            head.Replace("part.csv", "../../../etc/passwd", StringComparison.Ordinal)), .. close
        ], "multipart:traversal file name");
        var encodedName = head.Replace("part.csv\"", "x\"; filename*=UTF-8''%FF%FE%ED%A0%80", StringComparison.Ordinal);
        yield return (type, [.. Utf8(encodedName), .. content, .. close], "multipart:invalid encoded file name");
        yield return (type, [
            .. Utf8(
            "--fuzz\r\nContent-Type: text/csv\r\n\r\n"), .. content, .. close
        ], "multipart:part without Content-Disposition");
        yield return (type, [.. Part(head), .. Utf8("\r\n"), .. Part(head), .. close], "multipart:two file parts");
        yield return (type, [.. Part(head), .. new byte[] { 0xFF, 0xFE, 0x00 }, .. close], "multipart:invalid UTF-8 content");
    }

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
        yield return (json, Utf8(
            string.Concat(Enumerable.Repeat("[", 5000)) + string.Concat(Enumerable.Repeat("]", 5000))), "deep nesting");
        yield return (json, Utf8("{\"name\":\"a\",\"name\":\"b\"}"), "duplicate keys");
        yield return (json, Utf8("{\"rows\":[" + string.Join(',', Enumerable.Repeat("{\"a\":1}", 200_000)) + "]}"), "oversized batch");
        yield return ("text/plain", Utf8("{\"name\":\"x\"}"), "wrong content type");
        yield return ("application/xml", Utf8("<name>x</name>"), "xml");
        yield return ("multipart/form-data; boundary=zzz", Utf8(
            "--zzz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n{\r\n--zzz--"), "broken multipart");
        yield return ("text/csv", Utf8("a,b\n\"unbalanced,2\n"), "unbalanced CSV");

        // Type confusion: every field at once, set to one hostile value.
        yield return (json, Utf8(Everywhere(fields, "null")), "nulls everywhere");
        foreach (var value in HostileJsonValues)
        {
            yield return (json, Utf8(Everywhere(fields, value)), $"every field = {value}");
        }

        foreach (var value in HostileStrings)
        {
            yield return (json, Utf8(
                Everywhere(fields, System.Text.Json.JsonSerializer.Serialize(value))), $"every field = string of {value.Length}");
        }

        var hostileArray = "["
            + string.Join(',', HostileStrings.Where(v => v.Length < 100).Select(v => System.Text.Json.JsonSerializer.Serialize(v)))
            + "]";
        yield return (json, Utf8(Everywhere(fields, hostileArray)), "every field = array of hostile strings");
    }

    private static string Everywhere(IReadOnlyList<string> fields, string value)
        => "{" + string.Join(',', fields.Select(f => $"\"{f}\":{value}")) + "}";

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static string Class(string json) => json switch
    {
        "null" or "true" or "false" or "-1" or "0" or "1.5" or "[]" or "{}" or "[null]" or "\"fuzz\"" => "type:" + json,
        "\"NaN\"" or "\"Infinity\"" or "1e309" or "-1e309" => "nonfinite:" + json,
        _ when json.StartsWith('"') => "text:" + json,
        _ => "huge:" + json,
    };

    private static string Label(string value)
        => value.Length > 20 ? $"{value.Length} chars" : value.Replace("\0", "\\0", StringComparison.Ordinal);
}
